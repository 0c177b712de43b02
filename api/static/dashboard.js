// The property manager's dashboard: building health, open tickets by time limit, active
// alerts and two charts of the last 14 days, refreshed every 30 s. A building opens its
// devices; a device opens its detail and recent history. The charts are drawn by the hub
// (hub/reports/charts.py, the reports' engine) and fetched as SVG images.
"use strict";

const REFRESH_MS = 30000;
const state = { building: null, device: null, timer: null, data: null };
const $ = (id) => document.getElementById(id);

function showError(message) {
  $("page-error").textContent = message || "";
}

// ---- small helpers -------------------------------------------------------------------

// Words for the codes the API answers with, where it gives no label of its own.
const SEVERITY = {
  informational: pgettext("severity", "informational"),
  low: pgettext("severity", "low"),
  medium: pgettext("severity", "medium"),
  high: pgettext("severity", "high"),
  critical: pgettext("severity", "critical"),
};
const FAMILY = {
  door_access: pgettext("device family", "door access"),
  lock: pgettext("device family", "lock"),
  wristband: pgettext("device family", "wristband"),
  charger: pgettext("device family", "charger"),
};
const ALERT_STATUS = {
  open: pgettext("alert status", "open"),
  acknowledged: pgettext("alert status", "acknowledged"),
  cleared: pgettext("alert status", "cleared"),
};

// A calendar day the API names ("2026-12-07"), as the reader writes it: 12月7日 / Dec 7.
function dayOf(isoDate) {
  const date = new Date(`${isoDate}T12:00:00Z`);
  if (Number.isNaN(date.getTime())) return isoDate;
  return new Intl.DateTimeFormat(Hub.language, { timeZone: "UTC", month: "short", day: "numeric" }).format(date);
}

function reachOf(online) {
  if (online === true) return [pgettext("device", "online"), "ok"];
  if (online === false) return [pgettext("device", "offline"), "bad"];
  return [pgettext("device", "not reported"), "muted"];
}

// An event kind the API gave no label for: its code, made readable.
function kindLabel(kind) {
  return kind.replace(".", ": ").replaceAll("_", " ");
}

// ---- the page's sections ---------------------------------------------------------------

function tile(name, label, value, tone) {
  return Hub.el("div", { class: `tile ${value > 0 ? tone : "muted"}`, "data-limit": name },
    Hub.el("span", { class: "n", text: value }),
    Hub.el("span", { class: "label", text: label }));
}

function renderLimits(data) {
  const t = data.tickets_by_limit;
  $("limits").replaceChildren(
    tile("overdue", pgettext("time limit", "overdue"), t.overdue, "bad"),
    tile("due_soon", _("due in under %(minutes)s min", { minutes: t.due_soon_minutes }), t.due_soon, "warn"),
    tile("on_time", pgettext("time limit", "on time"), t.on_time, "ok"),
    tile("without_limit", pgettext("time limit", "no time limit"), t.without_limit, "plain"),
    tile("alerts", _("active alerts"), data.active_alerts_total, "bad"),
  );
}

// The hub's own health, as /readyz says it (hub/health.py): its tile and its reasons.
const HEALTH_TONE = { ok: "ok", degraded: "warn", failing: "bad" };
const HEALTH_LABEL = {
  ok: _("the hub does its job"),
  degraded: _("working, with a fault to look at"),
  failing: _("not doing its job"),
};
const HEALTH_STATE = {
  ok: pgettext("hub health", "ok"),
  degraded: pgettext("hub health", "degraded"),
  failing: pgettext("hub health", "failing"),
  unknown: pgettext("hub health", "unknown"),
};

function renderHealth(health) {
  const status = health ? health.status : "unknown";
  $("hub-health").replaceChildren(
    Hub.el("div", { class: `tile ${HEALTH_TONE[status] || "muted"}`, "data-health": status },
      Hub.el("span", { class: "n", text: HEALTH_STATE[status] || status }),
      Hub.el("span", { class: "label", text: HEALTH_LABEL[status] || _("could not ask the hub") })),
  );
  $("hub-health-reasons").replaceChildren(...(health ? health.reasons : []).map((r) =>
    Hub.el("li", { class: `alert ${r.state === "failing" ? "critical" : "medium"}`, "data-reason": r.code },
      Hub.el("span", { class: `badge ${HEALTH_TONE[r.state] || "plain"}`, text: HEALTH_STATE[r.state] || r.state }), " ",
      Hub.el("strong", { text: r.label || r.code.replaceAll("_", " ") }),
      Hub.el("span", { class: "meta", text: ` ${r.detail}` }))));
}

async function loadHealth() {
  try {
    renderHealth(await Hub.api("/api/v1/dashboard/health"));
  } catch (error) {
    renderHealth(null); // the rest of the dashboard still shows
  }
}

function health(b) {
  if (b.faulted > 0 || b.offline > 0) return "bad";
  if (b.low_battery > 0) return "warn";
  if (b.devices > 0 && b.unknown === b.devices) return "unknown";
  return "ok";
}

function count(name, label, value, tone) {
  return Hub.el("li", { class: `count ${value > 0 ? tone : "muted"}`, "data-count": name },
    Hub.el("span", { class: "n", text: value }), ` ${label}`);
}

function buildingCard(b) {
  const open = state.building && state.building.building_id === b.building_id;
  const show = () => openBuilding(b);
  return Hub.el("article", {
    class: `card building health-${health(b)}`, "data-building-id": b.building_id,
    "data-health": health(b), onclick: show,
  },
  Hub.el("h3", {}, Hub.el("button", {
    type: "button", class: "linklike", "aria-expanded": open ? "true" : "false",
    "aria-controls": "building-detail", text: b.name,
    onclick: (event) => { event.stopPropagation(); show(); },
  })),
  Hub.el("p", {
    class: "meta",
    text: b.grid_name + " · " + ngettext("%(n)s device", "%(n)s devices", b.devices),
  }),
  Hub.el("ul", { class: "counts" },
    count("online", pgettext("device", "online"), b.online, "ok"),
    count("offline", pgettext("device", "offline"), b.offline, "bad"),
    count("unknown", pgettext("device", "not reported"), b.unknown, "plain"),
    count("low_battery", pgettext("device", "low battery"), b.low_battery, "warn"),
    count("faulted", pgettext("device", "faulted"), b.faulted, "bad")));
}

function renderBuildings(data) {
  const cards = data.buildings.map(buildingCard);
  $("buildings").replaceChildren(
    ...(cards.length ? cards : [Hub.el("p", { class: "empty", text: _("No buildings to show.") })]),
  );
}

function alertItem(a) {
  const where = [a.device_name || a.device_id, a.building_name].filter(Boolean).join(" · ");
  return Hub.el("li", { class: `alert ${a.severity}`, "data-alert-id": a.id, "data-kind": a.kind },
    Hub.el("p", { class: "line" },
      Hub.el("span", {
        class: `badge ${a.severity}`, text: a.severity_label || SEVERITY[a.severity] || a.severity,
      }), " ",
      Hub.el("span", {
        class: "badge", "data-status": a.status, text: a.status_label || ALERT_STATUS[a.status] || a.status,
      }), " ",
      a.silent ? Hub.el("span", { class: "badge silent", text: pgettext("alert", "silent") }) : null, " ",
      Hub.el("strong", { text: a.summary })),
    Hub.el("p", { class: "meta" },
      `${a.kind_label || kindLabel(a.kind)} · ${where} · `,
      Hub.el("time", {
        datetime: a.opened_at, "data-time": "opened",
        text: _("since %(time)s", { time: Hub.time(a.opened_at) }),
      }),
      a.event_count > 1 ? ` · ×${a.event_count}` : "",
      a.ticket_id ? " · " + _("ticket #%(id)s", { id: a.ticket_id }) : ""));
}

function renderAlerts(data) {
  const items = data.active_alerts.map(alertItem);
  const list = $("alerts");
  list.replaceChildren(
    ...(items.length ? items : [Hub.el("li", { class: "empty", text: _("No active alerts.") })]),
  );
  if (data.active_alerts_total > data.active_alerts.length) {
    list.append(Hub.el("li", {
      class: "meta more",
      text: _("Showing the newest %(shown)s of %(total)s.", {
        shown: data.active_alerts.length, total: data.active_alerts_total,
      }),
    }));
  }
}

async function renderCharts(data) {
  $("days-note").textContent = _(
    "%(first)s to %(last)s (today, so far); days run midnight to midnight, %(zone)s.",
    { first: dayOf(data.first_day), last: dayOf(data.last_day), zone: data.timezone_label || data.timezone },
  );
  const community = data.community_id === null ? "" : `?community_id=${data.community_id}`;
  const [alerts, close] = await Promise.all(
    ["alerts", "close"].map((name) => Hub.chart(`/api/v1/dashboard/charts/${name}.svg${community}`)),
  );
  $("figure-alerts").replaceChildren(alerts);
  $("figure-close").replaceChildren(close);
}

// ---- a building's devices, a device's detail --------------------------------------------

function deviceItem(d) {
  const reach = reachOf(d.online);
  return Hub.el("li", { class: "device", "data-device-id": d.id },
    Hub.el("button", {
      type: "button", class: "linklike", "aria-controls": "device-detail", text: d.name,
      onclick: () => openDevice(d.id),
    }),
    Hub.el("span", { class: "meta", text: " " + (FAMILY[d.family] || d.family) }), " ",
    Hub.el("span", { class: `badge ${reach[1]}`, text: reach[0] }), " ",
    d.battery_pct !== null
      ? Hub.el("span", {
          class: `badge ${d.low_battery ? "warn" : "plain"}`, text: _("battery %(pct)s%%", { pct: d.battery_pct }),
        })
      : null, " ",
    d.faulted ? Hub.el("span", { class: "badge bad", text: pgettext("device", "faulted") }) : null, " ",
    d.active_alerts
      ? Hub.el("span", { class: "badge", text: ngettext("%(n)s alert", "%(n)s alerts", d.active_alerts) })
      : null);
}

async function loadBuilding() {
  const b = state.building;
  if (!b) return;
  const devices = await Hub.api(`/api/v1/dashboard/buildings/${b.building_id}/devices`);
  if (state.building !== b) return; // another building was opened meanwhile
  $("devices").replaceChildren(
    ...(devices.length ? devices.map(deviceItem) : [Hub.el("li", { class: "empty", text: _("No devices.") })]),
  );
}

async function openBuilding(b) {
  state.building = b;
  $("building-name").textContent = `${b.name} · ${b.grid_name}`;
  $("building-detail").hidden = false;
  $("devices").replaceChildren(Hub.el("li", { class: "meta", text: _("loading…") }));
  for (const button of document.querySelectorAll("#buildings button[aria-expanded]")) {
    const card = button.closest("[data-building-id]");
    button.setAttribute("aria-expanded", String(Number(card.dataset.buildingId) === b.building_id));
  }
  try {
    await loadBuilding();
    $("building-detail").scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (error) {
    showError(_("Could not load the building's devices: %(reason)s", { reason: error.message }));
  }
}

function fact(term, value) {
  return [Hub.el("dt", { text: term }), Hub.el("dd", { text: value === null || value === undefined || value === "" ? "—" : value })];
}

function historyRow(e) {
  return Hub.el("tr", { "data-kind": e.kind },
    Hub.el("td", {}, Hub.el("time", { datetime: e.received_at, text: Hub.time(e.received_at, { seconds: true }) })),
    Hub.el("td", {}, Hub.el("span", { class: `badge ${e.severity}`, text: e.kind_label || kindLabel(e.kind) })),
    // The hub words what the event said (known facts only); its codes stay in the API.
    Hub.el("td", { class: "values", text: e.values_label || "—" }));
}

// The device's charts of the last 24 hours: which ones, the hub decides (by family, and
// vitals only for those who may see them); each comes drawn.
async function loadTelemetry(device) {
  const path = `/api/v1/devices/${encodeURIComponent(device.id)}/charts`;
  const { charts } = await Hub.api(path);
  const drawn = await Promise.all(charts.map((c) => Hub.chart(`${path}/${encodeURIComponent(c.name)}.svg`)));
  $("device-telemetry").replaceChildren(...drawn);
}

async function loadDevice() {
  const id = state.device;
  if (!id) return;
  const path = `/api/v1/devices/${encodeURIComponent(id)}`;
  const [device, history] = await Promise.all([Hub.api(path), Hub.api(`${path}/events?limit=20`)]);
  if (state.device !== id) return;
  $("device-name").textContent = device.name;
  const reach = reachOf(device.online)[0];
  $("device-facts").replaceChildren(
    ...fact(_("Device"), `${device.id} (${FAMILY[device.family] || device.family}, ${device.protocol})`),
    ...fact(_("Reachable"), device.availability_reason ? `${reach} (${device.availability_reason_label || device.availability_reason})` : reach),
    ...fact(_("Battery"), device.battery_pct === null ? null : `${device.battery_pct}%`),
    ...fact(_("Last seen"), Hub.time(device.last_seen_at)),
    ...fact(_("State"), device.state_label),
  );
  try {
    await loadTelemetry(device);
  } catch (error) {
    $("device-telemetry").replaceChildren(Hub.el("p", { class: "meta", text: _("No chart: %(reason)s", { reason: error.message }) }));
  }
  const rows = history.items.map(historyRow);
  $("history").tBodies[0].replaceChildren(
    ...(rows.length ? rows : [Hub.el("tr", {}, Hub.el("td", { colspan: 3, class: "empty", text: _("No events yet.") }))]),
  );
}

async function openDevice(id) {
  state.device = id;
  $("device-detail").hidden = false;
  $("device-name").textContent = id;
  try {
    await loadDevice();
    $("device-detail").scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (error) {
    showError(_("Could not load the device: %(reason)s", { reason: error.message }));
  }
}

// ---- loading and refreshing ------------------------------------------------------------

async function refresh() {
  try {
    const data = await Hub.api("/api/v1/dashboard");
    state.data = data;
    if (state.building) {
      state.building = data.buildings.find((b) => b.building_id === state.building.building_id) || null;
      if (!state.building) $("building-detail").hidden = true;
    }
    renderLimits(data);
    renderBuildings(data);
    renderAlerts(data);
    await Promise.all([renderCharts(data), loadBuilding(), loadDevice(), loadHealth()]);
    const pill = $("updated");
    pill.textContent = _("updated %(time)s", { time: Hub.clock(data.generated_at) });
    pill.className = "pill live";
    pill.dataset.state = "fresh";
    showError("");
  } catch (error) {
    const pill = $("updated");
    pill.textContent = _("not updated");
    pill.className = "pill down";
    pill.dataset.state = "stale";
    showError(_("Could not load the dashboard: %(reason)s", { reason: error.message }));
  }
}

async function start() {
  // Who may see the dashboard is decided in hub.js (Hub.PAGES), with the other pages.
  const me = await Hub.start("dashboard");
  if (!me) {
    $("updated").hidden = true;
    return;
  }
  $("building-close").addEventListener("click", () => {
    state.building = null;
    $("building-detail").hidden = true;
  });
  $("device-close").addEventListener("click", () => {
    state.device = null;
    $("device-detail").hidden = true;
  });
  await refresh();
  state.timer = setInterval(refresh, REFRESH_MS);
}

start();
