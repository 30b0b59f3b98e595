// The member filter of the runs and deliveries pages (issue #15): the operator types a part of a name
// and picks the member from the list (member_picker.js); the field shows her name and the form sends
// her id. What is typed and not picked is sent as typed, and the server looks it up — as it does for
// the plain form when scripts are off.
import { pickMembers } from "./member_picker.js";

// Fields already given a picker (htmx may put back a page from its history: those fields are new).
const ready = new WeakSet();

function memberField(input) {
  if (ready.has(input)) return;
  ready.add(input);
  const results = document.getElementById(input.getAttribute("aria-controls"));
  const words = { "No member matches.": input.dataset.noMatch };
  const t = (text) => words[text] || text;
  const form = input.form;
  const { clear } = pickMembers({
    input,
    results,
    t,
    choose: (member) => {
      input.value = member.name || member.id;
      input.dataset.memberId = member.id;
      input.dataset.memberName = input.value;
      form.requestSubmit();
    },
  });
  // The page's filter reloads on every change of a field; this one filters when a member is picked
  // or Enter is pressed, not each time it loses the focus halfway through a name.
  input.addEventListener("change", (event) => event.stopPropagation());
  // The field says her name; the request says her id, unless the text was changed since.
  form.addEventListener("htmx:configRequest", (event) => {
    const chosen = input.dataset.memberId;
    if (chosen && input.value === input.dataset.memberName) event.detail.parameters.set("member", chosen);
  });
  // A click elsewhere closes the list.
  document.addEventListener("click", (event) => {
    if (!results.hidden && !results.contains(event.target) && event.target !== input) clear();
  });
}

function setUp() {
  document.querySelectorAll("input[data-member-picker]").forEach(memberField);
}

setUp();
document.addEventListener("htmx:historyRestore", setUp);
