// Test send (测试发送, issue #15): in the panel of a node that sends a message, send that message now
// to a member picked by name (member_picker.js) or to a staff account picked by name, and read what
// happened in words, with a link to the delivery (POST /api/flows/{flow}/nodes/{node}/test-send).
// The server makes the message from the saved draft, so unsaved changes are saved first.
import { el } from "./forms.js";
import { pickMembers } from "./member_picker.js";

// Who the tests go to, kept while the page is open: the panel is built again on every change (and
// on saving), and an operator tries several nodes on the same person.
const chosen = { to: "member", member: null, staff: "" };
// The result line in the panel now (the panel may have been rebuilt while a test was on its way).
const resultLine = (fallback) => document.getElementById("qf-test-send-result") || fallback;

// The control for one node. `api(method, path, body)` and `t(text, values)` are the editor's;
// `staff` the staff accounts as {id, name}; `saved()` saves the draft if it has unsaved changes and
// answers whether it is saved now.
export function testSendBox({ flowId, nodeId, lang, staff, api, t, saved }) {
  const toMember = el("input", { type: "radio", name: "qf-test-to", id: "qf-test-to-member", value: "member", checked: chosen.to === "member" });
  const toStaff = el("input", { type: "radio", name: "qf-test-to", id: "qf-test-to-staff", value: "staff", checked: chosen.to === "staff" });
  const memberLabel = el("label", { for: "qf-test-member", class: "qf-label", text: t("Member") });
  const search = el("input", { type: "search", id: "qf-test-member", autocomplete: "off", maxlength: "200",
    placeholder: t("Search members by name"), "aria-controls": "qf-test-member-results",
    value: chosen.member ? chosen.member.name || chosen.member.id : undefined });
  const results = el("ul", { id: "qf-test-member-results", class: "qf-test-results", "aria-label": t("Members found") });
  const picked = el("p", { id: "qf-test-member-picked", class: "qf-hint", "aria-live": "polite",
    text: chosen.member ? t("Chosen: {name}", { name: chosen.member.name || chosen.member.id }) : "" });
  const staffPick = el("select", { id: "qf-test-staff" }, el("option", { value: "", text: t("Choose a staff account") }),
    ...staff.map((s) => el("option", { value: s.id, text: s.name || s.id, selected: s.id === chosen.staff })));
  const staffField = el("div", { class: "qf-field", hidden: true },
    el("label", { for: "qf-test-staff", class: "qf-label", text: t("Staff account") }), staffPick);
  const send = el("button", { type: "button", id: "qf-test-send-button", disabled: true, text: t("Send test") });
  const result = el("div", { id: "qf-test-send-result", class: "qf-test-result", "aria-live": "polite" });

  const sendingToStaff = () => toStaff.checked;
  const ready = () => (sendingToStaff() ? Boolean(chosen.staff) : Boolean(chosen.member));
  const refresh = () => {
    chosen.to = sendingToStaff() ? "staff" : "member";
    staffField.hidden = !sendingToStaff();
    memberLabel.textContent = sendingToStaff() ? t("Fill the placeholders from this member (optional)") : t("Member");
    send.disabled = !ready();
  };
  toMember.addEventListener("change", refresh);
  toStaff.addEventListener("change", refresh);
  staffPick.addEventListener("change", () => { chosen.staff = staffPick.value; refresh(); });

  pickMembers({
    input: search,
    results,
    t,
    choiceClass: "qf-test-member-choice",
    choose: (m) => {
      chosen.member = m;
      picked.textContent = t("Chosen: {name}", { name: m.name || m.id });
      search.value = m.name || m.id;
      refresh();
    },
  });

  send.addEventListener("click", async () => {
    send.disabled = true;
    result.replaceChildren(el("p", { class: "qf-hint", text: t("Sending…") }));
    if (!(await saved())) {
      resultLine(result).replaceChildren(el("p", { class: "qf-field-error", role: "alert", text: t("Save the draft first: the test sends the saved message.") }));
      refresh();
      return;
    }
    const body = {};
    if (chosen.member) body.member = chosen.member.id;
    if (sendingToStaff()) body.staff = chosen.staff;
    const path = `/api/flows/${encodeURIComponent(flowId)}/nodes/${encodeURIComponent(nodeId)}/test-send`;
    resultLine(result).replaceChildren(el("p", { class: "qf-hint", text: t("Sending…") }));
    const answer = await api("POST", path, body);
    resultLine(result).replaceChildren(...outcome(answer, lang, t));
    refresh();
  });

  const box = el("fieldset", { class: "qf-test-send", id: "qf-test-send" },
    el("legend", { text: t("Test send") }),
    el("p", { class: "qf-hint", text: t("Send this node's message now to one member or staff account, to see it arrive. It counts toward no limit or report.") }),
    el("div", { class: "qf-test-to", role: "radiogroup", "aria-label": t("Send to") },
      el("label", {}, toMember, ` ${t("a member")}`), el("label", {}, toStaff, ` ${t("a staff account")}`)),
    el("div", { class: "qf-field" }, memberLabel, search, results, picked),
    staffField,
    send,
    result);
  refresh();
  return box;
}

// What the server answered, in words: the status said honestly, and where the delivery is.
function outcome(answer, lang, t) {
  const data = answer.data || {};
  if (!answer.ok) {
    const why = data[lang] || data.message || t("The server refused ({status})", { status: answer.status });
    return [el("p", { class: "qf-field-error", role: "alert", "data-field": data.field || "", text: why })];
  }
  return [
    el("p", { class: `qf-test-status qf-test-status-${data.status}`, "data-status": data.status, text: data.message }),
    el("a", { href: data.link, id: "qf-test-send-link", text: t("See the delivery") }),
  ];
}
