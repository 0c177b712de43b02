// Shared by every page: its words and times, log in, keep the tokens on this device, call
// the API, build DOM. Text always goes in through textContent, never innerHTML: ticket
// titles and names come from devices and people.
"use strict";

// ---- words: the page's part of the message catalog (hub/i18n/catalogs.py) ----------------
// The page carries its language, its community's zone and its catalog as a JSON data block
// (api/routes/pages.py). _(), ngettext() and pgettext() are what scripts/i18n extracts:
// their first arguments must be plain string literals.

const CHUB = (() => {
  const node = document.getElementById("chub-config");
  let config = {};
  try {
    config = JSON.parse((node && node.textContent) || "{}");
  } catch {
    config = {};
  }
  const language = config.language || document.documentElement.lang || "zh-CN";
  return {
    language,
    timezone: config.timezone || "Asia/Shanghai",
    catalog: config.catalog || {},
    plural: new Intl.PluralRules(language),
  };
})();

// As Python's "%": with params, %(name)s takes a value and %% is a percent sign.
function fillPlaceholders(text, params) {
  if (!params) return text;
  return text.replace(/%\((\w+)\)s|%%/g, (whole, name) => {
    if (whole === "%%") return "%";
    return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole;
  });
}

function _(msgid, params) {
  const text = CHUB.catalog[msgid];
  return fillPlaceholders(typeof text === "string" && text ? text : msgid, params);
}

function ngettext(singular, plural, n, params) {
  const forms = CHUB.catalog[singular];
  const values = { n, ...params };
  if (forms && typeof forms === "object") {
    const text = forms[CHUB.plural.select(n)] || forms.other;
    if (text) return fillPlaceholders(text, values);
  }
  return fillPlaceholders(n === 1 ? singular : plural, values);
}

function pgettext(context, msgid, params) {
  const text = CHUB.catalog[`${context}\u0004${msgid}`];
  return fillPlaceholders(typeof text === "string" && text ? text : msgid, params);
}

const Hub = (() => {
  const KEY = "chub.auth";
  const LANG_COOKIE = "chub_lang";
  const RELOADED = "chub.langReloaded";
  // The community's zone: /auth/me's once logged in, the page's (the first community's)
  // before. Never the browser's: a phone set to another zone still reads local time.
  let zone = CHUB.timezone;

  // The login is kept on the device (localStorage), not per tab: the inbox installed on a
  // phone reopens logged in, and a second tab shares it. Logging out revokes the refresh
  // token on the hub (every token of that login) and forgets it here.
  function saved() {
    try {
      return JSON.parse(localStorage.getItem(KEY) || "null");
    } catch {
      return null;
    }
  }

  function save(tokens) {
    localStorage.setItem(KEY, JSON.stringify(tokens));
  }

  function clear() {
    localStorage.removeItem(KEY);
  }

  // Things to undo before logging out (push.js: this device's push subscription).
  const leaving = [];
  function beforeLogout(job) {
    leaving.push(job);
  }

  function toLogin() {
    const next = location.pathname + location.search;
    location.href = "/login?next=" + encodeURIComponent(next);
  }

  // The pages, who may use each, and where each role starts. The API decides what a
  // page can show; this only keeps people from pages that would answer them 403.
  const PAGES = {
    dashboard: {
      path: "/dashboard", label: _("Dashboard"),
      roles: ["admin", "property_manager", "community_staff"],
      for: _("The dashboard is for property managers, community staff and administrators."),
      blocked: _("The dashboard is not for your account"),
      asked: _("Log in to open the dashboard."),
    },
    inbox: {
      path: "/inbox", label: _("Inbox"),
      roles: ["volunteer", "community_staff", "admin", "property_manager"],
      for: _("The inbox is for volunteers and the staff who follow their tickets."),
      blocked: _("The inbox is not for your account"),
      asked: _("Log in to open the inbox."),
    },
    charging: {
      path: "/charging", label: _("Charging"), roles: ["resident"],
      for: _("The charging page is for residents."),
      blocked: _("The charging page is not for your account"),
      asked: _("Log in to open the charging page."),
    },
  };
  const ROLE_LABEL = {
    admin: pgettext("role", "administrator"),
    property_manager: pgettext("role", "property manager"),
    community_staff: pgettext("role", "community staff"),
    volunteer: pgettext("role", "volunteer"),
    resident: pgettext("role", "resident"),
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

  // The server's reason, in the language it was asked for (Accept-Language below).
  function detailOf(data, response) {
    if (data && typeof data.detail === "string") return data.detail;
    if (data && Array.isArray(data.detail)) {
      return data.detail
        .map((e) => ((e.loc || []).slice(-1)[0] || _("input")) + ": " + e.msg)
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

  // Every call says the page's language: an account that chose none gets its answers
  // (titles, labels, reasons) in the language the page is in.
  function headers(more = {}) {
    return { "Accept-Language": CHUB.language, ...more };
  }

  async function login(username, password) {
    const response = await fetch("/api/v1/auth/token", {
      method: "POST",
      headers: headers(),
      body: new URLSearchParams({ username, password }),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw failure(data, response);
    keep(data, null);
    return data;
  }

  // A new access token from the refresh token, if the API hands those out. A refresh token
  // is single use and the tabs share it: one tab at a time refreshes (a Web Lock), and a
  // tab that finds the token already changed by another takes the new one.
  async function refresh() {
    const seen = saved();
    if (!seen || !seen.refresh) return false;
    if (!navigator.locks) return refreshWith(seen);
    return navigator.locks.request("chub.refresh", async () => {
      const now = saved();
      if (!now || !now.refresh) return false;
      if (now.refresh !== seen.refresh) return true;
      return refreshWith(now);
    });
  }

  async function refreshWith(tokens) {
    const response = await fetch("/api/v1/auth/refresh", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
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
        throw new Error(_("You are not logged in."));
      }
      const sent = headers({ Authorization: `Bearer ${tokens.access}` });
      let body;
      if (options.json !== undefined) {
        sent["Content-Type"] = "application/json";
        body = JSON.stringify(options.json);
      }
      const response = await fetch(path, {
        method: options.method || (body === undefined ? "GET" : "POST"),
        headers: sent,
        body,
      });
      if (response.status === 401 && attempt === 0 && (await refresh())) continue;
      if (response.status === 401) {
        clear();
        toLogin();
        throw new Error(_("Your session ended; log in again."));
      }
      if (options.text && response.ok) return response.text();
      const data = response.status === 204 ? null : await response.json().catch(() => null);
      if (!response.ok) throw failure(data, response);
      return data;
    }
    throw new Error("unreachable");
  }

  async function logout() {
    for (const job of leaving) await Promise.resolve().then(job).catch(() => null);
    const tokens = saved();
    if (tokens && tokens.refresh) {
      await fetch("/api/v1/auth/logout", {
        method: "POST",
        headers: headers({ "Content-Type": "application/json" }),
        body: JSON.stringify({ refresh_token: tokens.refresh }),
      }).catch(() => null);
    }
    clear();
    location.href = "/login?bye=1";
  }

  // ---- the language: a cookie for the pages, the profile for notifications and reports ----

  function rememberLanguage(tag) {
    const year = 365 * 24 * 3600;
    document.cookie = `${LANG_COOKIE}=${encodeURIComponent(tag)}; path=/; max-age=${year}; SameSite=Lax`;
  }

  // The page again, in the language the cookie now names (a ?lang= would outrank it).
  function reload() {
    const url = new URL(location.href);
    url.searchParams.delete("lang");
    location.replace(url.href);
  }

  async function switchLanguage(tag) {
    rememberLanguage(tag);
    if (saved()) {
      // Logged in: the profile keeps it, so notifications and reports follow.
      await api("/api/v1/auth/me", { method: "PATCH", json: { locale: tag } }).catch(() => null);
    }
    reload();
  }

  function wireLanguageSwitch() {
    for (const button of document.querySelectorAll(".lang-switch [data-lang]")) {
      button.addEventListener("click", () => {
        const tag = button.dataset.lang;
        if (tag === CHUB.language) return;
        button.disabled = true;
        switchLanguage(tag);
      });
    }
  }

  // After logging in, the account's language (its own choice, else the one this page
  // asked for) may not be the page's: remember it and show the page again, once.
  function followAccount(me) {
    if (!me.language || me.language === CHUB.language) {
      sessionStorage.removeItem(RELOADED);
      return false;
    }
    rememberLanguage(me.language);
    if (sessionStorage.getItem(RELOADED) === me.language) return false; // no loop
    sessionStorage.setItem(RELOADED, me.language);
    reload();
    return true;
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
    bar.append(el("nav", { class: "site-nav", "aria-label": _("Pages") },
      el("span", { class: "links" }, links),
      who,
      el("button", { type: "button", id: "logout", class: "logout", text: _("Log out"), onclick: logout })));
  }

  // In place of the page's content: why this page is not for you, and where to go.
  function block(title, message, link) {
    const main = document.querySelector("main");
    const card = el("section", { class: "card blocked", id: "blocked", role: "alert" },
      el("h2", { text: title }),
      el("p", { text: message }),
      link
        ? el("p", {}, el("a", {
            class: "button", href: link.path, text: _("Go to %(page)s", { page: link.label }),
          }))
        : null);
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
      block(_("Could not load"), _("Could not check who you are: %(reason)s", { reason: error.message }), null);
      return null;
    }
    if (followAccount(me)) return null;
    if (me.timezone) zone = me.timezone;
    renderNav(me, pageKey);
    const spec = PAGES[pageKey];
    if (!spec.roles.includes(me.role)) {
      block(
        spec.blocked,
        `${spec.for} ` + _("You are logged in as %(name)s (%(role)s).", {
          name: me.full_name, role: ROLE_LABEL[me.role] || me.role,
        }),
        home(me.role),
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

  // ---- times, in the community's zone (as hub/i18n/times.py writes them) ----------------

  // The calendar day and clock of an instant in the community's zone.
  function partsIn(date) {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, year: "numeric", month: "numeric", day: "numeric",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    }).formatToParts(date);
    const get = (type) => Number((parts.find((p) => p.type === type) || {}).value);
    return {
      year: get("year"), month: get("month"), day: get("day"),
      hour: get("hour") % 24, minute: get("minute"), second: get("second"),
    };
  }

  const pad = (n) => String(n).padStart(2, "0");

  function clockOf(parts, seconds) {
    const hm = `${pad(parts.hour)}:${pad(parts.minute)}`;
    return seconds ? `${hm}:${pad(parts.second)}` : hm;
  }

  // "今天 13:27" / "Today 13:27", "12月7日 13:27" / "Dec 7 13:27", the year only when it is
  // not this one; 24-hour. { seconds: true } adds the seconds (a device's history).
  function time(iso, options = {}) {
    if (!iso) return "";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    const local = partsIn(date);
    const today = partsIn(new Date());
    const days = Math.round(
      (Date.UTC(local.year, local.month - 1, local.day) - Date.UTC(today.year, today.month - 1, today.day))
        / 86400000,
    );
    const clock = clockOf(local, options.seconds);
    if (days === 0) return pgettext("day", "Today %(time)s", { time: clock });
    if (days === -1) return pgettext("day", "Yesterday %(time)s", { time: clock });
    if (days === 1) return pgettext("day", "Tomorrow %(time)s", { time: clock });
    const day = new Intl.DateTimeFormat(CHUB.language, {
      timeZone: zone, month: "short", day: "numeric",
      year: local.year === today.year ? undefined : "numeric",
    }).format(date);
    return pgettext("date and time", "%(day)s %(time)s", { day, time: clock });
  }

  // Just the clock in the community's zone: "13:27:05".
  function clock(iso) {
    if (!iso) return "";
    return clockOf(partsIn(new Date(iso)), true);
  }

  // How far an instant is from now: "5分钟后" / "in 5 minutes", "3小时前" / "3 hours ago".
  function relative(iso, now = Date.now()) {
    const seconds = (new Date(iso).getTime() - now) / 1000;
    const format = new Intl.RelativeTimeFormat(CHUB.language, { numeric: "auto" });
    const steps = [[60, "second"], [3600, "minute"], [86400, "hour"], [Infinity, "day"]];
    const sizes = { second: 1, minute: 60, hour: 3600, day: 86400 };
    for (const [limit, unit] of steps) {
      if (Math.abs(seconds) < limit * 1.5 || unit === "day") {
        return format.format(Math.round(seconds / sizes[unit]), unit);
      }
    }
    return "";
  }

  // ---- phone numbers, grouped for reading (hub/i18n/formats.py phone_for_reading) -------

  function phone(number) {
    const raw = String(number || "").trim();
    let digits = (raw.match(/\d+/g) || []).join("");
    if (!digits || digits.length !== raw.replace(/[\s\-()]/g, "").replace(/^\++/, "").length) return raw;
    let prefix = "";
    if (raw.startsWith("+86") || (digits.startsWith("86") && digits.length === 13)) {
      prefix = "+86 ";
      digits = digits.slice(2);
    }
    if (digits.length === 11 && digits.startsWith("1")) {
      return `${prefix}${digits.slice(0, 3)} ${digits.slice(3, 7)} ${digits.slice(7)}`;
    }
    if (!prefix && digits.startsWith("0") && (digits.length === 11 || digits.length === 12)) {
      const area = "12".includes(digits[1]) ? 3 : 4; // 010, 02x: three digits; others four
      const local = digits.slice(area);
      const half = local.length - 4;
      return `${digits.slice(0, area)} ${local.slice(0, half)} ${local.slice(half)}`;
    }
    return raw;
  }

  // A number to call: grouped to read, whole in the tel: address.
  function telLink(number, label) {
    const shown = phone(number);
    return el("a", {
      href: `tel:${String(number).replace(/[^\d+]/g, "")}`,
      text: label ? `${label} ${shown}` : shown,
    });
  }

  // A chart the hub drew (hub/reports/charts.py, served as image/svg+xml), as a node for
  // the page. Parsed as an SVG document, never as HTML: the hub escaped every text in it.
  async function chart(path) {
    const text = await api(path, { text: true });
    const root = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
    if (root.namespaceURI !== "http://www.w3.org/2000/svg") throw new Error(_("The chart did not come."));
    return document.importNode(root, true);
  }

  wireLanguageSwitch();

  return {
    api, beforeLogout, chart, clear, el, login, logout, refresh, saved, toLogin, detailOf,
    PAGES, ROLE_LABEL, home, start, followAccount, rememberLanguage,
    time, when: time, clock, relative, phone, telLink,
    language: CHUB.language,
    get zone() { return zone; },
  };
})();
