// The flow editor: a drawflow canvas over the flow document of DESIGN §4, talking to the JSON API.
// The page embeds the draft (with positions), the UI messages and the settings as JSON; node types
// and their config schemas come from GET /api/nodes.
import { buildForm, el, offerCommunity, offerFlows, showProblems } from "./forms.js";
import { sampleInput } from "./samples.js";
import { goalHeadline, nodeConversion, portConversion, splitSentences } from "./goals.js";
import { testSendBox } from "./testsend.js";
import { changesPart, reachPart } from "./publish.js";
import { previewForm } from "./preview_form.js";
import { closeMenu, inMenu, openMenu } from "./context_menu.js";

const readJson = (id) => JSON.parse(document.getElementById(id).textContent);
const page = readJson("qf-page");
offerFlows(page.flows);
offerCommunity(page.community);
const messages = readJson("qf-messages");
export const t = (text, values) => {
  const translated = messages[text] || text;
  return values ? translated.replace(/\{(\w+)\}/g, (_, k) => (k in values ? String(values[k]) : `{${k}}`)) : translated;
};

// Node icons are names from the vendored lucide sprite; a few older (feather) names map to their new ones.
const ICON_ALIASES = { "x-circle": "circle-x", edit: "pencil", "alert-circle": "circle-alert", "check-circle": "circle-check" };
const SPRITE = "/static/vendor/lucide/sprite.svg";
const iconHtml = (name) => {
  const id = ICON_ALIASES[name] || (/^[a-z0-9-]+$/.test(name || "") ? name : "circle");
  return `<svg class="qf-icon" aria-hidden="true" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><use href="${SPRITE}#${id}"></use></svg>`;
};
function icon(name) {
  const span = document.createElement("span");
  span.className = "qf-node-icon";
  span.innerHTML = iconHtml(name);
  return span;
}
const KINDS = ["trigger", "condition", "wait", "action"];
const KIND_TITLES = { trigger: "Triggers", condition: "Conditions", wait: "Waits", action: "Action nodes" };
const PORT_TITLES = { next: "next", true: "yes", false: "no", event: "event", timeout: "timeout", full: "full",
  blocked: "blocked", default: "default", done: "done", skipped: "skipped", overdue: "overdue" };
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$/;
const FLOW_SETTINGS_SCHEMA = {
  type: "object", required: ["name", "timezone"], properties: {
    name: { type: "string", minLength: 1, maxLength: 200, title: "Flow name" },
    description: { type: "string", maxLength: 2000, title: "Description" },
    timezone: { type: "string", minLength: 1, title: "Timezone" },
    reentry: { type: "string", pattern: "^(once|always|P.+)$", title: "Re-entry", default: "once",
      description: "once, always, or a waiting time such as P30D" },
    quiet_hours: { anyOf: [{ type: "null" }, { type: "object", title: "Quiet hours", required: ["start", "end"], properties: {
      start: { type: "string", format: "time-of-day", title: "From" }, end: { type: "string", format: "time-of-day", title: "Until" } } }] },
    frequency_cap: { anyOf: [{ type: "null" }, { type: "object", title: "Frequency cap", required: ["messages", "per"], properties: {
      messages: { type: "integer", minimum: 1, title: "Messages" }, per: { type: "string", format: "duration", title: "Per" } } }] },
    // DESIGN §16: what the flow is for, and the share of members held out to measure it against.
    goal: { anyOf: [{ type: "null" }, { type: "object", title: "Goal", required: ["event", "within"], properties: {
      event: { type: "string", minLength: 1, maxLength: 200, title: "Goal event", description: "e.g. purchase" },
      where: { type: "array", title: "Only when", items: { type: "object", required: ["field"], properties: {
        field: { type: "string", format: "field-path" },
        op: { enum: ["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"], format: "comparison-op", default: "eq" }, value: {} } } },
      within: { type: "string", format: "duration", title: "Goal window" },
      exit: { type: "boolean", default: true, title: "Leave the flow when reached" } } }] },
    holdout: { type: "integer", minimum: 0, maximum: 50, default: 0, title: "Control group (%)",
      description: "members held out of the flow to measure the goal against" },
    calendar: { type: "string", enum: ["cn", "none"], title: "Working-day calendar",
      description: "Empty: the community's calendar" },
    priority: { type: "integer", minimum: 1, maximum: 10, default: 5, title: "Priority",
      description: "Under the touch budget, higher goes first (1–10)" },
    over_budget: { type: "string", enum: ["wait", "skip"], default: "wait", title: "Over the touch budget" },
  },
};

const $ = (selector) => document.querySelector(selector);
const escapeHtml = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const state = {
  types: new Map(),
  document: readJson("qf-flow"),
  df: null,
  loading: false,
  selected: null, // drawflow id
  problems: [],
  history: [],
  future: [],
  form: null,
  overlay: {}, // node id -> text shown in its badge (preview counts or live stats)
  portRates: {}, // node id -> {port: conversion text} shown beside its output ports (live stats)
  portCounts: {}, // node id -> {port: members who left by it}, drawn on its connections (live stats)
  liveVersion: null, // the version whose live figures are shown; null: the live one ("all": every version)
  // Each node's config, by drawflow id. Drawflow turns every key of a node's data into a CSS
  // selector (`[df-config-body-first name]`), which throws on keys like "first name" or "a.b"; so
  // drawflow holds only what it draws (id, type, label, ports) and the config lives here.
  configs: new Map(),
  picked: new Set(), // drawflow ids Shift+clicked besides the selected node: copied together
};

// ---------- the API ----------

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers[page.csrf_header] = page.csrf_token;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  return { ok: response.ok, status: response.status, data };
}

// A problem's message in the page's language (the server says each one in zh and en).
const said = (p) => p[page.lang] || p.message;

// Problems come as a list, or inside {problems: [...]} / litestar's {extra: [...]}.
function problemsIn(data) {
  if (Array.isArray(data)) return data.filter((p) => p && typeof p === "object" && "message" in p);
  if (data && typeof data === "object") {
    for (const key of ["problems", "extra", "detail"]) {
      const found = problemsIn(data[key]);
      if (found.length) return found;
    }
    if (typeof data.detail === "string") return [{ node: null, path: "", message: data.detail }];
  }
  return [];
}

function say(text, kind = "info") {
  const status = $("#qf-status");
  status.textContent = text;
  status.dataset.kind = kind;
}

// ---------- node types and ports ----------

function typeOf(type) {
  return state.types.get(type) || { type, kind: "action", title: { zh: type, en: type }, icon: "circle", ports: ["next"], schema: {} };
}
const titleOf = (nodeType) => nodeType.title?.[page.lang] || nodeType.title?.en || nodeType.type;

// Ports that depend on the config (switch cases, split branches) come from the server: on load in the
// page, and after each change of such a node's config.
function portsFor(type, nodeId) {
  const nodeType = typeOf(type);
  return nodeType.dynamic_ports ? page.ports?.[nodeId] || [] : nodeType.ports || [];
}

const portTimers = {};
function refreshPorts(dfId) {
  clearTimeout(portTimers[dfId]);
  portTimers[dfId] = setTimeout(async () => {
    const node = state.df.getNodeFromId(dfId);
    if (!node) return;
    const result = await api("POST", "/editor/ports", { type: node.data.type, config: state.configs.get(dfId) || {} });
    if (result.ok && Array.isArray(result.data?.ports)) setPorts(dfId, result.data.ports);
  }, 250);
}

// ---------- drawing nodes ----------

function nodeHtml(data) {
  const nodeType = typeOf(data.type);
  const title = data.label || titleOf(nodeType);
  const badge = state.overlay[data.id];
  const problems = state.problems.filter((p) => p.node === data.id);
  return `<div class="qf-node" data-node-id="${escapeHtml(data.id)}">
    <span class="qf-node-icon">${iconHtml(nodeType.icon)}</span>
    <span class="qf-node-text"><span class="qf-node-title">${escapeHtml(title)}</span>
    <span class="qf-node-type">${escapeHtml(titleOf(nodeType))} · ${escapeHtml(data.id)}</span></span>
    ${badge ? `<span class="qf-count" title="${escapeHtml(badge.title)}">${escapeHtml(badge.text)}</span>` : ""}
    ${badge?.split ? `<span class="qf-count-split" title="${escapeHtml(badge.title)}">${escapeHtml(badge.split)}</span>` : ""}
    ${problems.length ? `<span class="qf-problem-mark" title="${escapeHtml(problems.map((p) => said(p)).join("\n"))}">!</span>` : ""}
  </div>`;
}

function nodeElement(dfId) { return document.getElementById(`node-${dfId}`); }

function drawNode(dfId) {
  const node = state.df.getNodeFromId(dfId);
  const element = nodeElement(dfId);
  if (!node || !element) return;
  element.querySelector(".drawflow_content_node").innerHTML = nodeHtml(node.data);
  element.dataset.nodeId = node.data.id;
  element.classList.toggle("qf-has-problem", state.problems.some((p) => p.node === node.data.id));
  element.setAttribute("aria-label", `${node.data.label || titleOf(typeOf(node.data.type))} (${node.data.id})`);
  node.data.ports.forEach((port, index) => {
    const output = element.querySelector(`.output_${index + 1}`);
    if (output) {
      output.dataset.port = port;
      // A lone `next` port needs no caption; named branches do. Live, the port's conversion follows.
      const named = node.data.ports.length > 1 || port !== "next" ? t(PORT_TITLES[port] || port) : "";
      const rate = state.portRates[node.data.id]?.[port];
      const caption = [named, rate].filter(Boolean).join(" ");
      if (caption) output.dataset.portLabel = caption;
      else delete output.dataset.portLabel;
      if (rate) output.dataset.portRate = rate;
      else delete output.dataset.portRate;
      output.title = t(PORT_TITLES[port] || port);
    }
  });
}

function allNodes() {
  return Object.values(state.df.drawflow.drawflow[state.df.module].data);
}
const byNodeId = (id) => allNodes().find((n) => n.data.id === id);

function freshId(type, base = type.split(".").pop().replace(/[^A-Za-z0-9_\-]/g, "_") || "node") {
  const taken = new Set(allNodes().map((n) => n.data.id));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}

function addNode(node) {
  const nodeType = typeOf(node.type);
  const data = { id: node.id, type: node.type, label: node.label || "", ports: portsFor(node.type, node.id) };
  const inputs = nodeType.kind === "trigger" ? 0 : 1;
  const x = node.position?.x ?? 80;
  const y = node.position?.y ?? 80;
  const dfId = state.df.addNode(node.type, inputs, data.ports.length, x, y, `qf-kind-${nodeType.kind}`, data, "");
  state.configs.set(dfId, node.config || {});
  drawNode(dfId);
  const element = nodeElement(dfId);
  element.tabIndex = 0;
  element.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(dfId, true); }
  });
  return dfId;
}

function setPorts(dfId, ports) {
  const node = state.df.getNodeFromId(dfId);
  const old = node.data.ports;
  if (JSON.stringify(old) === JSON.stringify(ports)) return;
  // Keep the connections of ports that keep their name; drawflow numbers outputs, so rebuild them.
  const keep = [];
  old.forEach((port, index) => {
    for (const c of node.outputs[`output_${index + 1}`]?.connections || []) keep.push([port, Number(c.node)]);
  });
  state.loading = true;
  for (let i = old.length; i >= 1; i--) state.df.removeNodeOutput(dfId, `output_${i}`);
  for (let i = 0; i < ports.length; i++) state.df.addNodeOutput(dfId);
  state.df.updateNodeDataFromId(dfId, { ...state.df.getNodeFromId(dfId).data, ports });
  page.ports = { ...page.ports, [node.data.id]: ports };
  for (const [port, target] of keep) {
    const index = ports.indexOf(port);
    if (index >= 0) state.df.addConnection(dfId, target, `output_${index + 1}`, "input_1");
  }
  state.loading = false;
  drawNode(dfId);
}

// ---------- the document ----------

function exportFlow() {
  const nodes = [];
  const edges = [];
  const ids = {};
  const list = allNodes().sort((a, b) => a.id - b.id);
  for (const node of list) ids[node.id] = node.data.id;
  for (const node of list) {
    const entry = { id: node.data.id, type: node.data.type, config: state.configs.get(node.id) || {} };
    if (node.data.label) entry.label = node.data.label;
    entry.position = { x: Math.round(node.pos_x), y: Math.round(node.pos_y) };
    nodes.push(entry);
    node.data.ports.forEach((port, index) => {
      for (const c of node.outputs[`output_${index + 1}`]?.connections || []) {
        const edge = { from: node.data.id, to: ids[c.node] };
        if (port !== "next") edge.port = port;
        edges.push(edge);
      }
    });
  }
  const { nodes: _n, edges: _e, ...rest } = state.document;
  return { ...rest, id: page.flow_id, nodes, edges };
}

function loadFlow(document) {
  state.loading = true;
  state.df.clear();
  state.configs.clear();
  state.document = document;
  const dfIds = {};
  for (const node of document.nodes || []) dfIds[node.id] = addNode(node);
  for (const edge of document.edges || []) {
    const source = dfIds[edge.from];
    const target = dfIds[edge.to];
    if (source === undefined || target === undefined) continue;
    const index = state.df.getNodeFromId(source).data.ports.indexOf(edge.port || "next");
    if (index >= 0 && typeOf(byNodeId(edge.to)?.data.type).kind !== "trigger") {
      state.df.addConnection(source, target, `output_${index + 1}`, "input_1");
    }
  }
  state.loading = false;
  state.selected = null;
  showPanel();
}

// Text stays readable: a flow opens fitted, but never below this zoom (a larger flow is panned instead).
const READABLE_ZOOM = 0.8;

function applyView() {
  const df = state.df;
  df.precanvas.style.transform = `translate(${df.canvas_x}px, ${df.canvas_y}px) scale(${df.zoom})`;
  showZoom();
}

// The zoom control shows the zoom there really is.
function showZoom() {
  $("#qf-zoom-reset").textContent = `${Math.round(state.df.zoom * 100)}%`;
}

// Zoom to `zoom`, keeping the point at the centre of the canvas where it is.
function zoomTo(zoom) {
  const df = state.df;
  const box = $("#drawflow").getBoundingClientRect();
  const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const point = canvasPoint(centre.x, centre.y);
  df.zoom = Math.max(df.zoom_min, Math.min(df.zoom_max, Math.round(zoom * 100) / 100));
  df.zoom_last_value = df.zoom;
  applyView();
  const rect = df.precanvas.getBoundingClientRect();
  df.canvas_x += centre.x - (rect.x + point.x * df.zoom);
  df.canvas_y += centre.y - (rect.y + point.y * df.zoom);
  applyView();
}

// Zoom out (never in, never below READABLE_ZOOM) and scroll so that the flow's top left is in view.
function fitView() {
  const nodes = allNodes();
  const df = state.df;
  if (!nodes.length) { showZoom(); return; }
  const box = $("#drawflow").getBoundingClientRect();
  const minX = Math.min(...nodes.map((n) => n.pos_x));
  const minY = Math.min(...nodes.map((n) => n.pos_y));
  const width = Math.max(...nodes.map((n) => n.pos_x)) + 260 - minX;
  const height = Math.max(...nodes.map((n) => n.pos_y)) + 110 - minY;
  const zoom = Math.max(READABLE_ZOOM, Math.min(1, (box.width - 60) / width, (box.height - 60) / height));
  df.zoom = zoom;
  df.zoom_last_value = zoom;
  df.canvas_x = 0;
  df.canvas_y = 0;
  applyView();
  const origin = df.precanvas.getBoundingClientRect();
  df.canvas_x = box.x + 30 - (origin.x + minX * zoom);
  df.canvas_y = box.y + 40 - (origin.y + minY * zoom);
  applyView();
}

let snapshotTimer = null;
function changed() {
  if (state.loading) return;
  clearTimeout(snapshotTimer);
  // Typing in a field makes many changes; one undo step per pause.
  snapshotTimer = setTimeout(remember, 300);
  $("#qf-dirty").hidden = false;
}

function remember() {
  const current = JSON.stringify(exportFlow());
  if (state.history[state.history.length - 1] !== current) {
    state.history.push(current);
    state.future = [];
    if (state.history.length > 100) state.history.shift();
  }
  // The operator's work survives a failed save, a closed tab or a crash.
  try { localStorage.setItem(backupKey(), current); } catch { /* storage full or off */ }
}
const backupKey = () => `qunflow-draft:${page.flow_id}`;

function undo() {
  clearTimeout(snapshotTimer);
  remember();
  if (state.history.length < 2) return;
  state.future.push(state.history.pop());
  loadFlow(JSON.parse(state.history[state.history.length - 1]));
  say(t("Undone"));
}
function redo() {
  if (!state.future.length) return;
  const next = state.future.pop();
  state.history.push(next);
  loadFlow(JSON.parse(next));
  say(t("Redone"));
}

// ---------- copy, paste, duplicate ----------

// The clipboard is this browser's storage, so a node copied in one flow's editor pastes in another's.
const CLIPBOARD_KEY = "qunflow-clipboard";

function pick(dfId) {
  state.picked.add(dfId);
  nodeElement(dfId)?.classList.add("qf-picked");
}
function clearPicked() {
  state.picked.clear();
  document.querySelectorAll(".qf-picked").forEach((n) => n.classList.remove("qf-picked"));
}

// The chosen nodes (configs, labels, ports, positions) and the edges between them.
function clipOf(dfIds) {
  const chosen = new Set([...dfIds].map((dfId) => state.df.getNodeFromId(dfId)?.data.id).filter(Boolean));
  const flow = exportFlow();
  const ports = Object.fromEntries(allNodes().filter((n) => chosen.has(n.data.id)).map((n) => [n.data.id, n.data.ports]));
  return {
    nodes: flow.nodes.filter((n) => chosen.has(n.id)).map((n) => ({ ...n, ports: ports[n.id] })),
    edges: flow.edges.filter((e) => chosen.has(e.from) && chosen.has(e.to)),
  };
}

function chosenNodes() {
  const chosen = new Set(state.picked);
  if (state.selected !== null) chosen.add(state.selected);
  return chosen;
}

function copyNodes() {
  const chosen = chosenNodes();
  if (!chosen.size) return false;
  try { localStorage.setItem(CLIPBOARD_KEY, JSON.stringify(clipOf(chosen))); } catch { return false; }
  say(t("Copied {count} node(s)", { count: chosen.size }), "ok");
  return true;
}

function clipboard() {
  try { return JSON.parse(localStorage.getItem(CLIPBOARD_KEY) || "null"); } catch { return null; }
}

// `at`: where the clip's top left goes on the canvas (the context menu's spot); else beside the originals.
function pasteNodes(at = null) {
  const clip = clipboard();
  if (!clip?.nodes?.length) return false;
  placeClip(clip, at);
  return true;
}

// Adds the clip's nodes (new ids, shifted down and right, or moved to `at`) and its edges as one undo step.
function placeClip(clip, at = null) {
  clearTimeout(snapshotTimer);
  remember();
  state.loading = true;
  const dfIds = {};
  const spots = clip.nodes.map((node) => ({ x: node.position?.x ?? 80, y: node.position?.y ?? 80 }));
  const shift = at ? { x: at.x - Math.min(...spots.map((p) => p.x)), y: at.y - Math.min(...spots.map((p) => p.y)) } : { x: 40, y: 40 };
  for (const [index, node] of clip.nodes.entries()) {
    const id = freshId(node.type, node.id);
    if (node.ports) page.ports = { ...page.ports, [id]: node.ports };
    const position = { x: Math.round(spots[index].x + shift.x), y: Math.round(spots[index].y + shift.y) };
    dfIds[node.id] = addNode({ ...node, id, config: structuredClone(node.config || {}), position });
  }
  for (const edge of clip.edges || []) {
    const source = dfIds[edge.from];
    const target = dfIds[edge.to];
    if (source === undefined || target === undefined) continue;
    const index = state.df.getNodeFromId(source).data.ports.indexOf(edge.port || "next");
    if (index >= 0) state.df.addConnection(source, target, `output_${index + 1}`, "input_1");
  }
  state.loading = false;
  const added = Object.values(dfIds);
  clearPicked();
  if (added.length) {
    select(added[added.length - 1]);
    added.forEach(pick);
  }
  remember();
  $("#qf-dirty").hidden = false;
  say(t("Pasted {count} node(s)", { count: added.length }), "ok");
}

function duplicateNode(dfId) {
  placeClip(clipOf([dfId]));
}

// ---------- the context menu (context_menu.js) ----------

// A right click, Shift+F10 or the menu key offers what can be done to a node, a connection or the
// empty canvas, each item with the key that does the same. Viewers get only the items that read.
// The runs page has no node filter, so there is no "runs through this node" item yet.

function nodeMenu(dfId) {
  const items = [{ id: "details", text: t("Show details"), run: () => showNodePanel(dfId) }];
  if (!page.can_write) return items;
  items.push({ id: "copy", text: t("Copy"), shortcut: "Ctrl+C", run: () => copyFrom(dfId) },
    { id: "duplicate", text: t("Duplicate"), shortcut: "Ctrl+D", run: () => duplicateNode(dfId) });
  if (typeOf(state.df.getNodeFromId(dfId).data.type).test_send) {
    items.push({ id: "test-send", text: t("Test send"), run: () => showTestSend(dfId) });
  }
  items.push("separator", { id: "delete", text: t("Delete"), shortcut: "Delete", run: () => deleteNode(dfId) });
  return items;
}

function canvasMenu(at) {
  const items = [];
  if (page.can_write && clipboard()?.nodes?.length) items.push({ id: "paste", text: t("Paste"), shortcut: "Ctrl+V", run: () => pasteNodes(at) });
  if (page.can_write) items.push({ id: "auto-layout", text: t("Auto-layout"), run: autoLayout });
  items.push({ id: "fit", text: t("Fit"), run: fitView });
  return items;
}

// Drawflow names a connection's ends in its classes: node_out_node-1 output_2 → node_in_node-3 input_1.
function connectionMenu(connection) {
  const end = (prefix) => [...connection.classList].find((c) => c.startsWith(prefix))?.slice(prefix.length);
  const [from, to] = [end("node_out_node-"), end("node_in_node-")];
  const output = [...connection.classList].find((c) => /^output_\d+$/.test(c));
  const input = [...connection.classList].find((c) => /^input_\d+$/.test(c));
  return [{ id: "delete-connection", text: t("Delete connection"), shortcut: "Delete",
    run: () => state.df.removeSingleConnection(from, to, output, input) }];
}

// The menu for whatever is at `target`, its top left at (x, y) in the window.
function openContextMenu(target, x, y, returnFocus) {
  const onNode = target.closest?.(".drawflow-node");
  const connection = target.closest?.("svg.connection");
  const at = canvasPoint(x, y);
  let items = canvasMenu(at);
  let label = t("Canvas actions");
  if (onNode) {
    const dfId = Number(onNode.id.slice(5));
    if (state.selected !== dfId) select(dfId);
    items = nodeMenu(dfId);
    label = t("Actions for {node}", { node: nodeName(state.df.getNodeFromId(dfId).data.id) });
  } else if (connection && page.can_write) {
    items = connectionMenu(connection);
    label = t("Connection actions");
  }
  openMenu({ items, x, y, label, returnFocus: returnFocus || onNode || $("#drawflow") });
}

// Before drawflow starts: it binds its own right-click handler (a small "×" on the selected node or
// connection) when it does; the one menu is ours.
function startContextMenu(df, container) {
  df.contextmenu = (event) => event.preventDefault();
  container.addEventListener("contextmenu", (event) => {
    event.preventDefault();
    // On Linux the menu opens while the right button is still down, and its release may land on the
    // menu: drawflow's press (dragging a node, the canvas or a new connection) ends here, in place.
    container.dispatchEvent(new MouseEvent("mouseup", { clientX: event.clientX, clientY: event.clientY }));
    openContextMenu(event.target, event.clientX + 2, event.clientY + 2);
  });
  df.on("zoom", closeMenu);
}

// Shift+F10 or the menu key, in the canvas: the focused (else the selected) node's menu, beside it;
// on the canvas without a selected node, the canvas's menu at its top left.
function openContextMenuByKey(target) {
  const element = target.closest(".drawflow-node") || (state.selected !== null ? nodeElement(state.selected) : null);
  if (element) {
    const box = element.getBoundingClientRect();
    openContextMenu(element, box.left + 12, box.bottom + 4, target);
  } else {
    const box = $("#drawflow").getBoundingClientRect();
    openContextMenu($("#drawflow"), box.left + 40, box.top + 40, target);
  }
}

// The focus, which was on the node, stays on the canvas.
function deleteNode(dfId) {
  state.df.removeNodeId(`node-${dfId}`);
  $("#drawflow").focus({ preventScroll: true });
}

// The copy item copies the nodes copied together with this one, else this one alone.
function copyFrom(dfId) {
  if (!chosenNodes().has(dfId)) { clearPicked(); select(dfId); }
  copyNodes();
}

// The node's panel, unfolded if it was folded away.
function showNodePanel(dfId, focus = true) {
  if (collapsedPanels().panel) togglePanel("panel");
  select(dfId, focus);
}

function showTestSend(dfId) {
  showNodePanel(dfId, false);
  const box = $("#qf-test-send");
  if (!box) return;
  box.scrollIntoView({ block: "nearest" });
  box.querySelector("input:checked, input, select")?.focus({ preventScroll: true });
}

// ---------- the side panel ----------

function select(dfId, focus = false) {
  state.selected = dfId;
  document.querySelectorAll(".drawflow-node.qf-selected").forEach((n) => n.classList.remove("qf-selected"));
  nodeElement(dfId)?.classList.add("qf-selected");
  showPanel();
  if (focus) ($(".qf-config :is(input, select, textarea)") || $("#qf-node-label"))?.focus();
}

function showPanel() {
  const body = $("#qf-panel-body");
  const node = state.selected !== null ? state.df.getNodeFromId(state.selected) : null;
  body.replaceChildren(node ? nodePanel(state.selected, node) : flowPanel());
  showTab("node");
}

function nodePanel(dfId, node) {
  const data = node.data;
  const nodeType = typeOf(data.type);
  const idInput = el("input", { id: "qf-node-id", type: "text", value: data.id, "aria-describedby": "qf-node-id-error" });
  const idError = el("div", { class: "qf-field-error", id: "qf-node-id-error", role: "alert" });
  idInput.addEventListener("change", () => {
    const value = idInput.value.trim();
    const taken = allNodes().some((n) => n.id !== node.id && n.data.id === value);
    idError.textContent = !ID_PATTERN.test(value) ? t("Letters, digits, _ - . only") : taken ? t("Another node has this id") : "";
    if (idError.textContent) return;
    update(dfId, { id: value });
  });
  const labelInput = el("input", { id: "qf-node-label", type: "text", value: data.label || "", maxlength: "200",
    oninput: () => update(dfId, { label: labelInput.value }) });
  const form = buildForm(nodeType.schema, state.configs.get(dfId) || {}, t, () => {
    update(dfId, { config: form.value() });
  });
  state.form = form;
  showProblems(form.element, state.problems.filter((p) => p.node === data.id));
  const problems = state.problems.filter((p) => p.node === data.id);
  return el("div", { class: "qf-node-panel", "data-node-id": data.id },
    el("h2", {}, icon(nodeType.icon), ` ${titleOf(nodeType)}`),
    nodeType.description?.[page.lang] ? el("p", { class: "qf-hint", text: nodeType.description[page.lang] }) : null,
    problems.length ? el("ul", { class: "qf-node-problems", role: "alert" }, ...problems.map((p) => el("li", { text: `${p.path ? `${p.path}: ` : ""}${said(p)}` }))) : null,
    el("div", { class: "qf-field" }, el("label", { for: "qf-node-label", class: "qf-label", text: t("Label") }), labelInput),
    el("div", { class: "qf-field" }, el("label", { for: "qf-node-id", class: "qf-label", text: t("Node id") }), idInput, idError),
    el("fieldset", { class: "qf-config" }, el("legend", { text: t("Settings") }), form.element),
    picksMoments(nodeType) ? momentsLine(data.type, () => state.configs.get(dfId) || {}) : null,
    nodeType.test_send && page.can_write ? testSendFor(data.id) : null,
    connectionsEditor(dfId, node),
    el("button", { type: "button", class: "qf-quiet", id: "qf-duplicate-node", text: t("Duplicate node"),
      title: "Ctrl+D", onclick: () => duplicateNode(dfId) }),
    el("button", { type: "button", class: "qf-danger", id: "qf-delete-node", text: t("Delete node"),
      onclick: () => { state.df.removeNodeId(`node-${dfId}`); } }),
  );
}

// The test send control (testsend.js) of a node that sends a message: the server sends the saved
// draft's message, so unsaved work is saved first.
function testSendFor(nodeId) {
  const dirty = () => !$("#qf-dirty").hidden || !page.exists;
  const saved = async () => { if (dirty()) await save(); return !dirty(); };
  return testSendBox({ flowId: page.flow_id, nodeId, lang: page.lang, staff: page.community?.staff || [], api, t, saved });
}

// ---------- the next moments a wait, a schedule or a time window would pick ----------

// Nodes whose settings name a time of day or a cron schedule pick moments of the wall clock; the
// server asks the node itself which (POST /api/nodes/moments), under the flow's calendar.
function picksMoments(nodeType) {
  if (!["trigger", "wait", "condition"].includes(nodeType.kind)) return false;
  const schema = JSON.stringify(nodeType.schema || {});
  return schema.includes('"format":"time-of-day"') || schema.includes('"format":"cron"');
}

function momentText(moment) {
  const [, month, day] = moment.date.split("-").map(Number);
  const weekday = { mon: t("weekday:mon"), tue: t("weekday:tue"), wed: t("weekday:wed"), thu: t("weekday:thu"),
    fri: t("weekday:fri"), sat: t("weekday:sat"), sun: t("weekday:sun") }[moment.weekday];
  const note = { makeup: t("make-up working day"), holiday: t("public holiday") }[moment.day];
  const label = note ? t("{weekday}, {note}", { weekday, note }) : weekday;
  return t("{month}/{day} ({label}) {time}", { month, day, label, time: moment.time });
}

let momentsAsked = 0;
function momentsLine(type, config) {
  const line = el("p", { class: "qf-moments", id: "qf-moments", "aria-live": "polite" });
  const refresh = async () => {
    const asked = ++momentsAsked;
    const body = { type, config: config(), timezone: state.document.timezone || "Asia/Shanghai",
      settings: { calendar: state.document.settings?.calendar || "cn" } };
    const answer = await api("POST", "/api/nodes/moments", body);
    if (asked !== momentsAsked) return; // a later edit asked again
    if (!answer.ok) { line.textContent = ""; line.dataset.state = "invalid"; return; }
    const found = answer.data.moments;
    line.dataset.state = found.length ? "shown" : "none";
    line.textContent = found.length ? t("Next: {moments}", { moments: found.map(momentText).join(t("moment separator")) })
      : t("No such moment within a year.");
  };
  line.refresh = refresh;
  refresh();
  return line;
}

// Connecting by keyboard: each output port lists its targets and offers the other nodes.
function connectionsEditor(dfId, node) {
  const box = el("fieldset", { class: "qf-connections" }, el("legend", { text: t("Connections") }));
  node.data.ports.forEach((port, index) => {
    const output = `output_${index + 1}`;
    const targets = (node.outputs[output]?.connections || []).map((c) => state.df.getNodeFromId(c.node));
    const choices = allNodes().filter((n) => n.id !== node.id && typeOf(n.data.type).kind !== "trigger"
      && !targets.some((target) => target.id === n.id));
    const selectId = `qf-connect-${port}`;
    const picker = el("select", { id: selectId }, el("option", { value: "", text: t("Connect to…") }),
      ...choices.map((n) => el("option", { value: String(n.id), text: `${n.data.label || titleOf(typeOf(n.data.type))} (${n.data.id})` })));
    picker.addEventListener("change", () => {
      if (picker.value) state.df.addConnection(dfId, Number(picker.value), output, "input_1");
    });
    box.append(el("div", { class: "qf-port" },
      el("label", { for: selectId, class: "qf-label", text: `${t("Port")} ${t(PORT_TITLES[port] || port)} →` }),
      ...targets.map((target) => el("span", { class: "qf-tag" }, target.data.label || target.data.id,
        el("button", { type: "button", class: "qf-tag-remove", text: "×", "aria-label": t("Disconnect {node}", { node: target.data.id }),
          onclick: () => state.df.removeSingleConnection(dfId, target.id, output, "input_1") }))),
      picker));
  });
  if (!node.data.ports.length) box.append(el("p", { class: "qf-hint", text: t("This node ends the journey.") }));
  return box;
}

function update(dfId, { config, ...patch }) {
  const node = state.df.getNodeFromId(dfId);
  const data = { ...node.data, ...patch };
  if (config !== undefined) state.configs.set(dfId, config);
  if (patch.id && patch.id !== node.data.id) {
    state.problems = state.problems.filter((p) => p.node !== node.data.id);
    delete state.overlay[node.data.id];
  }
  state.df.updateNodeDataFromId(dfId, data);
  drawNode(dfId);
  if (config !== undefined && typeOf(data.type).dynamic_ports) refreshPorts(dfId);
  if (config !== undefined) {
    clearTimeout(update.moments);
    update.moments = setTimeout(() => document.getElementById("qf-moments")?.refresh?.(), 250);
  }
  changed();
}

function flowPanel() {
  const values = { name: state.document.name || "", description: state.document.description || "",
    timezone: state.document.timezone || "Asia/Shanghai", ...(state.document.settings || {}) };
  const form = buildForm(FLOW_SETTINGS_SCHEMA, values, t, () => {
    const { name, description, timezone, ...settings } = form.value();
    state.document = { ...state.document, name: name || "", description: description || "", timezone: timezone || "Asia/Shanghai", settings };
    $("#qf-flow-name").textContent = name || page.flow_id;
    changed();
  });
  const outline = allNodes().sort((a, b) => a.id - b.id).map((n) => el("li", {},
    el("button", { type: "button", class: "qf-link", onclick: () => select(n.id, true) },
      icon(typeOf(n.data.type).icon), ` ${n.data.label || titleOf(typeOf(n.data.type))} (${n.data.id})`)));
  return el("div", { class: "qf-flow-panel" },
    el("h2", { text: t("Flow settings") }),
    form.element,
    el("h3", { text: t("Nodes") }),
    outline.length ? el("ul", { class: "qf-outline" }, ...outline) : el("p", { class: "qf-hint", text: t("Drag a node from the palette onto the canvas, or press Enter on it.") }));
}

function showTab(name) {
  if (name === "preview" && !samples) fillSamples(); // the preview opens with samples in its form
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const active = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(active));
    tab.tabIndex = active ? 0 : -1;
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !active;
  }
}

// ---------- problems ----------

function setProblems(problems) {
  state.problems = problems;
  for (const node of allNodes()) drawNode(node.id);
  const list = $("#qf-problems-list");
  $("#qf-problem-count").textContent = problems.length ? String(problems.length) : "";
  list.replaceChildren(...problems.map((p) => {
    const target = p.node ? byNodeId(p.node) : null;
    const text = `${p.node ? `${p.node}: ` : ""}${p.path ? `${p.path}: ` : ""}${said(p)}`;
    return el("li", {}, target ? el("button", { type: "button", class: "qf-link", text, onclick: () => select(target.id, true) }) : text);
  }));
  if (!problems.length) list.append(el("li", { class: "qf-ok", text: t("No problems found.") }));
  if (state.selected !== null && state.form) {
    const node = state.df.getNodeFromId(state.selected);
    if (node) showPanel();
  }
}

// ---------- actions ----------

async function save() {
  clearTimeout(snapshotTimer);
  remember();
  const flow = exportFlow();
  // A draft with problems is saved too (work in progress); publishing refuses it until they are fixed.
  const result = await api("PUT", `/api/flows/${encodeURIComponent(page.flow_id)}/draft`, flow);
  if (result.ok) {
    page.exists = true;
    $("#qf-dirty").hidden = true;
    try { localStorage.removeItem(backupKey()); } catch { /* ignore */ }
    const problems = problemsIn(result.data);
    setProblems(problems);
    if (problems.length) showTab("problems");
    say(problems.length ? t("Draft saved, with {n} problems to fix before publishing", { n: problems.length }) : t("Draft saved"), problems.length ? "warn" : "ok");
    return !problems.length;
  }
  const problems = problemsIn(result.data);
  setProblems(problems.length ? problems : [{ node: null, path: "", message: t("The server refused the draft ({status})", { status: result.status }) }]);
  showTab("problems");
  say(t("Not saved: {n} problems. Your changes are kept here.", { n: state.problems.length }), "error");
  return false;
}

async function validate() {
  const result = await api("POST", `/api/flows/${encodeURIComponent(page.flow_id)}/validate`, exportFlow());
  const problems = problemsIn(result.data);
  setProblems(problems);
  showTab("problems");
  say(problems.length ? t("{n} problems found", { n: problems.length }) : t("No problems found."), problems.length ? "warn" : "ok");
}

async function publish() {
  if (!(await save())) return;
  if (!(await forecastConfirmed())) { say(t("Not published"), "info"); return; }
  const result = await api("POST", `/api/flows/${encodeURIComponent(page.flow_id)}/publish`);
  if (result.status === 202) {
    // A large send waits for an admin's approval (DESIGN §18): not live yet.
    say(t("Version {v} waits for an admin's approval (reach {reach})", { v: result.data?.version ?? "", reach: result.data?.reach ?? "" }), "warn");
  } else if (result.ok) {
    const version = result.data?.version ?? result.data?.published ?? "";
    say(t("Published version {v}", { v: version }), "ok");
    $("#qf-flow-status").textContent = t("live");
    $("#qf-pause").hidden = false;
  } else {
    setProblems(problemsIn(result.data));
    showTab("problems");
    say(t("Not published: fix the problems first"), "error");
  }
}

// ---------- the forecast before publishing: the saved draft over the last 30 days (backtest) ----------

const FORECAST_DAYS = 30;

// Opens the dialog at once and fills it when the backtest answers; resolves whether to publish.
// Above the backtest: what changed since the live version, and the reach now (publish.js).
function forecastConfirmed() {
  const dialog = $("#qf-forecast");
  const body = $("#qf-forecast-body");
  const forecast = el("section", { class: "qf-publish-part", id: "qf-forecast-backtest" },
    el("p", { class: "qf-hint", text: t("Backtesting the last {days} days of stored events…", { days: FORECAST_DAYS }) }));
  body.dataset.state = "running";
  const backtest = api("POST", `/api/flows/${encodeURIComponent(page.flow_id)}/backtest`, { days: FORECAST_DAYS });
  body.replaceChildren(changesPart(api, page.flow_id, t), reachPart(api, page.flow_id, t, backtest, FORECAST_DAYS), forecast);
  backtest.then((answer) => {
    forecast.replaceChildren(el("h3", { text: t("The last {days} days", { days: FORECAST_DAYS }) }), ...forecastView(answer));
    body.dataset.state = answer.ok ? "done" : "failed";
  });
  return new Promise((resolve) => {
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "publish"), { once: true });
    dialog.showModal();
  });
}

function forecastView(answer) {
  if (!answer.ok) {
    const problems = problemsIn(answer.data);
    const why = problems.length ? problems.map((p) => `${p.node ? `${p.node}: ` : ""}${said(p)}`).join("; ") : answer.data?.message || answer.status;
    return [el("p", { class: "qf-field-error", role: "alert", text: t("The backtest could not run: {why}", { why }) })];
  }
  const r = answer.data;
  const busiest = r.per_day.reduce((top, d) => (d.messages > (top?.messages ?? 0) ? d : top), null);
  const dayLabel = (date) => { const [, month, day] = date.split("-").map(Number); return t("{month}/{day}", { month, day }); };
  const parts = [
    el("p", { id: "qf-forecast-summary", text: t("Over the last {days} days of stored events, {entered} members would have entered; {messages} messages ({deliveries} deliveries in all).",
      { days: r.days, entered: r.entered, messages: r.messages, deliveries: r.deliveries_total }) }),
  ];
  if (busiest) parts.push(el("p", { text: t("The busiest day: {day}, {n} messages.", { day: dayLabel(busiest.date), n: busiest.messages }) }));
  if (r.quota) {
    const perWord = { day: t("per:day"), week: t("per:week"), month: t("per:month") }[r.quota.per];
    parts.push(el("p", { id: "qf-forecast-quota", text: r.quota.over
      ? t("WeCom quota ({count} a {per}): {over} messages to {members} members would be over it and skipped.", { count: r.quota.count, per: perWord, over: r.quota.over, members: r.quota.members_over })
      : t("WeCom quota ({count} a {per}): every message fits.", { count: r.quota.count, per: perWord }) }));
  }
  if (r.budget) {
    parts.push(el("p", { id: "qf-forecast-budget", text: r.budget.over
      ? t("Touch budget ({count} per {per}): {over} messages to {members} members would be over it.", { count: r.budget.messages, per: r.budget.per, over: r.budget.over, members: r.budget.members_over })
      : t("Touch budget ({count} per {per}): every message fits.", { count: r.budget.messages, per: r.budget.per }) }));
  }
  const days = r.per_day.filter((d) => Object.keys(d.kinds).length);
  if (days.length) {
    parts.push(el("table", { class: "qf-forecast-days" },
      el("thead", {}, el("tr", {}, el("th", { text: t("Day") }), el("th", { text: t("Messages") }), el("th", { text: t("Deliveries") }))),
      el("tbody", {}, ...days.map((d) => el("tr", {},
        el("td", { text: dayLabel(d.date) }),
        el("td", { text: String(d.messages) }),
        el("td", { text: Object.entries(d.kinds).map(([kind, n]) => `${t(kind)} ${n}`).join(t("moment separator")) }))))));
  } else {
    parts.push(el("p", { class: "qf-hint", text: t("Nothing would have been sent.") }));
  }
  return parts;
}

async function pauseOrResume() {
  const button = $("#qf-pause");
  const pausing = button.dataset.paused !== "true";
  const result = await api("POST", `/api/flows/${encodeURIComponent(page.flow_id)}/${pausing ? "pause" : "resume"}`);
  if (!result.ok) { say(t("Could not change the flow ({status})", { status: result.status }), "error"); return; }
  button.dataset.paused = String(pausing);
  button.textContent = pausing ? t("Resume") : t("Pause");
  $("#qf-flow-status").textContent = pausing ? t("paused") : t("live");
  say(pausing ? t("Paused: no new members enter; waiting runs keep their place") : t("Resumed"), "ok");
}

function setOverlay(overlay) {
  state.overlay = overlay;
  for (const node of allNodes()) drawNode(node.id);
}

// ---------- the preview's input: a form, with its JSON behind "Advanced (JSON)" (preview_form.js) ----------

let samples = null; // the form, made when the preview tab first opens

function samplesForm() {
  if (!samples) {
    samples = previewForm({ t, community: page.community || {}, flow: exportFlow,
      timezone: () => state.document.timezone || "Asia/Shanghai",
      // The JSON follows the form as it is edited (unless it is the JSON being edited).
      onChange: (input) => { if (document.activeElement !== $("#qf-preview-events")) $("#qf-preview-events").value = JSON.stringify(input, null, 1); } });
    $("#qf-preview-form-box").replaceChildren(samples.element);
  }
  return samples;
}

function fillSamples() {
  const form = samplesForm();
  form.set(sampleInput(exportFlow(), page.community || {}));
  $("#qf-preview-events").value = JSON.stringify(form.get(), null, 1);
  $("#qf-preview-json-error").textContent = "";
}

function openPreview() {
  showTab("preview");
  (advancedShown() ? $("#qf-preview-events") : $("#qf-preview-run")).focus();
}

const advancedShown = () => $("#qf-preview-advanced").getAttribute("aria-pressed") === "true";

// The JSON typed by hand: into the form when it reads; else the form keeps the last good input.
function jsonTyped() {
  const error = $("#qf-preview-json-error");
  try {
    samplesForm().set(JSON.parse($("#qf-preview-events").value));
    error.textContent = "";
    return true;
  } catch (problem) {
    error.textContent = t("The sample is not valid JSON: {e}", { e: problem.message });
    return false;
  }
}

function toggleAdvanced() {
  const showing = !advancedShown();
  if (!showing && !jsonTyped()) { say($("#qf-preview-json-error").textContent, "error"); return; }
  if (showing) $("#qf-preview-events").value = JSON.stringify(samplesForm().get(), null, 1);
  $("#qf-preview-advanced").setAttribute("aria-pressed", String(showing));
  $("#qf-preview-json").hidden = !showing;
  $("#qf-preview-form-box").hidden = showing;
}

// The deliveries table names nodes by label and the sample members by name.
function nodeName(nodeId) {
  const node = byNodeId(nodeId);
  return node ? node.data.label || titleOf(typeOf(node.data.type)) : nodeId;
}

async function runPreview() {
  const form = samplesForm();
  if (advancedShown() && !jsonTyped()) { say($("#qf-preview-json-error").textContent, "error"); return; }
  const invalid = form.check();
  if (invalid.length) {
    if (advancedShown()) toggleAdvanced(); // the fields that need a fix are in the form
    say(invalid[0], "error");
    return;
  }
  const input = form.get();
  // The canvas as it is now, saved or not.
  input.flow = exportFlow();
  const result = await api("POST", `/api/flows/${encodeURIComponent(page.flow_id)}/preview`, input);
  if (!result.ok) {
    const problems = problemsIn(result.data);
    if (problems.length) setProblems(problems);
    const atField = result.data?.field ? form.refused(result.data.field, result.data.message) : null;
    say(atField || t("Preview failed: {e}", { e: problems.map((p) => said(p)).join("; ") || result.data?.message || result.status }), "error");
    return;
  }
  const counts = result.data.nodes?.[page.flow_id] || {};
  const overlay = {};
  for (const [node, count] of Object.entries(counts)) overlay[node] = { text: `▶ ${count}`, title: t("{n} members entered in the preview", { n: count }) };
  setOverlay(overlay);
  const deliveries = result.data.deliveries || [];
  const names = new Map(input.members.filter((m) => m.name).map((m) => [m.id, m.name]));
  const truncated = result.data.truncated;
  const stopped = truncated
    ? t("The preview stopped early at {at}: it reached its limit of {limit} {reason}. Shorten the time span or use fewer events to see the rest.",
      { at: String(truncated.at).slice(0, 16).replace("T", " "), limit: truncated.limit, reason: truncated.reason === "steps" ? t("steps") : t("clock stops") })
    : null;
  $("#qf-preview-result").replaceChildren(
    ...(stopped ? [el("p", { class: "qf-warning", role: "alert", text: stopped })] : []),
    el("p", { text: t("{n} deliveries would be made", { n: deliveries.length }) }),
    el("table", { class: "qf-table" },
      el("thead", {}, el("tr", {}, ...["Time", "Node", "Member", "Content"].map((h) => el("th", { text: t(h) })))),
      el("tbody", {}, ...deliveries.slice(0, 200).map((d) => el("tr", {},
        el("td", { text: String(d.at || "").slice(5, 16).replace("T", " ") }), el("td", { text: nodeName(d.node) }),
        el("td", { text: names.get(d.member) || d.member || "" }),
        el("td", { text: `${t(d.kind)}: ${d.payload?.text ?? Object.values(d.payload || {}).join(", ")}` })))))
  );
  say(stopped || t("Preview done: counts are shown on the nodes"), stopped ? "error" : "ok");
}

let liveTimer = null;
async function refreshLive() {
  const result = await api("GET", liveStatsPath());
  if (!result.ok) { say(t("No live numbers: publish the flow first"), "warn"); stopLive(); return; }
  const overlay = {};
  const raw = result.data?.nodes ?? result.data;
  const rows = Array.isArray(raw) ? raw : Object.entries(raw || {}).map(([node, v]) => ({ node, ...(typeof v === "object" ? v : { entered: v }) }));
  const sentences = splitSentences(result.data?.goals, page.lang);
  state.portRates = {};
  state.portCounts = {};
  for (const row of rows) {
    if (!row || !row.node) continue;
    const title = t("{entered} members entered, {waiting} wait here now", { entered: row.entered ?? 0, waiting: row.waiting ?? 0 });
    const split = versionSplit(row.by_version);
    overlay[row.node] = { text: t("in {entered} · waiting {waiting}", { entered: row.entered ?? 0, waiting: row.waiting ?? 0 }) + nodeConversion(row, t),
      title: [title, split && t("Entered per version: {split}", { split }), ...(sentences[row.node] || [])].filter(Boolean).join("\n"),
      split: Object.keys(row.by_version || {}).length > 1 ? split : "" };
    state.portRates[row.node] = portConversion(row);
    state.portCounts[row.node] = row.ports || {};
  }
  showVersionPicker(result.data?.versions);
  showGoal(result.data?.goals);
  setOverlay(overlay);
  say(t("Live numbers updated"), "ok");
}
// The goal's figure in the flow header (DESIGN §16), with the A/B sentences as its tooltip.
function showGoal(goals) {
  const header = $("#qf-goal");
  header.hidden = !goals;
  if (!goals) return;
  header.textContent = goalHeadline(goals, t);
  header.title = Object.values(splitSentences(goals, page.lang)).flat().join("\n");
}
async function loadGoal() {
  const result = await api("GET", `/api/flows/${encodeURIComponent(page.flow_id)}/stats`);
  if (result.ok) showGoal(result.data?.goals);
}

function stopLive() {
  clearInterval(liveTimer);
  liveTimer = null;
  $("#qf-live").setAttribute("aria-pressed", "false");
  $("#qf-live-version").hidden = true;
}
function toggleLive() {
  if (liveTimer) { stopLive(); state.portRates = {}; state.portCounts = {}; setOverlay({}); return; }
  $("#qf-live").setAttribute("aria-pressed", "true");
  refreshLive();
  liveTimer = setInterval(refreshLive, 5000);
}

// ---------- palette ----------

function buildPalette() {
  const palette = $("#qf-palette-groups");
  for (const kind of KINDS) {
    const types = [...state.types.values()].filter((nt) => nt.kind === kind);
    if (!types.length) continue;
    const items = types.map((nodeType) => {
      const button = el("button", { type: "button", class: `qf-palette-item qf-kind-${kind}`, draggable: "true",
        "data-type": nodeType.type, title: nodeType.description?.[page.lang] || nodeType.type },
        icon(nodeType.icon),
        el("span", { class: "qf-palette-title", text: titleOf(nodeType) }),
        el("span", { class: "qf-palette-alt", text: nodeType.title?.[page.lang === "zh" ? "en" : "zh"] || "" }));
      button.addEventListener("dragstart", (event) => {
        event.dataTransfer.setData("application/x-qunflow-node", nodeType.type);
        event.dataTransfer.setData("text/plain", nodeType.type);
      });
      button.addEventListener("click", () => placeNode(nodeType.type, null));
      return el("li", {}, button);
    });
    palette.append(el("section", { class: "qf-palette-group" }, el("h3", { text: t(KIND_TITLES[kind]) }), el("ul", {}, ...items)));
  }
}

// Keep the palette items whose zh or en title or type id holds the search text (case aside).
function filterPalette() {
  const wanted = $("#qf-palette-search").value.trim().toLowerCase();
  let shown = 0;
  for (const group of document.querySelectorAll(".qf-palette-group")) {
    let inGroup = 0;
    for (const item of group.querySelectorAll(".qf-palette-item")) {
      const nodeType = typeOf(item.dataset.type);
      const words = [nodeType.type, nodeType.title?.zh, nodeType.title?.en].join(" ").toLowerCase();
      const match = !wanted || words.includes(wanted);
      item.parentElement.hidden = !match;
      if (match) inGroup++;
    }
    group.hidden = !inGroup;
    shown += inGroup;
  }
  $("#qf-palette-none").hidden = shown > 0;
}

function paletteSearchKeys(event) {
  const search = event.target;
  const first = [...document.querySelectorAll(".qf-palette-group li:not([hidden]) .qf-palette-item")]
    .find((item) => !item.closest("[hidden]"));
  if (event.key === "Escape") {
    event.preventDefault();
    search.value = "";
    filterPalette();
  } else if (event.key === "Enter" && first) {
    event.preventDefault();
    placeNode(first.dataset.type, null);
  } else if (event.key === "ArrowDown" && first) {
    event.preventDefault();
    first.focus();
  }
}

function canvasPoint(clientX, clientY) {
  const df = state.df;
  const rect = df.precanvas.getBoundingClientRect();
  return { x: (clientX - rect.x) / df.zoom, y: (clientY - rect.y) / df.zoom };
}

function placeNode(type, point) {
  let position = point;
  if (!position) {
    // Keyboard or click: to the right of the right-most node, in view.
    const rect = $("#drawflow").getBoundingClientRect();
    const centre = canvasPoint(rect.x + rect.width / 3, rect.y + rect.height / 3);
    const nodes = allNodes();
    position = nodes.length ? { x: Math.max(...nodes.map((n) => n.pos_x)) + 240, y: nodes[nodes.length - 1].pos_y } : centre;
  }
  const dfId = addNode({ id: freshId(type), type, config: {}, position });
  // A node whose ports follow its config (a message that may wait) asks the server for them at once.
  if (typeOf(type).dynamic_ports) refreshPorts(dfId);
  select(dfId, !point);
  changed();
}

// ---------- side panels ----------

// Which side panels are collapsed is this browser's choice, kept for every flow.
const PANELS_KEY = "qunflow-editor-panels";
const PANEL_TOGGLES = { palette: "#qf-toggle-palette", panel: "#qf-toggle-panel" };

function collapsedPanels() {
  try { return JSON.parse(localStorage.getItem(PANELS_KEY) || "{}") || {}; } catch { return {}; }
}

function showPanels(collapsed) {
  const editor = $(".qf-editor");
  for (const [name, selector] of Object.entries(PANEL_TOGGLES)) {
    const button = $(selector);
    if (!button) continue;
    editor.classList.toggle(`qf-${name}-collapsed`, Boolean(collapsed[name]));
    $(`#${button.getAttribute("aria-controls")}`).hidden = Boolean(collapsed[name]);
    button.setAttribute("aria-expanded", String(!collapsed[name]));
  }
}

function togglePanel(name) {
  const collapsed = { ...collapsedPanels(), [name]: !collapsedPanels()[name] };
  try { localStorage.setItem(PANELS_KEY, JSON.stringify(collapsed)); } catch { /* storage off: this page only */ }
  showPanels(collapsed);
}

// ---------- auto-layout: the server puts the nodes in columns (POST /api/flows/{id}/layout) ----------

async function autoLayout() {
  const flow = exportFlow();
  const body = { nodes: flow.nodes.map((n) => ({ id: n.id })), edges: flow.edges.map((e) => ({ from: e.from, to: e.to })) };
  const answer = await api("POST", `/api/flows/${encodeURIComponent(page.flow_id)}/layout`, body);
  if (!answer.ok) {
    say(t("Could not arrange the nodes: {why}", { why: answer.data?.message || answer.status }), "error");
    return;
  }
  // One undo step: the positions before are kept first, then the new ones.
  clearTimeout(snapshotTimer);
  remember();
  const positions = answer.data.positions || {};
  const moved = [];
  for (const node of allNodes()) {
    const at = positions[node.data.id];
    if (!at) continue;
    node.pos_x = at.x;
    node.pos_y = at.y;
    const element = nodeElement(node.id);
    element.style.left = `${at.x}px`;
    element.style.top = `${at.y}px`;
    moved.push(node.id);
  }
  for (const dfId of moved) state.df.updateConnectionNodes(`node-${dfId}`);
  remember();
  $("#qf-dirty").hidden = false;
  fitView();
  say(t("Nodes arranged in columns; Ctrl+Z puts them back"), "ok");
}

// ---------- live figures per version ----------

// The stats of the version being viewed: the one picked, else the live one, else every version's.
function liveStatsPath() {
  const version = state.liveVersion ?? page.live_version;
  const query = version && version !== "all" ? `?version=${encodeURIComponent(version)}` : "";
  return `/api/flows/${encodeURIComponent(page.flow_id)}/stats${query}`;
}

const versionName = (version) => (Number(version) === 0 ? t("earlier") : `v${version}`);
const counted = (n) => Number(n || 0).toLocaleString(page.lang === "zh" ? "zh-CN" : "en-US");

// "v2 30 · v1 12": members who entered a node on each version, newest first.
function versionSplit(byVersion) {
  return Object.entries(byVersion || {}).sort(([a], [b]) => Number(b) - Number(a))
    .map(([version, figures]) => `${versionName(version)} ${counted(figures.entered)}`).join(" · ");
}

// Once more than one version has figures, the operator picks whose to see.
function showVersionPicker(versions) {
  const picker = $("#qf-live-version");
  const listed = (versions || []).filter((v) => v > 0);
  const current = String(state.liveVersion ?? page.live_version ?? "all");
  if (page.live_version && !listed.includes(page.live_version)) listed.unshift(page.live_version);
  picker.hidden = !liveTimer || listed.length < 2;
  if (picker.hidden) return;
  const options = [...listed.map((v) => [String(v), v === page.live_version ? t("v{version} (live)", { version: v }) : `v${v}`]),
    ["all", t("All versions")]];
  if (picker.options.length !== options.length || [...picker.options].some((o, i) => o.value !== options[i][0])) {
    picker.replaceChildren(...options.map(([value, text]) => el("option", { value, text })));
  }
  picker.value = current;
}

// ---------- the minimap and the counts on edges ----------

const SVG_NS = "http://www.w3.org/2000/svg";
const MINIMAP_KEY = "qunflow-editor-minimap";
// Below these widths the minimap would cover the flow it maps.
const MINIMAP_MIN_WINDOW = 900;
const MINIMAP_MIN_CANVAS = 480;
const minimap = { box: null, svg: null, view: null, rects: new Map(), frame: 0, dragging: false, bounds: null };

function svgElement(tag, attrs = {}) {
  const made = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) made.setAttribute(key, value);
  return made;
}

function buildMinimap() {
  const svg = svgElement("svg", { id: "qf-minimap-view", class: "qf-minimap-view", role: "img",
    "aria-label": t("Overview of the flow: click or drag to move the view") });
  minimap.view = svgElement("rect", { class: "qf-minimap-viewport" });
  svg.append(minimap.view);
  const collapsed = (() => { try { return localStorage.getItem(MINIMAP_KEY) === "collapsed"; } catch { return false; } })();
  const toggle = el("button", { type: "button", id: "qf-minimap-toggle", class: "qf-minimap-toggle", "aria-controls": "qf-minimap-view",
    "aria-expanded": String(!collapsed), title: t("Show or hide the overview"), text: t("Overview") });
  // An SVG element has no `hidden` property: the attribute itself (the page's CSS hides [hidden]).
  svg.toggleAttribute("hidden", collapsed);
  toggle.addEventListener("click", () => {
    const folded = svg.toggleAttribute("hidden");
    toggle.setAttribute("aria-expanded", String(!folded));
    try { localStorage.setItem(MINIMAP_KEY, folded ? "collapsed" : "open"); } catch { /* storage off */ }
    refreshCanvasExtras();
  });
  const box = el("div", { id: "qf-minimap", class: "qf-minimap" }, toggle, svg);
  // The minimap's own clicks are not the canvas's (drawflow would start dragging the canvas).
  for (const type of ["mousedown", "pointerdown", "touchstart", "click", "dblclick", "contextmenu"]) {
    box.addEventListener(type, (event) => event.stopPropagation());
  }
  svg.addEventListener("pointerdown", (event) => {
    svg.setPointerCapture(event.pointerId);
    minimap.dragging = true;
    centreOnMinimap(event);
  });
  svg.addEventListener("pointermove", (event) => { if (minimap.dragging) centreOnMinimap(event); });
  const release = () => { minimap.dragging = false; refreshCanvasExtras(); };
  svg.addEventListener("pointerup", release);
  svg.addEventListener("pointercancel", release);
  minimap.box = box;
  minimap.svg = svg;
  const canvas = $("#drawflow");
  canvas.append(box);
  // The canvas pans by drawflow's transform, never by scrolling; but the browser scrolls it to show a
  // focused node off to the side, which would carry the minimap (and the view) out of place.
  canvas.addEventListener("scroll", () => { canvas.scrollLeft = 0; canvas.scrollTop = 0; });
}

// The canvas moves so that the point under the pointer on the minimap is in the middle of the view.
function centreOnMinimap(event) {
  const matrix = minimap.svg.getScreenCTM();
  if (!matrix) return;
  const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
  const df = state.df;
  const box = $("#drawflow").getBoundingClientRect();
  const origin = df.precanvas.getBoundingClientRect();
  df.canvas_x += box.x + box.width / 2 - (origin.x + point.x * df.zoom);
  df.canvas_y += box.y + box.height / 2 - (origin.y + point.y * df.zoom);
  applyView();
}

function drawMinimap() {
  const container = $("#drawflow");
  const narrow = window.innerWidth < MINIMAP_MIN_WINDOW || container.clientWidth < MINIMAP_MIN_CANVAS;
  minimap.box.hidden = narrow;
  if (narrow || minimap.svg.hasAttribute("hidden")) return;
  const nodes = allNodes();
  const box = container.getBoundingClientRect();
  const topLeft = canvasPoint(box.left, box.top);
  const bottomRight = canvasPoint(box.right, box.bottom);
  const seen = new Set();
  let bounds = [topLeft.x, topLeft.y, bottomRight.x, bottomRight.y];
  for (const node of nodes) {
    const element = nodeElement(node.id);
    const width = element?.offsetWidth || 190;
    const height = element?.offsetHeight || 56;
    let rect = minimap.rects.get(node.id);
    if (!rect) {
      rect = svgElement("rect", { class: `qf-minimap-node qf-minimap-${typeOf(node.data.type).kind}`, rx: "6" });
      minimap.svg.insertBefore(rect, minimap.view);
      minimap.rects.set(node.id, rect);
    }
    rect.setAttribute("x", node.pos_x);
    rect.setAttribute("y", node.pos_y);
    rect.setAttribute("width", width);
    rect.setAttribute("height", height);
    rect.dataset.nodeId = node.data.id;
    seen.add(node.id);
    bounds = [Math.min(bounds[0], node.pos_x), Math.min(bounds[1], node.pos_y),
      Math.max(bounds[2], node.pos_x + width), Math.max(bounds[3], node.pos_y + height)];
  }
  for (const [dfId, rect] of minimap.rects) if (!seen.has(dfId)) { rect.remove(); minimap.rects.delete(dfId); }
  // While the pointer drags the view, the map holds still under it.
  if (!minimap.dragging || !minimap.bounds) {
    const pad = 40;
    minimap.bounds = [bounds[0] - pad, bounds[1] - pad, bounds[2] - bounds[0] + 2 * pad, bounds[3] - bounds[1] + 2 * pad];
    minimap.svg.setAttribute("viewBox", minimap.bounds.map((n) => Math.round(n)).join(" "));
  }
  minimap.view.setAttribute("x", topLeft.x);
  minimap.view.setAttribute("y", topLeft.y);
  minimap.view.setAttribute("width", Math.max(0, bottomRight.x - topLeft.x));
  minimap.view.setAttribute("height", Math.max(0, bottomRight.y - topLeft.y));
}

// Each connection says how many members went that way ("是 1,204 · 转化 12.0%"), from the live figures.
function edgeLabel(connection) {
  const classes = [...connection.classList];
  const source = classes.find((c) => c.startsWith("node_out_node-"));
  const output = classes.find((c) => /^output_\d+$/.test(c));
  const node = source && output ? state.df.getNodeFromId(source.slice("node_out_node-".length)) : null;
  const counts = node ? state.portCounts[node.data.id] : null;
  if (!counts) return null;
  const port = node.data.ports[Number(output.slice("output_".length)) - 1];
  if (port === undefined) return null;
  const named = node.data.ports.length > 1 || port !== "next" ? t(PORT_TITLES[port] || port) : "";
  const rate = state.portRates[node.data.id]?.[port];
  return [named, counted(counts[port])].filter(Boolean).join(" ") + (rate ? ` · ${t("converted {rate}", { rate })}` : "");
}

function placeEdgeLabels() {
  const shown = Object.keys(state.portCounts).length > 0;
  $("#drawflow").classList.toggle("qf-edge-counts", shown);
  for (const connection of state.df.precanvas.querySelectorAll("svg.connection")) {
    let label = connection.querySelector(":scope > text.qf-edge-label");
    const text = shown ? edgeLabel(connection) : null;
    if (!text) { label?.remove(); continue; }
    const path = connection.querySelector(".main-path");
    if (!path) continue;
    if (!label) {
      // After the path: drawflow redraws a connection through its first child.
      label = svgElement("text", { class: "qf-edge-label" });
      connection.append(label);
    }
    if (label.textContent !== text) label.textContent = text;
    const middle = path.getPointAtLength(path.getTotalLength() / 2);
    const x = String(Math.round(middle.x));
    const y = String(Math.round(middle.y - 12)); // above the line, clear of it
    if (label.getAttribute("x") !== x) label.setAttribute("x", x);
    if (label.getAttribute("y") !== y) label.setAttribute("y", y);
  }
}

// Redrawn once a frame at most, whenever the canvas changes: nodes moved, added or redrawn, the view
// panned or zoomed, connections drawn, the window resized.
function refreshCanvasExtras() {
  if (minimap.frame) return;
  minimap.frame = requestAnimationFrame(() => {
    minimap.frame = 0;
    drawMinimap();
    placeEdgeLabels();
  });
}

// The editor fills the window below whatever stands above it (the menu, a notice that nothing is sent),
// so that the canvas's bottom edge, where the minimap is, and the status bar are in view.
function fitEditorHeight() {
  const editor = $(".qf-editor");
  const top = editor.getBoundingClientRect().top + window.scrollY;
  editor.style.height = `${Math.max(560, Math.floor(window.innerHeight - top))}px`;
}

function startCanvasExtras() {
  fitEditorHeight();
  window.addEventListener("resize", fitEditorHeight);
  buildMinimap();
  new MutationObserver(refreshCanvasExtras).observe(state.df.precanvas,
    { attributes: true, attributeFilter: ["style", "d"], childList: true, subtree: true });
  new ResizeObserver(refreshCanvasExtras).observe($("#drawflow"));
  window.addEventListener("resize", refreshCanvasExtras);
  $("#qf-auto-layout")?.addEventListener("click", autoLayout);
  $("#qf-live-version").addEventListener("change", (event) => { state.liveVersion = event.target.value; refreshLive(); });
  refreshCanvasExtras();
}

// ---------- start ----------

function keyboard(event) {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName);
  const mod = event.ctrlKey || event.metaKey;
  const deleting = event.key === "Delete" || event.key === "Backspace";
  if (mod && event.key.toLowerCase() === "s") { event.preventDefault(); save(); return; }
  if (typing) return;
  if ((event.key === "F10" && event.shiftKey) || event.key === "ContextMenu") {
    if (event.target.closest?.("#drawflow")) { event.preventDefault(); openContextMenuByKey(event.target); }
    return;
  }
  if (inMenu(event.target)) return; // the menu's own keys
  const focusedNode = event.target.closest?.(".drawflow-node");
  if (mod && event.key.toLowerCase() === "z") { event.preventDefault(); event.shiftKey ? redo() : undo(); }
  else if (mod && event.key.toLowerCase() === "y") { event.preventDefault(); redo(); }
  else if (mod && event.key.toLowerCase() === "c" && page.can_write && !window.getSelection()?.toString()) {
    if (copyNodes()) event.preventDefault();
  } else if (mod && event.key.toLowerCase() === "v" && page.can_write) {
    if (pasteNodes()) event.preventDefault();
  } else if (mod && event.key.toLowerCase() === "d" && page.can_write && state.selected !== null) {
    event.preventDefault();
    duplicateNode(state.selected);
  }
  else if (deleting && focusedNode) {
    // The focused node, not drawflow's last clicked one (its own Delete handler runs after ours).
    event.preventDefault();
    event.stopPropagation();
    state.df.removeNodeId(focusedNode.id);
  } else if (event.target.id === "drawflow" && event.key.startsWith("Arrow")) {
    event.preventDefault();
    const step = 40;
    const df = state.df;
    if (event.key === "ArrowLeft") df.canvas_x += step;
    if (event.key === "ArrowRight") df.canvas_x -= step;
    if (event.key === "ArrowUp") df.canvas_y += step;
    if (event.key === "ArrowDown") df.canvas_y -= step;
    applyView();
  }
}

async function start() {
  const response = await api("GET", "/api/nodes");
  const list = Array.isArray(response.data) ? response.data : response.data?.nodes || [];
  for (const nodeType of list) state.types.set(nodeType.type, nodeType);
  const container = $("#drawflow");
  const df = new window.Drawflow(container);
  df.reroute = false;
  startContextMenu(df, container);
  df.zoom_max = 2;
  df.zoom_min = 0.3;
  // Viewers see the flow but cannot change it.
  df.editor_mode = page.can_write ? "edit" : "view";
  df.start();
  state.df = df;
  // Viewers have no palette to show or hide.
  if (!page.can_write) { $("#qf-palette").hidden = true; $("#qf-toggle-palette").remove(); $(".qf-editor").classList.add("qf-palette-collapsed"); }
  showPanels(collapsedPanels());
  for (const name of Object.keys(PANEL_TOGGLES)) $(PANEL_TOGGLES[name])?.addEventListener("click", () => togglePanel(name));
  if (page.can_write) {
    buildPalette();
    $("#qf-palette-search").addEventListener("input", filterPalette);
    $("#qf-palette-search").addEventListener("keydown", paletteSearchKeys);
  }

  df.on("nodeSelected", (id) => select(Number(id)));
  // Shift + click adds nodes to the selection (for copying several); a plain click starts over.
  container.addEventListener("mousedown", (event) => {
    const element = event.target.closest?.(".drawflow-node");
    if (event.shiftKey && element) {
      if (state.selected !== null) pick(state.selected);
      pick(Number(element.id.slice(5)));
    } else if (!element || !state.picked.has(Number(element.id.slice(5)))) clearPicked();
  }, true);
  // Clicking the node that is already selected brings its form back (e.g. from the problems tab).
  container.addEventListener("click", (event) => {
    const element = event.target.closest?.(".drawflow-node");
    if (element && Number(element.id.slice(5)) === state.selected && $("#qf-panel-body").hidden) showTab("node");
  });
  df.on("nodeUnselected", () => { if (state.selected !== null) { state.selected = null; document.querySelectorAll(".qf-selected").forEach((n) => n.classList.remove("qf-selected")); showPanel(); } });
  df.on("nodeRemoved", (id) => { state.configs.delete(Number(id)); if (Number(id) === state.selected) { state.selected = null; showPanel(); } changed(); });
  df.on("nodeMoved", changed);
  df.on("connectionCreated", (c) => {
    // A trigger starts a journey: nothing may lead into it.
    const target = df.getNodeFromId(c.input_id);
    if (!state.loading && typeOf(target.data.type).kind === "trigger") {
      df.removeSingleConnection(c.output_id, c.input_id, c.output_class, c.input_class);
      return;
    }
    if (!state.loading && state.selected !== null) showPanel();
    changed();
  });
  df.on("connectionRemoved", () => { if (!state.loading && state.selected !== null) showPanel(); changed(); });

  container.addEventListener("dragover", (event) => event.preventDefault());
  container.addEventListener("drop", (event) => {
    event.preventDefault();
    const type = event.dataTransfer.getData("application/x-qunflow-node") || event.dataTransfer.getData("text/plain");
    if (state.types.has(type)) placeNode(type, canvasPoint(event.clientX, event.clientY));
  });

  startCanvasExtras();
  loadFlow(state.document);
  fitView();
  state.history = [JSON.stringify(exportFlow())];
  const backup = (() => { try { return localStorage.getItem(backupKey()); } catch { return null; } })();
  if (backup && backup !== state.history[0]) {
    const banner = $("#qf-restore");
    banner.hidden = false;
    $("#qf-restore-yes").addEventListener("click", () => {
      loadFlow(JSON.parse(backup));
      // The restored work is where undo starts: one Ctrl+Z must not go back to the empty canvas.
      state.history = [JSON.stringify(exportFlow())];
      state.future = [];
      $("#qf-dirty").hidden = false;
      banner.hidden = true;
      say(t("Unsaved work restored"));
    });
    $("#qf-restore-no").addEventListener("click", () => { localStorage.removeItem(backupKey()); banner.hidden = true; });
  }
  if (page.problems?.length) setProblems(page.problems);
  if (!$("#qf-live").hidden) loadGoal();

  // Viewers have no save or publish button.
  $("#qf-save")?.addEventListener("click", save);
  $("#qf-validate").addEventListener("click", validate);
  $("#qf-publish")?.addEventListener("click", publish);
  $("#qf-pause")?.addEventListener("click", pauseOrResume);
  $("#qf-preview").addEventListener("click", openPreview);
  $("#qf-preview-run").addEventListener("click", runPreview);
  $("#qf-preview-samples").addEventListener("click", fillSamples);
  $("#qf-preview-advanced").addEventListener("click", toggleAdvanced);
  $("#qf-preview-events").addEventListener("input", jsonTyped);
  $("#qf-live").addEventListener("click", toggleLive);
  $("#qf-undo").addEventListener("click", undo);
  $("#qf-redo").addEventListener("click", redo);
  $("#qf-zoom-in").addEventListener("click", () => zoomTo(df.zoom + df.zoom_value));
  $("#qf-zoom-out").addEventListener("click", () => zoomTo(df.zoom - df.zoom_value));
  $("#qf-zoom-reset").addEventListener("click", () => zoomTo(1));
  // Ctrl + wheel zooms (drawflow's own); the wheel alone scrolls the canvas.
  df.on("zoom", () => requestAnimationFrame(showZoom));
  container.addEventListener("wheel", (event) => {
    if (event.ctrlKey) return;
    event.preventDefault();
    df.canvas_x -= event.shiftKey ? event.deltaY : event.deltaX;
    df.canvas_y -= event.shiftKey ? 0 : event.deltaY;
    applyView();
  }, { passive: false });
  $("#qf-fit").addEventListener("click", fitView);
  $("#qf-flow-settings").addEventListener("click", () => { state.selected = null; showPanel(); });
  const tabs = [...document.querySelectorAll("[role=tab]")];
  for (const tab of tabs) {
    tab.addEventListener("click", () => showTab(tab.dataset.tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
      showTab(next.dataset.tab);
      next.focus();
    });
  }
  // Capture on window: our keys are handled before drawflow's own document listener.
  window.addEventListener("keydown", keyboard, true);
  window.addEventListener("beforeunload", (event) => { if (!$("#qf-dirty").hidden) event.preventDefault(); });
  document.body.dataset.editorReady = "true";
}

start().catch((error) => { say(`${t("The editor could not start")}: ${error.message}`, "error"); throw error; });
