"use strict";

// Where to go after logging in: a page on this site named by ?next=, or null. Never an
// open redirect: browsers read "\" as "/" and drop tabs and line breaks inside an
// address, so "/\evil" and "/<tab>/evil" lead to another site though they start with
// one "/". Such characters are refused, also in the value decoded once more, and what
// is left must resolve to this origin.
const CONTROL_OR_BACKSLASH = /[\\\u0000-\u001f\u007f-\u009f]/;
const SPACE = /\s/;

function safeNext() {
  const next = new URLSearchParams(location.search).get("next"); // already decoded once
  if (!next || !next.startsWith("/") || next.startsWith("//")) return null;
  if (CONTROL_OR_BACKSLASH.test(next) || SPACE.test(next)) return null;
  let decoded;
  try {
    decoded = decodeURIComponent(next);
  } catch {
    return null;
  }
  if (decoded.startsWith("//") || CONTROL_OR_BACKSLASH.test(decoded)) return null;
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return null;
  }
  // The whole address is used, never its path alone: "/.//evil" resolves to the path
  // "//evil", which location.href would read as another site. No page has such a path.
  if (url.origin !== location.origin || url.pathname.startsWith("//")) return null;
  return url;
}

// Why the login form is showing: a page that needs a login sent the browser here, or the
// person just logged out.
function explain() {
  const notice = document.getElementById("login-notice");
  const next = safeNext();
  const asked = next && Object.values(Hub.PAGES).find((p) => next.pathname === p.path);
  if (asked) notice.textContent = asked.asked;
  else if (next) notice.textContent = _("Log in to open that page.");
  else if (new URLSearchParams(location.search).has("bye")) notice.textContent = _("You are logged out.");
  notice.hidden = !notice.textContent;
}
explain();

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const fields = { username: _("Enter your username."), password: _("Enter your password.") };
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
    // The account's own language, if it chose one, is the next page's: the cookie says
    // it from now on (the next page is a new load, so no reload here).
    const me = await Hub.api("/api/v1/auth/me").catch(() => null);
    if (me && me.language) Hub.rememberLanguage(me.language);
    const home = Hub.home(data.role);
    const next = safeNext();
    location.href = next ? next.href : home ? home.path : "/inbox";
  } catch (error) {
    formError.textContent = error.message;
  } finally {
    button.disabled = false;
  }
});
