// The canvas's context menu (issue #15): one menu at a time, at the pointer or beside the focused
// node, kept inside the window. The editor says which items a node, a connection or the empty canvas
// offers; this module draws them (role="menu", each a role="menuitem" showing its shortcut), moves
// between them with the arrow keys, Home and End, runs one on Enter, Space or a click, and closes on
// Escape or Tab (focus goes back), on a click elsewhere, on the wheel, a scroll of the page or a resize.
import { el } from "./forms.js";

const EDGE = 4; // px kept free between the menu and the window's edges

let current = null; // the open menu: { element, close(refocus) }

/** Opens a menu of `items` with its top left at (`x`, `y`) in the window, moved in as far as it must
 *  to stay inside it, and focuses its first item. An item is {id, text, shortcut?, run}, or the string
 *  "separator" between groups. Escape closes it and focuses `returnFocus` (else the canvas). */
export function openMenu({ items, x, y, label, returnFocus }) {
  closeMenu();
  const entries = items.filter((item, index) => item !== "separator"
    || (index > 0 && index < items.length - 1 && items[index - 1] !== "separator"));
  const byId = new Map(entries.filter((item) => item !== "separator").map((item) => [item.id, item]));
  const menu = el("div", { class: "qf-menu", id: "qf-context-menu", role: "menu", "aria-label": label },
    ...entries.map((item) => (item === "separator" ? el("div", { class: "qf-menu-separator", role: "separator" }) : menuItem(item))));

  const outside = (event) => { if (!menu.contains(event.target)) close(false); };
  const dismiss = () => close(false);
  function close(refocus) {
    if (current?.element !== menu) return;
    current = null;
    menu.remove();
    window.removeEventListener("pointerdown", outside, true);
    window.removeEventListener("wheel", dismiss, true);
    window.removeEventListener("scroll", dismiss);
    window.removeEventListener("resize", dismiss);
    if (refocus) (returnFocus?.isConnected ? returnFocus : document.getElementById("drawflow"))?.focus({ preventScroll: true });
  }
  const activate = (button) => {
    close(true);
    byId.get(button.dataset.item)?.run();
  };

  window.addEventListener("pointerdown", outside, true);
  window.addEventListener("wheel", dismiss, { capture: true, passive: true });
  window.addEventListener("scroll", dismiss); // the page's own scroll (an element's does not bubble here)
  window.addEventListener("resize", dismiss);
  menu.addEventListener("keydown", (event) => keys(event, menu, close, activate));
  menu.addEventListener("focusout", (event) => { if (event.relatedTarget && !menu.contains(event.relatedTarget)) close(false); });
  // The browser's own menu never opens over ours (a right click on it, or the menu key's own event).
  menu.addEventListener("contextmenu", (event) => event.preventDefault());
  menu.addEventListener("click", (event) => {
    const button = event.target.closest("[role=menuitem]");
    if (button) activate(button);
  });

  document.body.append(menu);
  place(menu, x, y);
  current = { element: menu, close };
  menu.querySelector("[role=menuitem]")?.focus({ preventScroll: true });
  return menu;
}

/** Closes the open menu, if there is one; the focus stays where it is. */
export function closeMenu() {
  current?.close(false);
}

/** Whether `target` lies inside the open menu. */
export function inMenu(target) {
  return Boolean(current && target instanceof Node && current.element.contains(target));
}

function menuItem(item) {
  return el("button", { type: "button", role: "menuitem", tabindex: "-1", class: "qf-menu-item", "data-item": item.id,
    "aria-keyshortcuts": item.shortcut ? item.shortcut.replace(/^Ctrl\+/, "Control+") : undefined },
  el("span", { class: "qf-menu-text", text: item.text }),
  item.shortcut ? el("kbd", { class: "qf-menu-key", text: item.shortcut }) : null);
}

function keys(event, menu, close, activate) {
  const buttons = [...menu.querySelectorAll("[role=menuitem]")];
  const at = buttons.indexOf(document.activeElement);
  const focus = (index) => {
    event.preventDefault();
    buttons[(index + buttons.length) % buttons.length]?.focus();
  };
  if (event.key === "ArrowDown") focus(at + 1);
  else if (event.key === "ArrowUp") focus(at < 0 ? -1 : at - 1);
  else if (event.key === "Home") focus(0);
  else if (event.key === "End") focus(-1);
  else if (["Escape", "Tab", "ContextMenu"].includes(event.key) || (event.key === "F10" && event.shiftKey)) {
    event.preventDefault();
    event.stopPropagation();
    close(true);
  } else if ((event.key === "Enter" || event.key === " ") && at >= 0) {
    event.preventDefault();
    event.stopPropagation();
    activate(buttons[at]);
  }
}

// Down and right of (x, y); where the window ends, up or left of it instead; never past its edges.
function place(menu, x, y) {
  const { width, height } = menu.getBoundingClientRect();
  const right = window.innerWidth - EDGE;
  const bottom = window.innerHeight - EDGE;
  const left = x + width <= right ? x : x - width;
  const top = y + height <= bottom ? y : y - height;
  menu.style.left = `${Math.max(EDGE, Math.min(left, right - width))}px`;
  menu.style.top = `${Math.max(EDGE, Math.min(top, bottom - height))}px`;
}
