"use strict";

// Where each role starts when no page was asked for.
const HOME = {
  volunteer: "/inbox",
  community_staff: "/dashboard",
  admin: "/dashboard",
  property_manager: "/dashboard",
  resident: "/charging",
};

function safeNext() {
  const next = new URLSearchParams(location.search).get("next") || "";
  // Only paths on this site: never an open redirect.
  return next.startsWith("/") && !next.startsWith("//") ? next : null;
}

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
    location.href = safeNext() || HOME[data.role] || "/inbox";
  } catch (error) {
    formError.textContent = error.message;
  } finally {
    button.disabled = false;
  }
});
