// Every page (base.html). A file, not an inline script, so the Content-Security-Policy allows only
// scripts served from here.

// An htmx action the server refused (a stale page, a run retried elsewhere) says why here.
document.addEventListener("htmx:responseError", (event) => {
  const answer = event.detail.xhr;
  let message = `${answer.status} ${answer.statusText}`;
  try { message = JSON.parse(answer.responseText).message || message; } catch { /* not JSON */ }
  const flash = document.getElementById("qf-flash");
  flash.textContent = message;
  flash.hidden = false;
});

// A form with `data-confirm` asks first (an inline onsubmit handler would need 'unsafe-inline').
document.addEventListener("submit", (event) => {
  const question = event.target.dataset?.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// The upload form's progress bar and result (pages with `#qf-upload`): htmx reports the request's
// upload progress as DOM events. Here rather than inline, which the Content-Security-Policy blocks.
const upload = document.getElementById("qf-upload");
if (upload) {
  upload.addEventListener("htmx:xhr:progress", (event) => {
    const bar = document.getElementById("qf-upload-progress");
    bar.hidden = false;
    if (event.detail.lengthComputable) bar.value = event.detail.loaded / event.detail.total * 100;
  });
  upload.addEventListener("htmx:beforeRequest", () => {
    document.getElementById("qf-upload-result").textContent = "";
    document.getElementById("qf-flash").hidden = true;
  });
}

// A "tick all" box (`data-tick-all="<selector>"`) ticks or clears every box the selector finds.
document.addEventListener("change", (event) => {
  const selector = event.target.dataset?.tickAll;
  if (!selector) return;
  document.querySelectorAll(selector).forEach((box) => { box.checked = event.target.checked; });
});
