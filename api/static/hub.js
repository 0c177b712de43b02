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

  // The pages, who may use each, and where each role starts. The API decides what a
  // page can show; this only keeps people from pages that would answer them 403.
  const PAGES = {
    dashboard: {
      path: "/dashboard", label: "Dashboard", noun: "the dashboard",
      roles: ["admin", "property_manager", "community_staff"],
      for: "property managers, community staff and administrators",
    },
    inbox: {
      path: "/inbox", label: "Inbox", noun: "the inbox",
      roles: ["volunteer", "community_staff", "admin", "property_manager"],
      for: "volunteers and the staff who follow their tickets",
    },
    charging: {
      path: "/charging", label: "Charging", noun: "the charging page", roles: ["resident"],
      for: "residents",
    },
  };
  const ROLE_LABEL = {
    admin: "administrator",
    property_manager: "property manager",
    community_staff: "community staff",
    volunteer: "volunteer",
    resident: "resident",
  };
  const HOME = {
    volunteer: "inbox",
    resident: "charging",
    admin: "dashboard",
    property_manager: "dashboard",
    community_staff: "dashboard",
  };

  function pagesFor(role) {
    return Object.entries(PAGES).filter(([, spec]) => spec.roles.includes(role));
  }

  function home(role) {
    const key = HOME[role];
    return key ? PAGES[key] : null;
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

  // A 422's field errors by field name ("title" -> "String should have ..."), so a form
  // can show each next to its input.
  function fieldsOf(data) {
    const fields = {};
    if (data && Array.isArray(data.detail)) {
      for (const e of data.detail) {
        const name = (e.loc || []).slice(-1)[0];
        if (typeof name === "string" && !fields[name]) fields[name] = e.msg;
      }
    }
    return fields;
  }

  function failure(data, response) {
    const error = new Error(detailOf(data, response));
    error.status = response.status;
    error.fields = fieldsOf(data);
    return error;
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
    if (!response.ok) throw failure(data, response);
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
      if (options.text && response.ok) return response.text();
      const data = response.status === 204 ? null : await response.json().catch(() => null);
      if (!response.ok) throw failure(data, response);
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
    location.href = "/login?bye=1";
  }

  // ---- the shared header: the pages this role may use, who is logged in, log out ----

  function renderNav(me, current) {
    const bar = document.querySelector("header.bar");
    if (!bar) return;
    const old = bar.querySelector("nav.site-nav");
    if (old) old.remove();
    const links = me
      ? pagesFor(me.role).map(([key, spec]) => el("a", {
          href: spec.path, "data-nav": key, text: spec.label,
          "aria-current": key === current ? "page" : null,
        }))
      : [];
    const who = me
      ? el("span", { class: "who", id: "nav-who", "data-role": me.role },
          el("strong", { text: me.full_name }), ` · ${ROLE_LABEL[me.role] || me.role}`)
      : null;
    bar.append(el("nav", { class: "site-nav", "aria-label": "Pages" },
      el("span", { class: "links" }, links),
      who,
      el("button", { type: "button", id: "logout", class: "logout", text: "Log out", onclick: logout })));
  }

  // In place of the page's content: why this page is not for you, and where to go.
  function block(title, message, link) {
    const main = document.querySelector("main");
    const card = el("section", { class: "card blocked", id: "blocked", role: "alert" },
      el("h2", { text: title }),
      el("p", { text: message }),
      link ? el("p", {}, el("a", { class: "button", href: link.path, text: `Go to ${link.label}` })) : null);
    main.replaceChildren(card);
  }

  // Every page starts here: not logged in goes to /login (which says why); a role that
  // may not use the page is told so before the page asks for any data. Returns the
  // user (from /auth/me, which every login may read) or null when the page must stop.
  async function start(pageKey) {
    if (!saved()) {
      toLogin();
      return null;
    }
    let me;
    try {
      me = await api("/api/v1/auth/me");
    } catch (error) {
      if (!saved()) return null; // the session ended: api() is on its way to /login
      renderNav(null, pageKey);
      block("Could not load", `Could not check who you are: ${error.message}`, null);
      return null;
    }
    renderNav(me, pageKey);
    const spec = PAGES[pageKey];
    if (!spec.roles.includes(me.role)) {
      const own = home(me.role);
      const noun = spec.noun[0].toUpperCase() + spec.noun.slice(1);
      block(
        `${noun} is not for your account`,
        `${noun} is for ${spec.for}. You are logged in as ` +
          `${me.full_name} (${ROLE_LABEL[me.role] || me.role}).`,
        own,
      );
      document.body.dataset.blocked = "role";
      return null;
    }
    return me;
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

  // A chart the hub drew (hub/reports/charts.py, served as image/svg+xml), as a node for
  // the page. Parsed as an SVG document, never as HTML: the hub escaped every text in it.
  async function chart(path) {
    const text = await api(path, { text: true });
    const root = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
    if (root.namespaceURI !== "http://www.w3.org/2000/svg") throw new Error("the chart did not come");
    return document.importNode(root, true);
  }

  return {
    api, chart, clear, el, login, logout, refresh, saved, toLogin, when, detailOf,
    PAGES, ROLE_LABEL, home, start,
  };
})();
