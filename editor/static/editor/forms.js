// Config forms generated from a node type's JSON Schema (msgspec's), so a custom node needs no form code.
// buildForm(schema, config, t, onChange) -> {element, value(), check()}; value() is the config object.
// Each field knows its config path (data-path) so server validation problems can be shown next to it.

const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;
const UNITS = [["M", "minutes"], ["H", "hours"], ["D", "days"]];
export const FIELD_PATHS = [
  "member.name", "member.points", "member.total_spend", "member.order_count", "member.grade",
  "member.stage", "member.channel", "member.tags", "member.attributes.city", "event.type",
  "event.channel", "event.group", "event.data.amount", "event.data.product", "run.vars.",
];
const PLACEHOLDERS = ["{{ member.name }}", "{{ member.points }}", "{{ group.name }}", "{{ event.data.product }}"];
// Choices said through a message of their own: a comparison's `gte` reads 不少于 / at least ("op:gte"),
// while the value stored stays the id.
const CHOICE_WORDS = { "comparison-op": "op:" };

// The flows there are, as {id, name}: offered wherever a setting names a flow (format "flow-id").
let flows = [];
export function offerFlows(list) {
  flows = list || [];
}

// The community data there is (groups, staff, tags, content items): offered wherever a setting names
// one — by format ("content-id") or by the setting's name (`groups`, `staff`, `tags_any`, ...). Free
// entry stays possible for things not stored yet.
let community = { groups: [], staff: [], tags: [], content: [] };
export function offerCommunity(data) {
  community = { ...community, ...(data || {}) };
}
const PICKED_BY_NAME = {
  groups: "groups", group: "groups", staff: "staff",
  tags: "tags", tags_all: "tags", tags_any: "tags", tags_none: "tags",
};
function suggestionsFor(schema, path) {
  if (schema.format === "content-id") return community.content.map((c) => ({ value: c.id, label: c.title }));
  const kind = PICKED_BY_NAME[String(path || "").split(".").pop()];
  if (!kind) return null;
  return community[kind].map((item) => ({
    value: item.id ?? item.name,
    label: [item.name ?? item.title ?? "", item.fill].filter(Boolean).join(" · "),
  }));
}
function datalist(id, suggestions) {
  return el("datalist", { id }, ...suggestions.map((s) => el("option", { value: s.value, label: s.label || s.value })));
}

// What a content item sends, shown under its picker (text, or the card / file it carries).
function contentPreview(id) {
  const item = community.content.find((c) => c.id === id);
  if (!item) return "";
  const part = item.media?.name || item.media?.url || item.link?.title || item.miniprogram?.title || "";
  return [`${item.title} · ${item.kind}`, item.text || "", part].filter(Boolean).join(" — ");
}

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

// An element with attributes (`text` its text, `on…` listeners) and children: every DOM piece the
// editor builds goes through here.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

export function resolve(schema, root) {
  let current = schema || {};
  for (let depth = 0; current.$ref && depth < 20; depth++) {
    current = root.$defs?.[current.$ref.split("/").pop()] || {};
  }
  return current;
}

// A field's schema without the `null` alternative; `optional` tells whether null was allowed.
function unwrap(schema, root) {
  const resolved = resolve(schema, root);
  if (!resolved.anyOf) return { schema: resolved, optional: false };
  const variants = resolved.anyOf.map((s) => resolve(s, root)).filter((s) => s.type !== "null");
  const optional = variants.length < resolved.anyOf.length;
  // Prefer a list (e.g. `where`: one comparison or a list of them) since it holds the other case too.
  const chosen = variants.find((s) => s.type === "array") || variants[0] || {};
  return { schema: { default: resolved.default, ...chosen }, optional };
}

export function humanize(name) {
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function problemsOf(schema, value, required, t) {
  const empty = value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length);
  if (empty) return required ? [t("This field is required")] : [];
  const found = [];
  if (typeof value === "string") {
    if (schema.minLength && value.length < schema.minLength) found.push(t("Too short"));
    if (schema.maxLength && value.length > schema.maxLength) found.push(t("At most {n} characters", { n: schema.maxLength }));
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) found.push(t("Not in the expected format"));
    if (schema.format === "duration" && !DURATION.test(value)) found.push(t("Not a duration"));
  }
  if (typeof value === "number") {
    if (schema.type === "integer" && !Number.isInteger(value)) found.push(t("Must be a whole number"));
    if (schema.minimum !== undefined && value < schema.minimum) found.push(t("At least {n}", { n: schema.minimum }));
    if (schema.maximum !== undefined && value > schema.maximum) found.push(t("At most {n}", { n: schema.maximum }));
  }
  if (Array.isArray(value) && schema.minItems && value.length < schema.minItems) {
    found.push(t("At least {n} entries", { n: schema.minItems }));
  }
  return found;
}

// A plain value typed by the operator: numbers, true/false and JSON lists are read as such.
function parseLoose(text) {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  if (/^-?\d+(\.\d+)?$/.test(trimmed) || /^(true|false|null)$/.test(trimmed) || /^[[{"]/.test(trimmed)) {
    try { return JSON.parse(trimmed); } catch { /* keep the text */ }
  }
  return text;
}

function tagsWidget(id, value, onChange, t, suggestions = null) {
  let tags = Array.isArray(value) ? [...value] : [];
  const list = el("span", { class: "qf-tags" });
  const listId = suggestions?.length ? nextId("choices") : null;
  const input = el("input", { id, type: "text", class: "qf-tag-input", placeholder: t("Type, then Enter"), autocomplete: "off", list: listId });
  const draw = () => {
    list.replaceChildren(...tags.map((tag, index) => el("span", { class: "qf-tag" }, tag,
      el("button", { type: "button", class: "qf-tag-remove", "aria-label": t("Remove {tag}", { tag }), text: "×",
        onclick: () => { tags.splice(index, 1); draw(); onChange(); } }))));
  };
  const commit = () => {
    const fresh = input.value.split(/[,，\n]/).map((s) => s.trim()).filter((s) => s && !tags.includes(s));
    input.value = "";
    if (fresh.length) { tags.push(...fresh); draw(); onChange(); }
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === ",") { event.preventDefault(); commit(); }
    else if (event.key === "Backspace" && !input.value && tags.length) { tags.pop(); draw(); onChange(); }
  });
  input.addEventListener("blur", commit);
  draw();
  return { element: el("span", { class: "qf-tags-box" }, list, input, listId ? datalist(listId, suggestions) : null),
    get: () => (tags.length ? [...tags] : undefined) };
}

function durationWidget(id, value, onChange, t) {
  const match = typeof value === "string" ? DURATION.exec(value) : null;
  let amount = "";
  let unit = "D";
  if (match) {
    const [, d, h, m, s] = match.map((x) => (x === undefined ? 0 : Number(x)));
    const seconds = ((d * 24 + h) * 60 + m) * 60 + s;
    if (seconds % 86400 === 0) [amount, unit] = [seconds / 86400, "D"];
    else if (seconds % 3600 === 0) [amount, unit] = [seconds / 3600, "H"];
    else [amount, unit] = [Math.round(seconds / 60), "M"];
  }
  const number = el("input", { id, type: "number", min: "0", step: "1", value: amount, class: "qf-duration-amount",
    oninput: onChange });
  const select = el("select", { class: "qf-duration-unit", "aria-label": t("Unit"), onchange: onChange },
    ...UNITS.map(([code, name]) => el("option", { value: code, selected: code === unit, text: t(name) })));
  const get = () => {
    if (number.value === "") return undefined;
    const n = Math.max(0, Math.round(Number(number.value)));
    return select.value === "D" ? `P${n}D` : `PT${n}${select.value}`;
  };
  return { element: el("span", { class: "qf-duration" }, number, select), get };
}

function enumChecks(id, options, value, onChange) {
  const chosen = new Set(Array.isArray(value) ? value : []);
  const boxes = options.map((option, index) => {
    const box = el("input", { type: "checkbox", id: index ? `${id}-${index}` : id, value: option, checked: chosen.has(option),
      onchange: onChange });
    return [option, box];
  });
  const element = el("span", { class: "qf-checks" },
    ...boxes.map(([option, box]) => el("label", { class: "qf-check" }, box, ` ${option}`)));
  return { element, get: () => { const v = boxes.filter(([, b]) => b.checked).map(([o]) => o); return v.length ? v : undefined; } };
}

function listOfObjects(id, schema, root, value, onChange, t, path) {
  const itemSchema = resolve(schema.items, root);
  const rows = [];
  const box = el("div", { class: "qf-rows", id });
  const add = (item) => {
    const form = buildObject(itemSchema, root, item || {}, onChange, t, `${path}.${rows.length}`);
    const row = el("div", { class: "qf-row" }, form.element);
    const entry = { form, row };
    row.append(el("button", { type: "button", class: "qf-row-remove", text: t("Remove"),
      onclick: () => { rows.splice(rows.indexOf(entry), 1); row.remove(); onChange(); } }));
    rows.push(entry);
    box.append(row);
  };
  (Array.isArray(value) ? value : value && typeof value === "object" ? [value] : []).forEach(add);
  const addButton = el("button", { type: "button", class: "qf-row-add", text: t("Add"), onclick: () => { add(); onChange(); } });
  return {
    element: el("div", {}, box, addButton),
    get: () => (rows.length ? rows.map((r) => r.form.value()) : undefined),
    check: () => rows.every((r) => r.form.check()),
  };
}

function widgetFor(schema, root, id, value, onChange, t, path) {
  const current = value === undefined ? schema.default ?? undefined : value;
  if (schema.format === "tags" || (schema.type === "array" && resolve(schema.items, root).type === "string" && !resolve(schema.items, root).enum)) {
    return tagsWidget(id, current, onChange, t, suggestionsFor(resolve(schema.items, root), path));
  }
  if (schema.type === "array" && resolve(schema.items, root).enum) {
    return enumChecks(id, resolve(schema.items, root).enum, current, onChange);
  }
  if (schema.type === "array" && resolve(schema.items, root).type === "object") {
    return listOfObjects(id, schema, root, current, onChange, t, path);
  }
  if (schema.enum) {
    const select = el("select", { id, onchange: onChange }, el("option", { value: "", text: "—" }),
      ...schema.enum.map((option) => el("option", { value: JSON.stringify(option), selected: option === current,
        text: t((CHOICE_WORDS[schema.format] || "") + String(option)) })));
    return { element: select, get: () => (select.value === "" ? undefined : JSON.parse(select.value)) };
  }
  if (schema.format === "duration") return durationWidget(id, current, onChange, t);
  if (schema.format === "time-of-day") {
    const input = el("input", { id, type: "time", value: current ?? "", oninput: onChange });
    return { element: input, get: () => input.value || undefined };
  }
  if (schema.type === "boolean") {
    const box = el("input", { id, type: "checkbox", checked: current === true, onchange: onChange });
    return { element: box, get: () => box.checked };
  }
  if (schema.type === "integer" || schema.type === "number") {
    const input = el("input", { id, type: "number", value: current ?? "", min: schema.minimum, max: schema.maximum,
      step: schema.type === "integer" ? "1" : "any", oninput: onChange });
    return { element: input, get: () => (input.value === "" ? undefined : Number(input.value)) };
  }
  if (schema.type === "object") {
    // A group of fields (quiet hours, a frequency cap): left empty, it is left out; once started,
    // its required fields are required.
    const form = buildObject(schema, root, current || {}, onChange, t, path);
    if ((schema.required || []).length) {
      // The * inside mean "needed once the group is used", not "needed now": say so.
      form.element.prepend(el("p", { class: "qf-hint", text: t("Optional: leave it all empty, or fill in every field marked *.") }));
    }
    const filled = () => Object.keys(form.value()).length > 0;
    return { element: form.element, get: () => (filled() ? form.value() : undefined), check: () => !filled() || form.check() };
  }
  if (schema.format === "template") {
    const area = el("textarea", { id, rows: "3", oninput: onChange });
    area.value = current ?? "";
    const insert = PLACEHOLDERS.map((p) => el("button", { type: "button", class: "qf-chip", text: p,
      onclick: () => { area.setRangeText(p, area.selectionStart, area.selectionEnd, "end"); area.focus(); onChange(); } }));
    return { element: el("span", { class: "qf-template" }, area, el("span", { class: "qf-chips" }, ...insert)),
      get: () => area.value || undefined };
  }
  if (schema.type === "string" && schema.format === "content-id") {
    // A content item: picked from the library, with a preview of what it sends.
    const list = nextId("choices");
    const preview = el("div", { class: "qf-hint qf-content-preview", text: contentPreview(current) });
    const input = el("input", { id, type: "text", value: current ?? "", list, autocomplete: "off",
      oninput: () => { preview.textContent = contentPreview(input.value); onChange(); } });
    return { element: el("span", {}, input, datalist(list, suggestionsFor(schema, path)), preview),
      get: () => input.value || undefined };
  }
  const named = schema.type === "string" ? suggestionsFor(schema, path) : null;
  if (named) {
    const list = nextId("choices");
    const input = el("input", { id, type: "text", value: current ?? "", list, oninput: onChange, autocomplete: "off" });
    return { element: el("span", {}, input, datalist(list, named)), get: () => input.value || undefined };
  }
  if (schema.type === "string") {
    const choices = schema.format === "field-path" ? FIELD_PATHS.map((p) => el("option", { value: p }))
      : schema.format === "flow-id" ? flows.map((f) => el("option", { value: f.id, label: f.name || f.id }))
      : null;
    const list = choices ? nextId("choices") : null;
    const input = el("input", { id, type: "text", value: current ?? "", list, oninput: onChange, autocomplete: "off" });
    return { element: el("span", {}, input, choices ? el("datalist", { id: list }, ...choices) : null),
      get: () => input.value || undefined };
  }
  // Any JSON value (e.g. a comparison's `value`): typed as text, read as a number/list when it is one.
  const input = el("input", { id, type: "text", class: "qf-any", oninput: onChange,
    value: current === undefined || current === null ? "" : typeof current === "string" ? current : JSON.stringify(current) });
  return { element: input, get: () => parseLoose(input.value) };
}

export function buildObject(schema, root, config, onChange, t, prefix = "") {
  const properties = schema.properties || {};
  const required = new Set(schema.required || []);
  const fields = [];
  const element = el("div", { class: "qf-object" });
  for (const [name, raw] of Object.entries(properties)) {
    const { schema: field, optional } = unwrap(raw, root);
    const path = prefix ? `${prefix}.${name}` : name;
    const id = nextId("f");
    const errorId = `${id}-error`;
    const error = el("div", { class: "qf-field-error", id: errorId, role: "alert" });
    let widget;
    const changed = () => { check(); onChange(); };
    widget = widgetFor(field, root, id, config[name], changed, t, path);
    const isRequired = required.has(name) && !optional;
    const title = field.title && field.title !== name && !field.$ref ? field.title : humanize(name);
    const label = el("label", { for: id, class: "qf-label" }, t(title), isRequired ? el("span", { class: "qf-required", title: t("required"), text: " *" }) : null);
    const hint = field.description ? el("div", { class: "qf-hint", text: t(field.description) }) : null;
    const wrapper = el("div", { class: "qf-field", "data-path": path }, label, widget.element, hint, error);
    widget.element.querySelectorAll?.("input,select,textarea").forEach((input) => input.setAttribute("aria-describedby", errorId));
    if (widget.element.matches?.("input,select,textarea")) widget.element.setAttribute("aria-describedby", errorId);
    const check = () => {
      const found = problemsOf(field, widget.get(), isRequired, t);
      const nested = widget.check ? widget.check() : true;
      error.textContent = found.join("；");
      wrapper.classList.toggle("qf-invalid", found.length > 0);
      return found.length === 0 && nested;
    };
    fields.push({ name, widget, check, wrapper, error });
    element.append(wrapper);
  }
  if (!fields.length) element.append(el("p", { class: "qf-empty", text: t("This node has no settings.") }));
  return {
    element,
    value() {
      const result = {};
      for (const { name, widget } of fields) {
        const v = widget.get();
        if (v !== undefined) result[name] = v;
      }
      return result;
    },
    check() { return fields.map((f) => f.check()).every(Boolean); },
  };
}

export function buildForm(schema, config, t, onChange) {
  const root = schema || {};
  return buildObject(resolve(root, root), root, config || {}, onChange, t);
}

// Shows server-side problems (path like "config.tags" or "tags") next to their fields.
export function showProblems(container, problems) {
  container.querySelectorAll(".qf-field.qf-server-invalid").forEach((f) => {
    f.classList.remove("qf-server-invalid");
    f.querySelector(":scope > .qf-field-error").textContent = "";
  });
  for (const problem of problems) {
    const path = String(problem.path || "").replace(/^config\.?/, "").replace(/\[(\d+)\]/g, ".$1").replace(/^\$\.?/, "");
    if (!path) continue;
    const field = [...container.querySelectorAll(".qf-field")].find((f) => f.dataset.path === path)
      || [...container.querySelectorAll(".qf-field")].find((f) => path.startsWith(f.dataset.path));
    if (field) {
      field.classList.add("qf-server-invalid");
      field.querySelector(":scope > .qf-field-error").textContent = problem.message;
    }
  }
}
