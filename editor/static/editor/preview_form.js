// The preview's input as a form (issue #15): sample members (name, tags, channel, groups picked from
// the community's own) and sample events (a type from a list, a member by name, a local date and time,
// the data the built-in nodes read). The form edits the input object the preview sends, field by
// field, and keeps whatever else it holds (an event's profile, a member's points), so the JSON behind
// "Advanced (JSON)" and the form can be edited in turn without losing anything.
import { el } from "./forms.js";

// Event types with a meaning to the built-in nodes (DESIGN §6), in the order operators meet them.
const EVENT_TYPES = ["member_joined", "member_left", "contact_added", "contact_deleted", "message", "purchase",
  "coupon_redeemed", "link_clicked", "member_updated"];
const WITH_GROUP = new Set(["member_joined", "member_left", "message"]);
const WITH_CHANNEL = new Set(["member_joined", "contact_added"]);
// The data fields of an event that the built-in nodes read, by type.
const DATA_FIELDS = {
  purchase: [["amount", "number"], ["product", "text"]],
  message: [["text", "text"]],
  contact_added: [["staff", "staff"]],
  contact_deleted: [["staff", "staff"]],
};
const MAX_DAYS = 366;

// ---------- local times in the flow's timezone ----------

function zoneOffset(timezone, utcMs) {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: timezone, hourCycle: "h23", year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(utcMs));
  const part = (type) => Number(parts.find((p) => p.type === type).value);
  const wall = Date.UTC(part("year"), part("month") - 1, part("day"), part("hour"), part("minute"), part("second"));
  return Math.round((wall - utcMs) / 60000);
}

function knownZone(timezone) {
  try { new Intl.DateTimeFormat("en-US", { timeZone: timezone }); return timezone; } catch { return "Asia/Shanghai"; }
}

/** `2026-11-02T10:00` (a wall-clock time in `timezone`) → `2026-11-02T10:00:00+08:00`; null if not one. */
export function localToIso(local, timezone) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local || "");
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi, s || 0);
  if (Number.isNaN(wall)) return null;
  let offset = zoneOffset(timezone, wall);
  offset = zoneOffset(timezone, wall - offset * 60000);
  const sign = offset < 0 ? "-" : "+";
  const hh = String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0");
  const mm = String(Math.abs(offset) % 60).padStart(2, "0");
  return `${local.slice(0, 16)}:${String(s || 0).padStart(2, "0")}${sign}${hh}:${mm}`;
}

/** An ISO 8601 moment → the `YYYY-MM-DDTHH:MM` a local date-time field shows in `timezone`; "" if none. */
export function isoToLocal(iso, timezone) {
  const ms = Date.parse(iso || "");
  if (Number.isNaN(ms)) return "";
  return new Date(ms + zoneOffset(timezone, ms) * 60000).toISOString().slice(0, 16);
}

// ---------- small widgets ----------

// A list of chosen values shown as chips (by their names): picked from `options` ({value, label}), or
// typed when `free` (tags are names; groups are picked, as their ids mean nothing to an operator).
function chips({ id, values, options, free, t, onChange }) {
  let chosen = Array.isArray(values) ? [...values] : [];
  const labelOf = (value) => options.find((o) => o.value === value)?.label || value;
  const list = el("span", { class: "qf-tags" });
  const draw = () => list.replaceChildren(...chosen.map((value, index) => el("span", { class: "qf-tag" }, labelOf(value),
    el("button", { type: "button", class: "qf-tag-remove", text: "×", "aria-label": t("Remove {tag}", { tag: labelOf(value) }),
      onclick: () => { chosen.splice(index, 1); draw(); onChange(chosen); } }))));
  const add = (value) => {
    if (!value || chosen.includes(value)) return;
    chosen.push(value);
    draw();
    onChange(chosen);
  };
  let input;
  if (free) {
    const listId = `${id}-choices`;
    input = el("input", { id, type: "text", class: "qf-tag-input", placeholder: t("Type, then Enter"), list: listId, autocomplete: "off" });
    const commit = () => { const values = input.value.split(/[,，]/).map((s) => s.trim()); input.value = ""; values.forEach(add); };
    input.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === ",") { event.preventDefault(); commit(); } });
    input.addEventListener("blur", commit);
    input.addEventListener("change", commit);
    draw();
    return el("span", { class: "qf-tags-box" }, list, input, el("datalist", { id: listId }, ...options.map((o) => el("option", { value: o.value }))));
  }
  input = el("select", { id, class: "qf-tag-input" }, el("option", { value: "", text: t("Add…") }),
    ...options.map((o) => el("option", { value: o.value, text: o.label })));
  input.addEventListener("change", () => { add(input.value); input.value = ""; });
  draw();
  return el("span", { class: "qf-tags-box" }, list, input);
}

// A drop-down of `options` ({value, label}); the current value stays offered even when it is not among them.
function choice({ id, value, options, empty, onChange }) {
  const all = value && !options.some((o) => o.value === value) ? [...options, { value, label: value }] : options;
  const select = el("select", { id }, empty === null ? null : el("option", { value: "", text: empty || "—" }),
    ...all.map((o) => el("option", { value: o.value, text: o.label, selected: o.value === value })));
  select.addEventListener("change", () => onChange(select.value));
  return select;
}

// ---------- the form ----------

/**
 * previewForm({t, community, flow, timezone, onChange}) -> {element, get(), set(input), check(), refused()}.
 * `flow()` is the flow as it is now (its triggers and waits name the custom event types offered);
 * `timezone()` its timezone, in which the date-time fields are local.
 * `get()` is the preview's input ({members, events, groups, until, start?, ...}); `check()` marks each
 * invalid field and returns the messages (empty when the input can run).
 */
export function previewForm({ t, community, flow, timezone, onChange }) {
  // The flow's timezone as it is when a field is drawn or read (the flow settings may change it).
  let zone = knownZone(timezone());
  let model = { members: [], events: [], groups: [], until: "P7D" };
  let uid = 0;
  const fieldId = (name) => `qf-sample-${name}-${++uid}`;
  const element = el("div", { class: "qf-sample-form", id: "qf-preview-form" });
  const changed = () => onChange?.(get());
  const dataTitles = { amount: t("Amount"), product: t("Product"), text: t("Message text"), staff: t("Staff") };

  const groupOptions = () => {
    const known = new Map((community.groups || []).map((g) => [g.id, g.name || g.id]));
    for (const g of model.groups || []) if (g && g.id) known.set(g.id, g.name || known.get(g.id) || g.id);
    return [...known].map(([value, label]) => ({ value, label }));
  };
  // A group of the community picked for the first time joins the input, so its tags count (trigger filters).
  const useGroup = (groupId) => {
    if (!groupId || (model.groups || []).some((g) => g.id === groupId)) return;
    const known = (community.groups || []).find((g) => g.id === groupId);
    if (known) model.groups = [...(model.groups || []), { id: known.id, ...(known.name ? { name: known.name } : {}), tags: known.tags || [] }];
  };
  const memberName = (member, index) => member.name || t("Member {n}", { n: index + 1 });
  const memberOptions = () => model.members.map((m, i) => ({ value: m.id, label: memberName(m, i) }));
  const channelOptions = () => {
    const found = new Map((community.channels || []).map((c) => [c.id, c.name || c.id]));
    for (const node of flow().nodes || []) for (const c of node.config?.channels || []) if (!found.has(c)) found.set(c, c);
    return [...found].map(([value, label]) => ({ value, label }));
  };
  const staffOptions = () => (community.staff || []).map((s) => ({ value: s.id, label: s.name || s.id }));
  const eventTypes = () => {
    const types = [...EVENT_TYPES];
    const current = flow();
    const custom = (current.nodes || []).filter((n) => ["trigger.event", "wait.for_event"].includes(n.type)).map((n) => n.config?.event);
    for (const type of [...custom, current.settings?.goal?.event]) if (type && !types.includes(type)) types.push(type);
    // A type's title is the catalogue's `event:<type>`; a custom type is its own name.
    return types.map((type) => { const key = "event:" + type; return { value: type, label: t(key) === key ? type : t(key) }; });
  };

  function field(name, title, control, extra = {}) {
    const controlId = control.id || control.querySelector("input,select,textarea")?.id;
    return el("div", { class: "qf-field", "data-field": name, ...extra },
      el("label", { class: "qf-label", for: controlId, text: title }), control,
      el("div", { class: "qf-field-error", role: "alert" }));
  }
  const text = (value, onInput, attrs = {}) => {
    const input = el("input", { id: fieldId("text"), type: "text", value: value ?? "", autocomplete: "off", ...attrs });
    input.addEventListener("input", () => onInput(input.value));
    return input;
  };
  const set = (object, key, value) => { if (value === "" || value === undefined || value === null) delete object[key]; else object[key] = value; };

  function memberRow(member, index) {
    const name = text(member.name, (value) => {
      set(member, "name", value.trim() ? value : undefined);
      // Events name their member by name: keep their drop-downs in step.
      element.querySelectorAll(`select[data-members] option[value="${CSS.escape(member.id)}"]`).forEach((o) => { o.textContent = memberName(member, index); });
      element.querySelector(".qf-samples-members > summary").textContent = membersTitle();
      changed();
    }, { maxlength: "200" });
    const tags = chips({ id: fieldId("tags"), values: member.tags, free: true, t,
      options: (community.tags || []).map((tag) => ({ value: tag.name, label: tag.name })),
      onChange: (values) => { set(member, "tags", values.length ? [...values] : undefined); changed(); } });
    const channel = choice({ id: fieldId("channel"), value: member.channel, options: channelOptions(),
      onChange: (value) => { set(member, "channel", value); changed(); } });
    const groups = chips({ id: fieldId("groups"), values: member.groups, free: false, t, options: groupOptions(),
      onChange: (values) => { values.forEach(useGroup); set(member, "groups", values.length ? [...values] : undefined); changed(); } });
    return el("div", { class: "qf-sample", "data-member": String(index) },
      el("div", { class: "qf-sample-head" }, el("strong", { text: t("Member {n}", { n: index + 1 }) }),
        el("button", { type: "button", class: "qf-row-remove", text: t("Remove"),
          onclick: () => { model.members.splice(index, 1); render(); changed(); } })),
      field("name", t("Name"), name), field("tags", t("Tags"), tags), field("channel", t("Channel"), channel),
      field("groups", t("Groups"), groups));
  }

  function eventRow(event, index) {
    const type = choice({ id: fieldId("type"), value: event.type, options: eventTypes(), empty: t("Pick a type…"),
      onChange: (value) => {
        set(event, "type", value);
        render(); // the type decides the fields below it
        changed();
        element.querySelector(`[data-event="${index}"] [data-field="type"] select`)?.focus();
      } });
    const member = choice({ id: fieldId("member"), value: event.member, options: memberOptions(), empty: t("Pick a member…"),
      onChange: (value) => { set(event, "member", value); changed(); } });
    member.dataset.members = "";
    const at = el("input", { id: fieldId("at"), type: "datetime-local", step: "60", value: isoToLocal(event.at, zone) });
    at.addEventListener("input", () => { event.at = localToIso(at.value, zone) ?? ""; changed(); });
    const parts = [field("type", t("Event type"), type), field("member", t("Member"), member),
      field("at", t("Time"), at, { title: zone })];
    if (WITH_GROUP.has(event.type) || event.group) {
      parts.push(field("group", t("Group"), choice({ id: fieldId("group"), value: event.group, options: groupOptions(),
        onChange: (value) => { useGroup(value); set(event, "group", value); changed(); } })));
    }
    if (WITH_CHANNEL.has(event.type) || event.channel) {
      parts.push(field("channel", t("Channel"), choice({ id: fieldId("channel"), value: event.channel, options: channelOptions(),
        onChange: (value) => { set(event, "channel", value); changed(); } })));
    }
    for (const [key, kind] of DATA_FIELDS[event.type] || []) {
      const data = () => { event.data = event.data && typeof event.data === "object" ? event.data : {}; return event.data; };
      const current = event.data?.[key];
      let control;
      if (kind === "staff") {
        control = choice({ id: fieldId(key), value: current, options: staffOptions(), onChange: (value) => { set(data(), key, value); changed(); } });
      } else if (kind === "number") {
        control = el("input", { id: fieldId(key), type: "number", min: "0", step: "any", value: current ?? "" });
        // Kept as typed until it is a number, so the check can name the field.
        control.addEventListener("input", () => {
          const value = control.value.trim();
          set(data(), key, value === "" ? undefined : Number.isFinite(Number(value)) ? Number(value) : value);
          changed();
        });
      } else {
        control = text(current, (value) => { set(data(), key, value); changed(); });
      }
      parts.push(field(`data.${key}`, dataTitles[key], control));
    }
    return el("div", { class: "qf-sample", "data-event": String(index) },
      el("div", { class: "qf-sample-head" }, el("strong", { text: t("Event {n}", { n: index + 1 }) }),
        el("button", { type: "button", class: "qf-row-remove", text: t("Remove"),
          onclick: () => { model.events.splice(index, 1); render(); changed(); } })),
      ...parts);
  }

  function spanFields() {
    const days = /^P(\d+)D$/.exec(model.until || "")?.[1] ?? "";
    const until = el("input", { id: fieldId("until"), type: "number", min: "1", max: String(MAX_DAYS), step: "1", value: days });
    // Kept as typed (`P1.5D`) until it is a whole number of days, so the check can name the field.
    until.addEventListener("input", () => { model.until = until.value === "" ? "" : `P${until.value.trim()}D`; changed(); });
    const start = el("input", { id: fieldId("start"), type: "datetime-local", step: "60", value: isoToLocal(model.start, zone) });
    start.addEventListener("input", () => { set(model, "start", start.value ? localToIso(start.value, zone) ?? "" : undefined); changed(); });
    return el("fieldset", { class: "qf-samples-span" }, el("legend", { text: t("Simulated time") }),
      field("until", t("Days to simulate"), until),
      field("start", t("Start (optional)"), start, { title: zone }),
      el("p", { class: "qf-hint", text: t("Empty: from the first event. A flow started by a schedule needs a start.") }));
  }

  // Members and events fold away (a preview has tens of them), so the run button and its result stay
  // in view; each remembers whether the operator opened it.
  const opened = { members: false, events: false };
  function section(name, title, ...children) {
    const box = el("details", { class: `qf-samples-${name}`, open: opened[name] }, el("summary", { text: title }), ...children);
    box.addEventListener("toggle", () => { opened[name] = box.open; });
    return box;
  }
  const membersTitle = () => {
    const all = model.members.map(memberName);
    const names = all.slice(0, 4).join(t("moment separator")) + (all.length > 4 ? "…" : "");
    return t("Sample members ({n}): {names}", { n: model.members.length, names });
  };

  function render() {
    zone = knownZone(timezone());
    const members = model.members.map(memberRow);
    const events = model.events.map(eventRow);
    element.replaceChildren(
      section("members", membersTitle(), ...members,
        el("button", { type: "button", class: "qf-row-add", id: "qf-sample-add-member", text: t("Add member"), onclick: () => {
          let n = model.members.length + 1;
          while (model.members.some((m) => m.id === `m-sample-${n}`)) n++;
          model.members.push({ id: `m-sample-${n}`, name: "" });
          render();
          changed();
          element.querySelector(`[data-member="${model.members.length - 1}"] [data-field="name"] input`)?.focus();
        } })),
      section("events", t("Sample events ({n})", { n: model.events.length }), ...events,
        el("button", { type: "button", class: "qf-row-add", id: "qf-sample-add-event", text: t("Add event"), onclick: () => {
          let n = model.events.length + 1;
          while (model.events.some((e) => e.id === `sample-e-${n}`)) n++;
          const last = model.events[model.events.length - 1];
          const at = last?.at || localToIso(new Date(Date.now() + zoneOffset(zone, Date.now()) * 60000).toISOString().slice(0, 16), zone);
          model.events.push({ id: `sample-e-${n}`, type: "message", member: model.members[0]?.id || "", at, data: {} });
          render();
          changed();
          element.querySelector(`[data-event="${model.events.length - 1}"] [data-field="type"] select`)?.focus();
        } })),
      spanFields());
  }

  function get() {
    const copy = structuredClone(model);
    copy.events = copy.events.map((event) => {
      const clean = { ...event };
      if (!clean.member) delete clean.member;
      return clean;
    });
    return copy;
  }

  function setInput(input) {
    const given = Array.isArray(input) ? { events: input } : input && typeof input === "object" ? input : {};
    const list = (value) => (Array.isArray(value) ? value.filter((x) => x && typeof x === "object" && !Array.isArray(x)) : []);
    model = { ...structuredClone(given), members: list(given.members), events: list(given.events), groups: list(given.groups) };
    if (model.until === undefined) model.until = "P7D";
    // Members named only by events (a hand-written sample) are listed too, named by the profile given.
    for (const event of model.events) {
      if (event.member && !model.members.some((m) => m.id === event.member)) {
        const name = event.profile?.name;
        model.members.push({ id: String(event.member), ...(typeof name === "string" ? { name } : {}) });
      }
    }
    render();
  }

  // Marks each invalid field and returns the messages, each naming its item and field.
  function check() {
    const messages = [];
    element.querySelectorAll(".qf-field").forEach((f) => { f.classList.remove("qf-invalid"); f.querySelector(".qf-field-error").textContent = ""; });
    const mark = (selector, message) => {
      const box = element.querySelector(selector);
      if (box) {
        box.classList.add("qf-invalid");
        box.querySelector(".qf-field-error").textContent = message;
        const folded = box.closest("details");
        if (folded && !folded.open) folded.open = true;
      }
      messages.push(message);
    };
    model.events.forEach((event, index) => {
      const row = `[data-event="${index}"]`;
      const item = t("Sample event");
      const n = index + 1;
      if (!event.type) mark(`${row} [data-field="type"]`, t("{item} {n}: {field} is required", { item, n, field: t("Event type") }));
      if (!event.member) mark(`${row} [data-field="member"]`, t("{item} {n}: {field} is required", { item, n, field: t("Member") }));
      else if (!model.members.some((m) => m.id === event.member)) {
        mark(`${row} [data-field="member"]`, t("{item} {n}: {field} is not among the sample members", { item, n, field: t("Member") }));
      }
      if (!event.at) mark(`${row} [data-field="at"]`, t("{item} {n}: {field} is required", { item, n, field: t("Time") }));
      else if (Number.isNaN(Date.parse(event.at))) mark(`${row} [data-field="at"]`, t("{item} {n}: {field} is not a valid date and time", { item, n, field: t("Time") }));
      const amount = event.data?.amount;
      if (event.type === "purchase" && (amount === undefined || typeof amount !== "number" || amount < 0)) {
        mark(`${row} [data-field="data.amount"]`, t("{item} {n}: {field} must be a number of 0 or more", { item, n, field: t("Amount") }));
      }
    });
    // A number of days, as the form writes it; any other `until` (a moment, from the JSON) the server checks.
    const days = /^P(.*)D$/.exec(model.until || "")?.[1];
    if (!model.until || (days !== undefined && !(/^\d+$/.test(days) && Number(days) >= 1 && Number(days) <= MAX_DAYS))) {
      mark('[data-field="until"]', t("{field} must be a whole number from 1 to {max}", { field: t("Days to simulate"), max: MAX_DAYS }));
    }
    if (model.start !== undefined && Number.isNaN(Date.parse(model.start))) {
      mark('[data-field="start"]', t("{field} is not a valid date and time", { field: t("Start (optional)") }));
    }
    return messages;
  }

  // A refusal from the server names a field (`events[2].at`): shown at that field, in the operator's words.
  function refused(path, reason) {
    const found = /^(events|members)\[(\d+)\](?:\.(data\.)?(\w+))?/.exec(path || "");
    if (!found) return null;
    const [, kind, index, data, key] = found;
    const row = kind === "events" ? `[data-event="${index}"]` : `[data-member="${index}"]`;
    const item = kind === "events" ? t("Sample event") : t("Sample member");
    const name = key ? `${data || ""}${key}` : "";
    const box = element.querySelector(name ? `${row} [data-field="${name}"]` : row);
    const title = box?.querySelector?.(".qf-label")?.textContent || name;
    // The server's reason may start with the event and the field (`event 0: at: …`): the words before it say them.
    const said = String(reason || "").replace(/^event \d+:\s*/, "").replace(new RegExp(`^${key || "\\b"}:\\s*`), "");
    const message = t("{item} {n}: {field} was refused: {reason}", { item, n: Number(index) + 1, field: title, reason: said });
    if (box?.classList.contains("qf-field")) {
      box.classList.add("qf-invalid");
      box.querySelector(".qf-field-error").textContent = message;
      box.closest("details")?.setAttribute("open", "");
    }
    return message;
  }

  render();
  return { element, get, set: setInput, check, refused };
}
