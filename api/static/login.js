"use strict";

function safeNext() {
  const next = new URLSearchParams(location.search).get("next") || "";
  // Only paths on this site: never an open redirect.
  return next.startsWith("/") && !next.startsWith("//") ? next : null;
}

// Why the login form is showing: a page that needs a login sent the browser here, or the
// person just logged out.
function explain() {
  const notice = document.getElementById("login-notice");
  const next = safeNext();
  const asked = next && Object.values(Hub.PAGES).find((p) => next.split(/[?#]/)[0] === p.path);
  if (asked) notice.textContent = `Log in to open ${asked.noun}.`;
  else if (next) notice.textContent = "Log in to open that page.";
  else if (new URLSearchParams(location.search).has("bye")) notice.textContent = "You are logged out.";
  notice.hidden = !notice.textContent;
}
explain();

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const fields = { username: "Enter your username.", password: "Enter your password." };
  let ok = true;
  for (const [name, message] of Object.entries(fields)) {
    const input = document.getElementById(name);
    const empty = input.value.trim() === "";
    input.setAttribute("aria-invalid", empty ? "true" : "false");
    document.getElementById(`${name}-error`).textContent = empty ? message : "";
    ok = ok && !empty;
  }
  const formError = document.getElementById("form-error");
  formError.textContent = "";
  if (!ok) return;
  const button = event.submitter || document.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const data = await Hub.login(
      document.getElementById("username").value.trim(),
      document.getElementById("password").value,
    );
    const home = Hub.home(data.role);
    location.href = safeNext() || (home ? home.path : "/inbox");
  } catch (error) {
    formError.textContent = error.message;
  } finally {
    button.disabled = false;
  }
});
