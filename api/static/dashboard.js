// The property manager's dashboard: building health, open tickets by time limit, active
// alerts and two charts of the last 14 days, refreshed every 30 s. A building opens its
// devices; a device opens its detail and recent history. Charts are SVG built here with
// createElementNS and textContent, like the rest of the DOM: no markup strings.
"use strict";

const REFRESH_MS = 30000;
// Okabe-Ito, as the reports' charts (hub/reports/charts.py): readable with colour blindness.
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D1F", "#000000"];
const OTHER_COLOR = "#999999";
const KEEP_KINDS = 7;
const SVG_NS = "http://www.w3.org/2000/svg";
const CHART = { w: 380, h: 240, left: 36, right: 8, top: 30, bottom: 30 };

const state = { building: null, device: null, timer: null, data: null, role: null };
const $ = (id) => document.getElementById(id);

function showError(message) {
  $("page-error").textContent = message || "";
}

// ---- small helpers -------------------------------------------------------------------

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many || one + "s"}`;
}

function clock(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString([], {
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

function shortValue(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 60 ? text.slice(0, 57) + "…" : text;
}

function summarise(values) {
  const entries = Object.entries(values || {});
  if (!entries.length) return "—";
  return entries.map(([k, v]) => `${k}: ${shortValue(v)}`).join(", ");
}

function kindLabel(kind) {
  return kind.replace(".", ": ").replaceAll("_", " ");
}

// ---- charts --------------------------------------------------------------------------

// Grid lines with their values and the axis label, the same on every chart.
function yAxis(ticks, yOf, plotH, yLabel) {
  const parts = [];
  for (const tick of ticks) {
    const y = yOf(tick);
    parts.push(svg("line", {
      x1: CHART.left, y1: y, x2: CHART.w - CHART.right, y2: y,
      stroke: tick === 0 ? "#555" : "#e3e3e3", "stroke-width": 1,
    }));
    parts.push(svg("text", {
      x: CHART.left - 6, y: y + 4, "font-size": 11, "text-anchor": "end", fill: "#555", text: tick,
    }));
  }
  const mid = CHART.top + plotH / 2;
  parts.push(svg("text", {
    x: 11, y: mid, "font-size": 11, fill: "#555", "text-anchor": "middle",
    transform: `rotate(-90 11 ${mid})`, text: yLabel,
  }));
  return parts;
}

function niceTicks(largest, target = 5) {
  if (!(largest > 0)) return [0, 1];
  const raw = Math.max(largest / target, 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, Math.round([1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)));
  const top = Math.ceil(largest / step) * step;
  const ticks = [];
  for (let t = 0; t <= top; t += step) ticks.push(t);
  return ticks;
}

function legend(series, y) {
  const items = [];
  let x = CHART.left;
  let row = 0;
  for (const s of series) {
    const width = 18 + 6.4 * s.name.length + 14;
    if (x + width > CHART.w - CHART.right && x > CHART.left) {
      x = CHART.left;
      row += 1;
    }
    const top = y + row * 18;
    items.push(svg("g", { class: "legend-item", "data-series": s.name },
      svg("rect", { x, y: top, width: 12, height: 12, fill: s.color }),
      svg("text", { x: x + 17, y: top + 10.5, "font-size": 12, fill: "#333", text: s.name })));
    x += width;
  }
  return { items, height: series.length ? (row + 1) * 18 + 6 : 0 };
}

// A vertical bar chart (stacked, or one series) with gridlines, a legend and an optional
// dashed reference line. Every bar is <rect class="bar"> with data-series, data-category,
// data-value and a <title>, like the reports' charts.
function barChart({ id, title, summary, categories, series, yLabel, labelEvery = 1, reference }) {
  const n = categories.length;
  const plotW = CHART.w - CHART.left - CHART.right;
  const plotH = CHART.h - CHART.top - CHART.bottom;
  const base = CHART.top + plotH;
  const totals = categories.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const largest = Math.max(0, ...totals, reference ? reference.value : 0);
  const ticks = niceTicks(largest);
  const top = ticks[ticks.length - 1];
  const slot = plotW / Math.max(n, 1);
  const column = slot * 0.7;
  const yOf = (value) => base - (plotH * value) / top;
  const parts = [];

  parts.push(...yAxis(ticks, yOf, plotH, yLabel));
  const mid = CHART.top + plotH / 2; // where an empty chart says so
  categories.forEach((category, i) => {
    const x = CHART.left + slot * i + (slot - column) / 2;
    let stack = 0;
    for (const s of series) {
      const value = s.values[i] || 0;
      if (value <= 0) continue;
      const yTop = yOf(stack + value);
      const yBottom = yOf(stack);
      stack += value;
      const label = s.titles ? s.titles[i] : `${category} · ${s.name}: ${value}`;
      parts.push(svg("rect", {
        class: "bar", "data-series": s.name, "data-category": category, "data-value": value,
        x: x.toFixed(1), y: yTop.toFixed(1), width: column.toFixed(1),
        height: Math.max(yBottom - yTop, 0.5).toFixed(1), fill: s.color,
      }, svg("title", { text: label })));
    }
    if ((n - 1 - i) % labelEvery === 0) { // counted from today, which is always labelled
      parts.push(svg("text", {
        x: (CHART.left + slot * (i + 0.5)).toFixed(1), y: base + 15, "font-size": 11,
        "text-anchor": "middle", fill: "#333", text: category,
      }));
    }
  });
  if (reference && reference.value > 0) {
    const y = yOf(reference.value);
    parts.push(svg("g", { class: "reference", "data-value": reference.value },
      svg("line", {
        x1: CHART.left, y1: y, x2: CHART.w - CHART.right, y2: y,
        stroke: "#c62828", "stroke-width": 1.5, "stroke-dasharray": "5 4",
      }),
      svg("text", {
        x: CHART.w - CHART.right, y: y - 4, "font-size": 11, "text-anchor": "end",
        fill: "#c62828", text: reference.label,
      }),
      svg("title", { text: reference.label })));
  }
  if (largest === 0) {
    parts.push(svg("text", {
      x: CHART.left + plotW / 2, y: mid, "font-size": 13, "text-anchor": "middle", fill: "#777",
      text: "nothing to show",
    }));
  }
  const key = legend(series, CHART.h - 4);
  const height = CHART.h + key.height;
  return svg("svg", {
    id, class: "chart-svg", viewBox: `0 0 ${CHART.w} ${height}`, width: "100%",
    role: "img", "aria-label": `${title}. ${summary}`,
  },
  svg("title", { text: title }),
  svg("desc", { text: summary }),
  svg("text", { x: CHART.left, y: 17, "font-size": 14, "font-weight": 600, fill: "#222", text: title }),
  parts, key.items);
}

// A line chart of a device's telemetry over time (GET /api/v1/devices/{id}/telemetry): one
// <path class="line"> per series with data-series and data-points, axes like barChart's.
function lineChart({ id, title, summary, series, yLabel, since, until }) {
  const plotW = CHART.w - CHART.left - CHART.right;
  const plotH = CHART.h - CHART.top - CHART.bottom;
  const base = CHART.top + plotH;
  const t0 = since.getTime();
  const span = Math.max(until.getTime() - t0, 1);
  const largest = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v)));
  const ticks = niceTicks(largest);
  const top = ticks[ticks.length - 1];
  const xOf = (t) => CHART.left + (plotW * (t.getTime() - t0)) / span;
  const yOf = (value) => base - (plotH * value) / top;
  const parts = [];
  parts.push(...yAxis(ticks, yOf, plotH, yLabel));
  const mid = CHART.top + plotH / 2; // where an empty chart says so
  [since, new Date(t0 + span / 2), until].forEach((t, i) => {
    parts.push(svg("text", {
      x: xOf(t).toFixed(1), y: base + 15, "font-size": 11, fill: "#333",
      "text-anchor": ["start", "middle", "end"][i],
      text: t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    }));
  });
  for (const s of series) {
    if (!s.points.length) continue;
    const d = s.points.map((p, i) => `${i ? "L" : "M"}${xOf(p.t).toFixed(1)} ${yOf(p.v).toFixed(1)}`).join(" ");
    parts.push(svg("path", {
      class: "line", "data-series": s.name, "data-points": s.points.length, d,
      fill: "none", stroke: s.color, "stroke-width": 2,
    }, svg("title", { text: `${s.name}: ${s.points.length} values` })));
    // Few readings: dots too, or a single one (or several at one instant) would not show.
    if (s.points.length <= 100) {
      for (const p of s.points) {
        parts.push(svg("circle", {
          class: "dot", "data-series": s.name, cx: xOf(p.t).toFixed(1), cy: yOf(p.v).toFixed(1),
          r: 2.5, fill: s.color,
        }, svg("title", { text: `${clock(p.t.toISOString())}: ${tidy(p.v)}` })));
      }
    }
  }
  if (!series.some((s) => s.points.length)) {
    parts.push(svg("text", {
      x: CHART.left + plotW / 2, y: mid, "font-size": 13, "text-anchor": "middle", fill: "#777",
      text: "nothing to show",
    }));
  }
  const key = legend(series, CHART.h - 4);
  return svg("svg", {
    id, class: "chart-svg", viewBox: `0 0 ${CHART.w} ${CHART.h + key.height}`, width: "100%",
    role: "img", "aria-label": `${title}. ${summary}`,
  },
  svg("title", { text: title }),
  svg("desc", { text: summary }),
  svg("text", { x: CHART.left, y: 17, "font-size": 14, "font-weight": 600, fill: "#222", text: title }),
  parts, key.items);
}

function dayLabel(isoDate) {
  return isoDate.slice(5); // MM-DD
}

function alertsChart(data) {
  const days = data.alerts_per_day;
  const categories = days.map((d) => dayLabel(d.date));
  const kept = data.alert_kinds.slice(0, KEEP_KINDS);
  const rest = data.alert_kinds.slice(KEEP_KINDS);
  const series = kept.map((kind, i) => ({
    name: kind, color: PALETTE[i % PALETTE.length], values: days.map((d) => d.by_kind[kind] || 0),
  }));
  if (rest.length) {
    series.push({
      name: `other (${rest.length} kinds)`, color: OTHER_COLOR,
      values: days.map((d) => rest.reduce((sum, k) => sum + (d.by_kind[k] || 0), 0)),
    });
  }
  const total = days.reduce((sum, d) => sum + d.total, 0);
  const busiest = days.reduce((best, d) => (d.total > best.total ? d : best), days[0]);
  const summary = total
    ? `${plural(total, "alert")} in 14 days, ${plural(data.alert_kinds.length, "kind")}; most on ${busiest.date} (${busiest.total}).`
    : "No alerts in 14 days.";
  return barChart({
    id: "chart-alerts", title: "Alerts opened per day, by kind", summary, categories, series,
    yLabel: "alerts", labelEvery: 2,
  });
}

// Figures as people read them: 2 significant digits below 10, whole numbers above.
function tidy(value) {
  if (value >= 10) return Math.round(value);
  return Number(value.toPrecision(2));
}

function closeChart(data) {
  const close = data.time_to_close;
  const medians = close.days.map((d) => d.median_hours).filter((v) => v !== null);
  const largest = Math.max(0, ...medians, close.median_hours || 0);
  // Short times read better in minutes or seconds.
  const [unit, factor, axis] = largest >= 2 ? ["h", 1, "hours"]
    : largest * 60 >= 2 ? ["min", 60, "minutes"] : ["s", 3600, "seconds"];
  const scale = (hours) => (hours === null ? 0 : tidy(hours * factor));
  const categories = close.days.map((d) => dayLabel(d.date));
  const series = [{
    name: "median time to close", color: PALETTE[0],
    values: close.days.map((d) => scale(d.median_hours)),
    titles: close.days.map((d) => (d.closed
      ? `${d.date}: median ${scale(d.median_hours)} ${unit}, ${plural(d.closed, "ticket")} closed`
      : `${d.date}: no tickets closed`)),
  }];
  const overall = close.median_hours === null ? null : scale(close.median_hours);
  const summary = close.closed
    ? `${plural(close.closed, "ticket")} closed in 14 days; median ${overall} ${unit} from registered to closed.`
    : "No tickets closed in 14 days.";
  return barChart({
    id: "chart-close", title: "Median time to close, by day closed", summary, categories, series,
    yLabel: axis, labelEvery: 2,
    reference: overall ? { value: overall, label: `14-day median ${overall} ${unit}` } : null,
  });
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
    tile("overdue", "overdue", t.overdue, "bad"),
    tile("due_soon", `due in < ${t.due_soon_minutes} min`, t.due_soon, "warn"),
    tile("on_time", "on time", t.on_time, "ok"),
    tile("without_limit", "no time limit", t.without_limit, "plain"),
    tile("alerts", "active alerts", data.active_alerts_total, "bad"),
  );
}

// The hub's own health, as /readyz says it (hub/health.py): its tile and its reasons.
const HEALTH_TONE = { ok: "ok", degraded: "warn", failing: "bad" };
const HEALTH_LABEL = {
  ok: "the hub does its job",
  degraded: "working, with a fault to look at",
  failing: "not doing its job",
};

function renderHealth(health) {
  const status = health ? health.status : "unknown";
  $("hub-health").replaceChildren(
    Hub.el("div", { class: `tile ${HEALTH_TONE[status] || "muted"}`, "data-health": status },
      Hub.el("span", { class: "n", text: status }),
      Hub.el("span", { class: "label", text: HEALTH_LABEL[status] || "could not ask the hub" })),
  );
  $("hub-health-reasons").replaceChildren(...(health ? health.reasons : []).map((r) =>
    Hub.el("li", { class: `alert ${r.state === "failing" ? "critical" : "medium"}`, "data-reason": r.code },
      Hub.el("span", { class: `badge ${HEALTH_TONE[r.state] || "plain"}`, text: r.state }), " ",
      Hub.el("strong", { text: r.code.replaceAll("_", " ") }),
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
  Hub.el("p", { class: "meta", text: `${b.grid_name} · ${plural(b.devices, "device")}` }),
  Hub.el("ul", { class: "counts" },
    count("online", "online", b.online, "ok"),
    count("offline", "offline", b.offline, "bad"),
    count("unknown", "not reported", b.unknown, "plain"),
    count("low_battery", "low battery", b.low_battery, "warn"),
    count("faulted", "faulted", b.faulted, "bad")));
}

function renderBuildings(data) {
  const cards = data.buildings.map(buildingCard);
  $("buildings").replaceChildren(
    ...(cards.length ? cards : [Hub.el("p", { class: "empty", text: "No buildings to show." })]),
  );
}

function alertItem(a) {
  const where = [a.device_name || a.device_id, a.building_name].filter(Boolean).join(" · ");
  return Hub.el("li", { class: `alert ${a.severity}`, "data-alert-id": a.id, "data-kind": a.kind },
    Hub.el("p", { class: "line" },
      Hub.el("span", { class: `badge ${a.severity}`, text: a.severity }), " ",
      Hub.el("span", { class: "badge", "data-status": a.status, text: a.status }), " ",
      a.silent ? Hub.el("span", { class: "badge silent", text: "silent" }) : null, " ",
      Hub.el("strong", { text: a.summary })),
    Hub.el("p", { class: "meta" },
      `${kindLabel(a.kind)} · ${where} · since ${Hub.when(a.opened_at)}`,
      a.event_count > 1 ? ` · ×${a.event_count}` : "",
      a.ticket_id ? ` · ticket #${a.ticket_id}` : ""));
}

function renderAlerts(data) {
  const items = data.active_alerts.map(alertItem);
  const list = $("alerts");
  list.replaceChildren(
    ...(items.length ? items : [Hub.el("li", { class: "empty", text: "No active alerts." })]),
  );
  if (data.active_alerts_total > data.active_alerts.length) {
    list.append(Hub.el("li", {
      class: "meta more",
      text: `Showing the newest ${data.active_alerts.length} of ${data.active_alerts_total}.`,
    }));
  }
}

function renderCharts(data) {
  $("days-note").textContent =
    `${data.first_day} to ${data.last_day} (today, so far); days run midnight to midnight, ${data.timezone}.`;
  $("figure-alerts").replaceChildren(alertsChart(data));
  $("figure-close").replaceChildren(closeChart(data));
}

// ---- a building's devices, a device's detail --------------------------------------------

function deviceItem(d) {
  const reach = d.online === true ? ["online", "ok"] : d.online === false ? ["offline", "bad"] : ["not reported", "muted"];
  return Hub.el("li", { class: "device", "data-device-id": d.id },
    Hub.el("button", {
      type: "button", class: "linklike", "aria-controls": "device-detail", text: d.name,
      onclick: () => openDevice(d.id),
    }),
    Hub.el("span", { class: "meta", text: ` ${d.family}` }), " ",
    Hub.el("span", { class: `badge ${reach[1]}`, text: reach[0] }), " ",
    d.battery_pct !== null
      ? Hub.el("span", { class: `badge ${d.low_battery ? "warn" : "plain"}`, text: `battery ${d.battery_pct}%` })
      : null, " ",
    d.faulted ? Hub.el("span", { class: "badge bad", text: "faulted" }) : null, " ",
    d.active_alerts ? Hub.el("span", { class: "badge", text: plural(d.active_alerts, "alert") }) : null);
}

async function loadBuilding() {
  const b = state.building;
  if (!b) return;
  const devices = await Hub.api(`/api/v1/dashboard/buildings/${b.building_id}/devices`);
  if (state.building !== b) return; // another building was opened meanwhile
  $("devices").replaceChildren(
    ...(devices.length ? devices.map(deviceItem) : [Hub.el("li", { class: "empty", text: "No devices." })]),
  );
}

async function openBuilding(b) {
  state.building = b;
  $("building-name").textContent = `${b.name} · ${b.grid_name}`;
  $("building-detail").hidden = false;
  $("devices").replaceChildren(Hub.el("li", { class: "meta", text: "loading…" }));
  for (const button of document.querySelectorAll("#buildings button[aria-expanded]")) {
    const card = button.closest("[data-building-id]");
    button.setAttribute("aria-expanded", String(Number(card.dataset.buildingId) === b.building_id));
  }
  try {
    await loadBuilding();
    $("building-detail").scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (error) {
    showError(`Could not load the building's devices: ${error.message}`);
  }
}

function fact(term, value) {
  return [Hub.el("dt", { text: term }), Hub.el("dd", { text: value === null || value === undefined || value === "" ? "—" : value })];
}

function historyRow(e) {
  return Hub.el("tr", { "data-kind": e.kind },
    Hub.el("td", { text: clock(e.received_at) }),
    Hub.el("td", {}, Hub.el("span", { class: `badge ${e.severity}`, text: e.kind })),
    Hub.el("td", { class: "values", text: summarise(e.values) }));
}

// What a device's chart shows, by family: what everybody who sees the device may see
// (vitals are not for the property manager; hub.users.scope.sees_vitals).
const TELEMETRY_CHART = {
  charger: { measurement: "charger", field: "power_w", label: "Power", unit: "W" },
  door_access: { measurement: "gate_passes", field: "count", label: "Passes per hour", unit: "passes", resolution: "1h", counts: true },
  wristband: { measurement: "battery", field: "percent", label: "Battery", unit: "%" },
  lock: { measurement: "battery", field: "percent", label: "Battery", unit: "%" },
};
// Roles the API shows a wearer's vitals to (hub.users.scope.sees_vitals): they get the
// heart rate and the blood pressure; a property manager gets the wristband's battery,
// as for any device.
const VITALS_ROLES = ["admin", "community_staff"];
const VITALS_CHARTS = [
  { measurement: "vitals", field: "heart_rate", label: "Heart rate", unit: "bpm" },
  {
    id: "chart-blood-pressure", measurement: "vitals", label: "Blood pressure", unit: "mmHg",
    fields: [["systolic", "Systolic"], ["diastolic", "Diastolic"]],
  },
];

function telemetryCharts(device) {
  if (device.family === "wristband" && VITALS_ROLES.includes(state.role)) return VITALS_CHARTS;
  return TELEMETRY_CHART[device.family] ? [TELEMETRY_CHART[device.family]] : [];
}

// One chart: a series per field and per tag set (a charger's ports), over the last 24 hours.
async function telemetryFigure(device, chart, since, until) {
  const fields = chart.fields || [[chart.field, chart.label]];
  const answers = await Promise.all(fields.map(([field]) => {
    const query = new URLSearchParams({
      measurement: chart.measurement, field, since: since.toISOString(), until: until.toISOString(),
    });
    if (chart.resolution) query.set("resolution", chart.resolution);
    return Hub.api(`/api/v1/devices/${encodeURIComponent(device.id)}/telemetry?${query}`);
  }));
  const series = answers.flatMap((data, f) => data.series.map((s) => {
    // A device's family is the same on all its series: only a port or a direction tells them apart.
    const tags = Object.entries(s.tags).filter(([k]) => k !== "family").map(([k, v]) => `${k} ${v}`);
    return {
      name: [fields.length > 1 ? fields[f][1] : "", ...tags].filter(Boolean).join(", ") || chart.label,
      points: s.values.map((v) => ({ t: new Date(v.t), v: chart.counts ? v.count : v.avg })),
    };
  })).map((s, i) => ({ ...s, color: PALETTE[i % PALETTE.length] }));
  const values = series.reduce((n, s) => n + s.points.length, 0);
  const summary = values
    ? `${plural(values, "value")} in the last 24 hours (${answers[0].resolution}).`
    : "No readings in the last 24 hours.";
  return lineChart({
    id: chart.id || "chart-telemetry", title: `${chart.label}, last 24 hours`, summary, series,
    yLabel: chart.unit, since, until,
  });
}

async function loadTelemetry(device) {
  const until = new Date();
  const since = new Date(until.getTime() - 24 * 3600 * 1000);
  const charts = await Promise.all(
    telemetryCharts(device).map((chart) => telemetryFigure(device, chart, since, until)),
  );
  $("device-telemetry").replaceChildren(...charts);
}

async function loadDevice() {
  const id = state.device;
  if (!id) return;
  const path = `/api/v1/devices/${encodeURIComponent(id)}`;
  const [device, history] = await Promise.all([Hub.api(path), Hub.api(`${path}/events?limit=20`)]);
  if (state.device !== id) return;
  $("device-name").textContent = device.name;
  const reach = device.online === true ? "online" : device.online === false ? "offline" : "not reported";
  $("device-facts").replaceChildren(
    ...fact("Device", `${device.id} (${device.family}, ${device.protocol})`),
    ...fact("Reachable", device.availability_reason ? `${reach} (${device.availability_reason})` : reach),
    ...fact("Battery", device.battery_pct === null ? null : `${device.battery_pct}%`),
    ...fact("Last seen", Hub.when(device.last_seen_at)),
    ...fact("State", summarise(device.state)),
  );
  try {
    await loadTelemetry(device);
  } catch (error) {
    $("device-telemetry").replaceChildren(Hub.el("p", { class: "meta", text: `No chart: ${error.message}` }));
  }
  const rows = history.items.map(historyRow);
  $("history").tBodies[0].replaceChildren(
    ...(rows.length ? rows : [Hub.el("tr", {}, Hub.el("td", { colspan: 3, class: "empty", text: "No events yet." }))]),
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
    showError(`Could not load the device: ${error.message}`);
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
    renderCharts(data);
    await Promise.all([loadBuilding(), loadDevice(), loadHealth()]);
    const pill = $("updated");
    pill.textContent = `updated ${new Date(data.generated_at).toLocaleTimeString()}`;
    pill.className = "pill live";
    pill.dataset.state = "fresh";
    showError("");
  } catch (error) {
    const pill = $("updated");
    pill.textContent = "not updated";
    pill.className = "pill down";
    pill.dataset.state = "stale";
    showError(`Could not load the dashboard: ${error.message}`);
  }
}

async function start() {
  // Who may see the dashboard is decided in hub.js (Hub.PAGES), with the other pages.
  const me = await Hub.start("dashboard");
  if (!me) {
    $("updated").hidden = true;
    return;
  }
  state.role = me.role;
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
