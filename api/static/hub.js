// Shared by every page: log in, keep the tokens for this tab, call the API, build DOM.
// Text always goes in through textContent, never innerHTML: ticket titles and names
// come from devices and people.
"use strict";

const Hub = (() => {
  const KEY = "chub.auth";

  function saved() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) || "null");
    } catch {
      return null;
    }
  }

  function save(tokens) {
    sessionStorage.setItem(KEY, JSON.stringify(tokens));
  }

  function clear() {
    sessionStorage.removeItem(KEY);
  }

  function toLogin() {
    const next = location.pathname + location.search;
    location.href = "/login?next=" + encodeURIComponent(next);
  }

  function detailOf(data, response) {
    if (data && typeof data.detail === "string") return data.detail;
    if (data && Array.isArray(data.detail)) {
      return data.detail
        .map((e) => `${(e.loc || []).slice(-1)[0] || "input"}: ${e.msg}`)
        .join("; ");
    }
    return `${response.status} ${response.statusText}`;
  }

  function keep(data, previous) {
    save({
      access: data.access_token,
      refresh: data.refresh_token || null,
      role: data.role || (previous && previous.role) || null,
    });
  }

  async function login(username, password) {
    const response = await fetch("/api/v1/auth/token", {
      method: "POST",
      body: new URLSearchParams({ username, password }),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error(detailOf(data, response));
    keep(data, null);
    return data;
  }

  // A new access token from the refresh token, if the API hands those out.
  async function refresh() {
    const tokens = saved();
    if (!tokens || !tokens.refresh) return false;
    const response = await fetch("/api/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: tokens.refresh }),
    });
    if (!response.ok) return false;
    keep(await response.json(), tokens);
    return true;
  }

  async function api(path, options = {}) {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const tokens = saved();
      if (!tokens) {
        toLogin();
        throw new Error("not logged in");
      }
      const headers = { Authorization: `Bearer ${tokens.access}` };
      let body;
      if (options.json !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(options.json);
      }
      const response = await fetch(path, {
        method: options.method || (body === undefined ? "GET" : "POST"),
        headers,
        body,
      });
      if (response.status === 401 && attempt === 0 && (await refresh())) continue;
      if (response.status === 401) {
        clear();
        toLogin();
        throw new Error("your session ended; log in again");
      }
      const data = response.status === 204 ? null : await response.json().catch(() => null);
      if (!response.ok) throw new Error(detailOf(data, response));
      return data;
    }
    throw new Error("unreachable");
  }

  async function logout() {
    const tokens = saved();
    if (tokens && tokens.refresh) {
      await fetch("/api/v1/auth/logout", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: tokens.refresh }),
      }).catch(() => null);
    }
    clear();
    location.href = "/login";
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function when(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }

  return { api, clear, el, login, logout, refresh, saved, toLogin, when, detailOf };
})();
