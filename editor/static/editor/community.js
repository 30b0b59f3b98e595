// The community pages (groups, content, staff, tags, members). A file, not inline scripts or
// handlers, so a Content-Security-Policy of our own files only allows it.

// An upload form (`#qf-upload`) shows its progress bar while htmx sends the file.
const upload = document.getElementById("qf-upload");
if (upload) {
  upload.addEventListener("htmx:xhr:progress", (event) => {
    const bar = document.getElementById("qf-upload-progress");
    bar.hidden = false;
    if (event.detail.lengthComputable) bar.value = (event.detail.loaded / event.detail.total) * 100;
  });
  upload.addEventListener("htmx:beforeRequest", () => {
    document.getElementById("qf-upload-result").textContent = "";
    document.getElementById("qf-flash").hidden = true;
    // Shown from the start: a small file may send no progress event at all.
    const bar = document.getElementById("qf-upload-progress");
    bar.hidden = false;
    bar.value = 0;
  });
}

// A "tick all" box (`data-tick-all="<name>"`) ticks or clears every box of that name.
document.addEventListener("change", (event) => {
  const name = event.target.dataset?.tickAll;
  if (!name) return;
  document.querySelectorAll(`input[type=checkbox][name="${name}"]`).forEach((box) => { box.checked = event.target.checked; });
});

// A form with `data-confirm` asks first — unless the every-page script does that already.
if (!document.querySelector('script[src="/static/editor/page.js"]')) {
  document.addEventListener("submit", (event) => {
    const question = event.target.dataset?.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
}
