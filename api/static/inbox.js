// The volunteer inbox: my open tickets, live. New alarms arrive over the notification
// stream without a reload, with a sound and a vibration where the browser allows;
// after a dropped connection the stream resumes where it stopped and the list is
// fetched again, so nothing sent meanwhile is missed.
"use strict";

const OPEN = new Set([
  "registered", "dispatched", "accepted", "returned", "in_progress", "extension_requested",
  "resolved",
]);
// Actions a handler takes from the inbox, and the input each one needs.
const ACTIONS = {
  accept: { label: "Accept" },
  start: { label: "On site", needs: "note", prompt: "What did you find on site?" },
  request_extension: { label: "Need more time", needs: "reason", prompt: "Why?" },
  resolve: { label: "Resolved", needs: "note", prompt: "What was done?" },
  return: { label: "Return", needs: "reason", prompt: "Why can't you take it?" },
};
const STREAM_KINDS = [
  "ticket.assigned", "ticket.unassigned", "ticket.escalated", "ticket.reminder",
  "ticket.alert_repeated", "ticket.co_handler_added", "ticket.raised", "alert.opened",
  "ticket.escalation_exhausted", "welfare.no_sign_of_life",
];

const state = { lastEventId: null, source: null, retryMs: 1000, fresh: new Set(), audio: null };
const $ = (id) => document.getElementById(id);

function showError(message) {
  $("page-error").textContent = message || "";
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.style.display = "block";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.style.display = "none"; }, 6000);
}

// A short two-tone beep; browsers allow sound only after the person touched the page.
function cue() {
  if (navigator.vibrate) navigator.vibrate([300, 120, 300]);
  const audio = state.audio;
  if (!audio) {
    $("sound-hint").hidden = false;
    return;
  }
  for (const [offset, pitch] of [[0, 880], [0.25, 660]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = pitch;
    gain.gain.value = 0.2;
    osc.connect(gain).connect(audio.destination);
    osc.start(audio.currentTime + offset);
    osc.stop(audio.currentTime + offset + 0.2);
  }
}

// On "click", not "pointerdown": hiding the hint moves the page up, and between
// pointerdown and the click the button under the finger would move away.
document.addEventListener("click", () => {
  if (!state.audio && window.AudioContext) state.audio = new AudioContext();
  setTimeout(() => { $("sound-hint").hidden = true; }, 0);
}, { once: true });

function limitBadge(ticket) {
  const due = ticket.status === "dispatched" ? ticket.response_due_at : ticket.resolve_due_at;
  if (!due) return null;
  const left = new Date(due) - Date.now();
  if (left < 0) return Hub.el("span", { class: "badge overdue", text: "overdue" });
  const minutes = Math.round(left / 60000);
  const text = minutes < 120 ? `due in ${minutes} min` : `due ${Hub.when(due)}`;
  return Hub.el("span", { class: minutes < 30 ? "badge due" : "badge", text });
}

function residentBlock(card) {
  if (!card) return null;
  const phone = (number, label) => Hub.el("a", { href: `tel:${number}`, text: `${label} ${number}` });
  return Hub.el(
    "div", { class: "resident" },
    Hub.el("p", { class: "meta", text: `${card.full_name} · ${card.address}` }),
    Hub.el(
      "p", { class: "contacts" },
      card.phone ? phone(card.phone, "Call") : null,
      card.contacts.map((c) => phone(c.phone, `${c.relation} ${c.full_name}:`)),
    ),
  );
}

function actionForm(ticket, action, spec, card) {
  const errorLine = Hub.el("p", { class: "error", role: "alert" });
  const field = spec.needs
    ? Hub.el("textarea", { rows: 2, maxlength: 1000, "aria-label": spec.prompt, placeholder: spec.prompt })
    : null;
  const run = async (button) => {
    const input = { action };
    if (field) {
      const text = field.value.trim();
      if (!text) {
        field.setAttribute("aria-invalid", "true");
        errorLine.textContent = `${spec.prompt} (required)`;
        field.focus();
        return;
      }
      input[spec.needs] = text;
    }
    button.disabled = true;
    try {
      await Hub.api(`/api/v1/tickets/${ticket.id}/transitions`, { json: input });
      state.fresh.delete(ticket.id);
      await loadTickets();
    } catch (error) {
      errorLine.textContent = error.message;
      button.disabled = false;
    }
  };
  const button = Hub.el("button", {
    type: "button", "data-action": action, text: spec.label,
    class: action === "return" ? "secondary" : null,
    onclick: (event) => {
      if (field && field.hidden) {
        field.hidden = false;
        field.focus();
        return;
      }
      run(event.currentTarget);
    },
  });
  if (field) field.hidden = true;
  return Hub.el("div", { class: "action" }, field, button, errorLine);
}

async function ticketCard(ticket) {
  const [detail, card] = await Promise.all([
    Hub.api(`/api/v1/tickets/${ticket.id}`),
    Hub.api(`/api/v1/tickets/${ticket.id}/resident`).catch(() => null),
  ]);
  const allowed = (detail.actions || []).filter((a) => ACTIONS[a]);
  return Hub.el(
    "article",
    { class: state.fresh.has(ticket.id) ? "card new" : "card", "data-ticket-id": ticket.id },
    Hub.el("h2", { text: ticket.title }),
    Hub.el(
      "p", { class: "meta" },
      Hub.el("span", { class: `badge ${ticket.priority}`, text: ticket.priority }), " ",
      Hub.el("span", { class: "badge", "data-status": ticket.status, text: ticket.status.replace("_", " ") }), " ",
      limitBadge(ticket), " ",
      `#${ticket.id} · ${Hub.when(ticket.created_at)}`,
    ),
    ticket.description ? Hub.el("p", { text: ticket.description }) : null,
    residentBlock(card),
    Hub.el("div", { class: "actions" }, allowed.map((a) => actionForm(ticket, a, ACTIONS[a], card))),
  );
}

async function loadTickets() {
  try {
    const page = await Hub.api("/api/v1/tickets?limit=100");
    const open = page.items.filter((t) => OPEN.has(t.status));
    const cards = await Promise.all(open.map(ticketCard));
    const list = $("tickets");
    list.replaceChildren(
      ...(cards.length ? cards : [Hub.el("p", { class: "empty", text: "Nothing for you right now." })]),
    );
    showError("");
  } catch (error) {
    showError(`Could not load your tickets: ${error.message}`);
  }
}

function setLive(up) {
  const pill = $("live");
  pill.textContent = up ? "live" : "reconnecting…";
  pill.className = up ? "pill live" : "pill down";
  pill.dataset.state = up ? "live" : "down";
}

function onNotification(event) {
  state.lastEventId = event.lastEventId || state.lastEventId;
  let note = {};
  try { note = JSON.parse(event.data); } catch { /* a comment or malformed frame */ }
  if (note.ticket_id && event.type === "ticket.assigned") state.fresh.add(note.ticket_id);
  if (["ticket.assigned", "ticket.escalated", "alert.opened", "ticket.reminder"].includes(event.type)) {
    cue();
    toast(note.title || event.type);
  }
  loadTickets();
}

function connect() {
  const tokens = Hub.saved();
  if (!tokens) return Hub.toLogin();
  const params = new URLSearchParams({ access_token: tokens.access });
  if (state.lastEventId) params.set("resume_after", state.lastEventId);
  const source = new EventSource(`/api/v1/notifications/stream?${params}`);
  state.source = source;
  source.onopen = () => {
    state.retryMs = 1000;
    setLive(true);
    loadTickets(); // whatever happened while the stream was down
  };
  for (const kind of STREAM_KINDS) source.addEventListener(kind, onNotification);
  source.addEventListener("lagged", () => loadTickets());
  source.onerror = async () => {
    setLive(false);
    if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    // Closed for good (an expired token answers 401): renew the token and open anew.
    source.close();
    await Hub.refresh().catch(() => false);
    setTimeout(connect, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 15000);
  };
}

async function start() {
  if (!Hub.saved()) return Hub.toLogin();
  $("logout").addEventListener("click", () => Hub.logout());
  try {
    const me = await Hub.api("/api/v1/auth/me");
    $("who").textContent = me.full_name;
  } catch (error) {
    showError(error.message);
    return;
  }
  await loadTickets();
  connect();
}

start();
