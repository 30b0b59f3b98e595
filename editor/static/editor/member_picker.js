// A member picked by name (issue #15): as the operator types a part of a name (or of an id) into a
// search field, the members found (GET /api/members?q=) are offered in a list below it, by name;
// choosing one hands her to `choose`. Test send in the editor (testsend.js) and the member filter of
// the runs and deliveries pages (filters.js) pick members with it.
import { el } from "./forms.js";

const SEARCH_DELAY = 250;
const SEARCH_LIMIT = 8;

// The members whose id or name holds `query`, as the API lists them ({id, name, ...}); none when the
// server refuses (a signed-out page says so when it is next loaded).
async function membersFound(query) {
  const params = new URLSearchParams({ q: query, limit: String(SEARCH_LIMIT) });
  const response = await fetch(`/api/members?${params}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) return [];
  try { return (await response.json())?.items || []; } catch { return []; }
}

// Offer the members matching what is typed into `input` in the list `results` (a <ul>). `t(text)`
// says the picker's words; `choose(member)` is called with the member chosen; `choiceClass` is an
// extra class for each choice's button. Returns `clear()`, which empties the list.
export function pickMembers({ input, results, t, choose, choiceClass = "" }) {
  let timer = null;
  let asked = 0;
  const clear = () => {
    ++asked; // an answer still on its way is dropped
    results.replaceChildren();
    results.hidden = true;
  };
  const offer = (found) => {
    results.replaceChildren(...(found.length ? found.map((m) => el("li", {},
      el("button", { type: "button", class: `qf-link qf-member-choice ${choiceClass}`.trim(), "data-member": m.id,
        text: m.name ? `${m.name} · ${m.id}` : m.id,
        onclick: () => { clear(); choose(m); } })))
      : [el("li", { class: "qf-hint", text: t("No member matches.") })]));
    results.hidden = false;
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const query = input.value.trim();
      if (!query) { clear(); return; }
      const mine = ++asked;
      const found = await membersFound(query);
      if (mine === asked) offer(found); // else typed on since
    }, SEARCH_DELAY);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") clear();
    // Down from the field goes to the first member offered.
    if (event.key === "ArrowDown" && !results.hidden) {
      const first = results.querySelector("button");
      if (first) { event.preventDefault(); first.focus(); }
    }
  });
  results.addEventListener("keydown", (event) => {
    const buttons = [...results.querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    if (event.key === "ArrowDown" && at < buttons.length - 1) { event.preventDefault(); buttons[at + 1].focus(); }
    if (event.key === "ArrowUp") { event.preventDefault(); (at > 0 ? buttons[at - 1] : input).focus(); }
    if (event.key === "Escape") { clear(); input.focus(); }
  });
  return { clear };
}
