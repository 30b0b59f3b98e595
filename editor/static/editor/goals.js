// Goal figures on the canvas (DESIGN §16), from GET /api/flows/{id}/stats: the goal said in words
// with its conversion against the control group for the flow header, and each node's and port's
// conversion. `t` is the editor's translator.
const OPS = { eq: "=", ne: "≠", gt: ">", gte: "≥", lt: "<", lte: "≤" };
const DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

export const percent = (rate) => (rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1)}%`);

function eventWords(type, t) {
  // The event names the timeline uses ("event:purchase" → 下单); a custom type reads as it is.
  const key = `event:${type}`;
  const said = t(key);
  return said.startsWith("event:") ? type : said;
}

function durationWords(text, t) {
  const found = DURATION.exec(text || "");
  if (!found) return text || "";
  const [, weeks, days, hours, minutes, seconds] = found;
  const parts = [];
  if (weeks) parts.push(t("{n} weeks", { n: weeks }));
  if (days) parts.push(t("{n} days", { n: days }));
  if (hours) parts.push(t("{n} hours", { n: hours }));
  if (minutes) parts.push(t("{n} minutes", { n: minutes }));
  if (seconds) parts.push(t("{n} seconds", { n: seconds }));
  return parts.join(" ");
}

function conditionWords(condition, t) {
  const path = String(condition.field || "").replace(/^event\./, "");
  const value = Array.isArray(condition.value) ? condition.value.join("/") : condition.value ?? "";
  const op = condition.op || "eq";
  // The amount of a purchase reads as money: "≥50 元".
  if (path === "data.amount" && op in OPS) return `${OPS[op]}${value} ${t("yuan")}`;
  if (op === "exists") return ` ${path} ${t("is set")}`;
  return ` ${path} ${OPS[op] || t(`op:${op}`)} ${value}`;
}

// "目标：下单≥50 元，7 天内 — 转化 12.3%（对照组 8.1%，提升 4.2 个百分点）"
export function goalHeadline(goals, t) {
  const goal = goals.goal || {};
  const where = Array.isArray(goal.where) ? goal.where : goal.where ? [goal.where] : [];
  const what = eventWords(goal.event, t) + where.map((c) => conditionWords(c, t)).join("，");
  const head = t("Goal: {what}, within {within}", { what, within: durationWords(goal.within, t) });
  if (!goals.entered && !goals.holdout?.entered) return `${head} — ${t("nobody has entered yet")}`;
  let text = `${head} — ${t("converted {rate}", { rate: percent(goals.conversion_rate) })}`;
  if (goals.holdout?.entered) {
    text += goals.lift === null || goals.lift === undefined
      ? t(" (control group {rate})", { rate: percent(goals.holdout.conversion_rate) })
      : t(" (control group {rate}, lift {lift} points)", { rate: percent(goals.holdout.conversion_rate), lift: goals.lift.toFixed(1) });
  }
  return text;
}

// The A/B sentences of the flow's splits, by split node id, in the page's language.
export function splitSentences(goals, lang) {
  const found = {};
  for (const result of goals?.ab || []) (found[result.node] ||= []).push(result[lang] || result.en);
  return found;
}

// A node's conversion, added to its live badge ("· 转化 12.3%"); empty without a goal.
export function nodeConversion(row, t) {
  return row.conversion_rate === null || row.conversion_rate === undefined ? ""
    : ` · ${t("converted {rate}", { rate: percent(row.conversion_rate) })}`;
}

// Each port's conversion as text, by port, for the captions beside the node's outputs.
export function portConversion(row) {
  const rates = {};
  for (const [port, rate] of Object.entries(row.port_conversion_rates || {})) if (rate !== null) rates[port] = percent(rate);
  return rates;
}
