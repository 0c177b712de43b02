// Resident charging: the community's stations port by port, reserving a free port for
// a set time, one's own reservations (cancel), the household's devices, and a problem
// report. Status refreshes every 15 s, so a port someone else just took shows it.
"use strict";

const $ = (id) => document.getElementById(id);
const MINUTES = [15, 30, 60, 120]; // the choices offered; the API takes 15 to 120
const LABEL = {
  available: pgettext("port", "free"),
  charging: pgettext("port", "charging"),
  reserved: pgettext("port", "reserved"),
  out_of_order: pgettext("port", "out of order"),
  unknown: pgettext("port", "unknown"),
};
const RESERVATION = {
  active: pgettext("reservation", "active"),
  cancelled: pgettext("reservation", "cancelled"),
  expired: pgettext("reservation", "expired"),
  used: pgettext("reservation", "used"),
};

function showError(message) {
  $("page-error").textContent = message || "";
}

function portRow(charger, port) {
  const status = port.reserved_by_me
    ? pgettext("port", "reserved for you")
    : port.availability_label || LABEL[port.availability] || port.availability;
  const reserve = port.availability === "available"
    ? Hub.el("button", {
        type: "button",
        "data-reserve": `${charger.device_id}:${port.port}`,
        text: _("Reserve"),
        onclick: async (event) => {
          const button = event.currentTarget;
          const minutes = Number($("minutes").value);
          // Outside the page's own error line: the 15 s refresh rebuilds the port rows.
          const errorLine = $("reserve-error");
          errorLine.textContent = "";
          if (!MINUTES.includes(minutes)) {
            errorLine.textContent = _("Choose how long to reserve for: 15 minutes to 2 hours.");
            return;
          }
          button.disabled = true;
          try {
            await Hub.api(
              `/api/v1/chargers/${encodeURIComponent(charger.device_id)}/ports/${port.port}/reservations`,
              { json: { minutes } },
            );
            await refresh();
          } catch (error) {
            errorLine.textContent = _("Could not reserve port %(port)s of %(charger)s: %(reason)s", {
              port: port.port, charger: charger.name, reason: error.message,
            });
            button.disabled = false;
          }
        },
      })
    : null;
  return Hub.el(
    "li", { "data-port": `${charger.device_id}:${port.port}`, "data-availability": port.availability },
    Hub.el("span", { class: `badge ${port.availability === "out_of_order" ? "overdue" : ""}`, text: status }),
    " ", _("Port %(port)s", { port: port.port }), " ",
    port.reserved_until
      ? Hub.el("time", {
          datetime: port.reserved_until, "data-time": "until",
          text: _("until %(time)s", { time: Hub.time(port.reserved_until) }),
        })
      : "",
    " ",
    reserve,
  );
}

async function loadStations() {
  const chargers = await Hub.api("/api/v1/chargers/availability");
  $("stations").replaceChildren(
    ...(chargers.length
      ? chargers.map((c) => Hub.el(
          "article", { class: "card", "data-charger": c.device_id },
          Hub.el("h2", { text: c.name }),
          Hub.el("p", {
            class: "meta",
            // A charger that has reported no ports yet: no "0 of 0 free".
            text: c.ports.length
              ? _("%(free)s of %(ports)s free", { free: c.summary.available || 0, ports: c.ports.length })
              : _("No port information yet"),
          }),
          Hub.el("ul", {}, c.ports.map((p) => portRow(c, p))),
        ))
      : [Hub.el("p", { class: "empty", text: _("No charging stations in your community.") })]),
  );
}

async function loadMine() {
  const page = await Hub.api("/api/v1/reservations/mine?limit=10");
  $("mine").replaceChildren(
    ...(page.items.length
      ? page.items.map((r) => Hub.el(
          "article", { class: "card", "data-reservation": r.id, "data-status": r.status },
          Hub.el("p", {},
            Hub.el("strong", { text: _("%(charger)s, port %(port)s", { charger: r.charger_name, port: r.port }) }),
            ` · ${r.status_label || RESERVATION[r.status] || r.status}`),
          Hub.el("p", { class: "meta" },
            Hub.el("time", { datetime: r.starts_at, "data-time": "starts", text: Hub.time(r.starts_at) }),
            " – ",
            Hub.el("time", { datetime: r.ends_at, "data-time": "ends", text: Hub.time(r.ends_at) })),
          r.status === "active"
            ? Hub.el("button", {
                type: "button", class: "secondary", text: _("Cancel"),
                onclick: async (event) => {
                  const button = event.currentTarget;
                  button.disabled = true;
                  $("mine-error").textContent = "";
                  try {
                    await Hub.api(`/api/v1/reservations/${r.id}/cancel`, { method: "POST" });
                    await refresh();
                  } catch (error) {
                    $("mine-error").textContent = _("Could not cancel: %(reason)s", { reason: error.message });
                    button.disabled = false;
                  }
                },
              })
            : null,
        ))
      : [Hub.el("p", { class: "empty", text: _("No reservations.") })]),
  );
}

async function loadDevices() {
  const page = await Hub.api("/api/v1/devices?limit=50");
  $("devices").replaceChildren(
    ...(page.items.length
      ? page.items.map((d) => Hub.el(
          "p", { class: "meta" },
          Hub.el("strong", { text: d.name }),
          " · ",
          d.online === false
            ? pgettext("device", "offline")
            : d.online ? pgettext("device", "online") : pgettext("device", "not heard from"),
          d.battery_pct !== null ? " · " + _("battery %(pct)s%%", { pct: d.battery_pct }) : "",
        ))
      : [Hub.el("p", { class: "empty", text: _("No devices in your household.") })]),
  );
}

async function refresh() {
  try {
    await Promise.all([loadStations(), loadMine(), loadDevices()]);
    showError("");
  } catch (error) {
    showError(_("Could not load: %(reason)s", { reason: error.message }));
  }
}

$("report").addEventListener("submit", async (event) => {
  event.preventDefault();
  const title = $("report-title-input");
  const description = $("report-description");
  // Field, its error line, the message when empty, the API's length limit.
  const checks = [
    [title, "report-title-error", _("Say in a few words what is wrong."), 200],
    [description, "report-description-error", _("Add a few details so someone can find it."), 2000],
  ];
  let ok = true;
  for (const [input, errorId, message, max] of checks) {
    const text = input.value.trim();
    const problem = !text ? message
      : text.length > max ? _("At most %(max)s characters (now %(now)s).", { max, now: text.length }) : "";
    input.setAttribute("aria-invalid", problem ? "true" : "false");
    $(errorId).textContent = problem;
    ok = ok && !problem;
  }
  $("report-error").textContent = "";
  $("report-done").textContent = "";
  if (!ok) return;
  const button = event.submitter || $("report").querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const ticket = await Hub.api("/api/v1/tickets", {
      json: { title: title.value.trim(), description: description.value.trim() },
    });
    $("report-done").textContent = _("Thank you: report #%(id)s is registered.", { id: ticket.id });
    title.value = "";
    description.value = "";
  } catch (error) {
    // A 422 names the field: show its reason next to it, and the whole answer below.
    const byField = { title: [title, "report-title-error"], description: [description, "report-description-error"] };
    for (const [name, reason] of Object.entries(error.fields || {})) {
      if (!byField[name]) continue;
      byField[name][0].setAttribute("aria-invalid", "true");
      $(byField[name][1]).textContent = reason;
    }
    $("report-error").textContent = _("Not sent: %(reason)s", { reason: error.message });
  } finally {
    button.disabled = false;
  }
});

async function start() {
  if (!(await Hub.start("charging"))) return;
  await refresh();
  setInterval(refresh, 15000);
}

start();
