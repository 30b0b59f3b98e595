// What publishing the draft would do, in the dialog that asks first (issue #15): what changed since
// the live version, said as the version history page says it (GET /api/flows/{id}/changes), and how
// many members it would reach now (GET /api/flows/{id}/reach) beside the last 30 days (the backtest).
import { el } from "./forms.js";

// One change as the history page lists it: what, whose, which field: before → after.
function changeItem(change) {
  const item = el("li", { class: "qf-change" }, el("strong", { text: change.what }), ` ${change.subject}`);
  if (change.field) item.append(` · ${change.field}`);
  if (change.before || change.after) {
    item.append(": ");
    if (change.before) item.append(el("del", { text: change.before }));
    if (change.before && change.after) item.append(" → ");
    if (change.after) item.append(el("ins", { text: change.after }));
  }
  return item;
}

/** The dialog's "changes" part: filled when the server answers. */
export function changesPart(api, flowId, t) {
  const part = el("section", { class: "qf-publish-part", id: "qf-publish-changes", "aria-labelledby": "qf-publish-changes-title" },
    el("h3", { id: "qf-publish-changes-title", text: t("What changes") }),
    el("p", { class: "qf-hint", text: t("Comparing with the live version…") }));
  api("GET", `/api/flows/${encodeURIComponent(flowId)}/changes`).then((answer) => {
    const title = part.firstChild;
    if (!answer.ok) {
      part.replaceChildren(title, el("p", { class: "qf-field-error", role: "alert", text: t("The changes could not be read ({status}).", { status: answer.status }) }));
      return;
    }
    const { first, live_version: live, changes } = answer.data;
    if (first) {
      part.replaceChildren(title, el("p", { id: "qf-publish-first", text: t("This is the first version: nothing of this flow is live yet.") }));
    } else if (!changes.length) {
      part.replaceChildren(title, el("p", { text: t("The same as the live version {v}: nothing changes.", { v: live }) }));
    } else {
      part.replaceChildren(title, el("p", { text: t("Since the live version {v}:", { v: live }) }),
        el("ul", { class: "qf-changes", id: "qf-publish-change-list" }, ...changes.map(changeItem)));
    }
    part.dataset.state = "done";
  });
  return part;
}

/** The dialog's "reach" part: the members its audiences hold now, and for event triggers the members
 * the backtest (`backtest`, the pending answer of POST …/backtest) entered over the last `days` days. */
export function reachPart(api, flowId, t, backtest, days) {
  const part = el("section", { class: "qf-publish-part", id: "qf-publish-reach", "aria-labelledby": "qf-publish-reach-title" },
    el("h3", { id: "qf-publish-reach-title", text: t("Reach") }),
    el("p", { class: "qf-hint", text: t("Counting the members it would reach…") }));
  Promise.all([api("GET", `/api/flows/${encodeURIComponent(flowId)}/reach`), backtest]).then(([reach, past]) => {
    const title = part.firstChild;
    if (!reach.ok) {
      part.replaceChildren(title, el("p", { class: "qf-field-error", role: "alert", text: t("The reach could not be counted ({status}).", { status: reach.status }) }));
      return;
    }
    const r = reach.data;
    const entered = past.ok ? past.data.entered : null;
    const lines = [];
    if (r.audience) {
      lines.push(el("p", { id: "qf-reach-now", text: t("Now: {n} members are in its audience; the schedule or the broadcast reaches them.", { n: r.members }) }));
    }
    if (r.event_triggers) {
      lines.push(el("p", { id: "qf-reach-events", text: entered === null
        ? t("Started by events: members enter as the events come, so no count can be made for now.")
        : t("Started by events: members enter as the events come, so no count can be made for now. Over the last {days} days, {n} members would have entered.", { days, n: entered }) }));
    }
    if (r.group_level) lines.push(el("p", { id: "qf-reach-groups", text: t("On its schedule it runs for groups: no member enters.") }));
    // Approval before large sends (DESIGN §18), estimated as the server does: the larger figure.
    const estimate = Math.max(r.members ?? 0, entered ?? 0);
    if (r.min_reach !== null && estimate >= r.min_reach) {
      lines.push(el("p", { class: "qf-warning", id: "qf-reach-approval",
        text: t("A reach of {n} is at least {min}: once published, it waits for an admin's approval before it goes live.", { n: estimate, min: r.min_reach }) }));
    }
    part.replaceChildren(title, ...lines);
    part.dataset.state = "done";
  });
  return part;
}
