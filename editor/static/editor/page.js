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
