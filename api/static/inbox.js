// The volunteer inbox: my open tickets, live. New alarms arrive over the notification
// stream without a reload, with a sound and a vibration where the browser allows;
// after a dropped connection the stream resumes where it stopped and the list is
// fetched again, so nothing sent meanwhile is missed.
"use strict";

const OPEN = new Set([
  "registered", "dispatched", "accepted", "returned", "in_progress", "extension_requested",
  "resolved",
]);
// Actions taken from the inbox, and the input each one needs (the API says which of them
// the caller may take now: a volunteer handles, staff dispatch and supervise).
const ACTIONS = {
  dispatch: { label: "Dispatch", needs: "assignee_id", prompt: "Which volunteer?" },
  accept: { label: "Accept" },
  start: { label: "On site", needs: "note", prompt: "What did you find on site?" },
  request_extension: { label: "Need more time", needs: "reason", prompt: "Why?" },
  resolve: { label: "Resolved", needs: "note", prompt: "What was done?" },
  return: { label: "Return", needs: "reason", prompt: "Why can't you take it?" },
  verify: { label: "Verify" },
  grant_extension: { label: "Grant more time", needs: "new_due_at", prompt: "Resolve by" },
  refuse_extension: { label: "Refuse more time", needs: "reason", prompt: "Why no more time?" },
  reopen: { label: "Reopen", needs: "reason", prompt: "What is still to be done?" },
  close: { label: "Close" },
};
const SECONDARY = new Set(["return", "refuse_extension", "reopen"]);
const TEXT_MAX = 500; // the API's limit for a note or a reason
const STREAM_KINDS = [
  "ticket.assigned", "ticket.unassigned", "ticket.escalated", "ticket.reminder",
  "ticket.alert_repeated", "ticket.co_handler_added", "ticket.raised", "alert.opened",
  "ticket.escalation_exhausted", "welfare.no_sign_of_life",
];

const state = {
  lastEventId: null, source: null, retryMs: 1000, fresh: new Set(), audio: null, open: OPEN,
};
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
  setTimeout(() => {
    const hint = $("sound-hint");
    if (hint) hint.hidden = true; // gone when the page is not for this account
  }, 0);
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

// The input an action needs: free text (a note, a reason), a volunteer, or a new date.
function inputFor(spec) {
  if (spec.needs === "assignee_id") {
    return Hub.el("select", { "aria-label": spec.prompt },
      Hub.el("option", { value: "", text: "loading volunteers…" }));
  }
  if (spec.needs === "new_due_at") {
    return Hub.el("input", { type: "datetime-local", "aria-label": spec.prompt });
  }
  return Hub.el("textarea", {
    rows: 2, maxlength: TEXT_MAX, "aria-label": spec.prompt, placeholder: spec.prompt,
  });
}

// The volunteers on the ticket's grid's rota, for dispatching.
async function fillVolunteers(select, ticket, errorLine) {
  try {
    const grid = ticket.grid_id ? `grid_id=${ticket.grid_id}&` : "";
    const page = await Hub.api(`/api/v1/volunteers?${grid}limit=200`);
    select.replaceChildren(
      Hub.el("option", { value: "", text: "Choose a volunteer" }),
      ...page.items.map((v) => Hub.el("option", { value: v.id, text: v.full_name })),
    );
    if (!page.items.length) errorLine.textContent = "No volunteer is on this grid's rota.";
  } catch (error) {
    errorLine.textContent = `Could not list the volunteers: ${error.message}`;
  }
}

// What the field holds, checked as the API will check it: [value, problem].
function readInput(field, spec) {
  const raw = field.value.trim();
  if (spec.needs === "assignee_id") {
    return raw ? [Number(raw), ""] : [null, "Choose a volunteer."];
  }
  if (spec.needs === "new_due_at") {
    if (!raw) return [null, "Pick the new resolve-by date and time."];
    const due = new Date(raw); // a datetime-local value is the phone's local time
    if (Number.isNaN(due.getTime())) return [null, "That is not a date and time."];
    if (due <= new Date()) return [null, "The new resolve-by time must be in the future."];
    return [due.toISOString(), ""];
  }
  if (!raw) return [null, `${spec.prompt} (required)`];
  if (raw.length > TEXT_MAX) return [null, `At most ${TEXT_MAX} characters (now ${raw.length}).`];
  return [raw, ""];
}

function actionForm(ticket, action, spec) {
  const errorLine = Hub.el("p", { class: "error", role: "alert" });
  const field = spec.needs ? inputFor(spec) : null;
  const run = async (button) => {
    const input = { action };
    if (field) {
      const [value, problem] = readInput(field, spec);
      field.setAttribute("aria-invalid", problem ? "true" : "false");
      errorLine.textContent = problem;
      if (problem) {
        field.focus();
        return;
      }
      input[spec.needs] = value;
    }
    button.disabled = true;
    try {
      await Hub.api(`/api/v1/tickets/${ticket.id}/transitions`, { json: input });
      state.fresh.delete(ticket.id);
      await loadTickets();
    } catch (error) {
      // The server's reason: a 409 says what the ticket's state allows, a 403 who may act.
      const reason = field && error.fields && error.fields[spec.needs];
      if (reason) field.setAttribute("aria-invalid", "true");
      errorLine.textContent = `Not done: ${reason || error.message}`;
      button.disabled = false;
    }
  };
  const button = Hub.el("button", {
    type: "button", "data-action": action, text: spec.label,
    class: SECONDARY.has(action) ? "secondary" : null,
    onclick: (event) => {
      if (field && field.hidden) {
        field.hidden = false;
        if (spec.needs === "assignee_id") fillVolunteers(field, ticket, errorLine);
        field.focus();
        return;
      }
      run(event.currentTarget);
    },
  });
  if (field) field.hidden = true;
  return Hub.el("div", { class: "action", "data-for": action }, field, button, errorLine);
}

async function ticketCard(ticket) {
  const [detail, card] = await Promise.all([
    Hub.api(`/api/v1/tickets/${ticket.id}`),
    Hub.api(`/api/v1/tickets/${ticket.id}/resident`).catch(() => null),
  ]);
  const allowed = (detail.actions || []).filter((a) => ACTIONS[a]);
  return Hub.el(
    "article",
    {
      class: state.fresh.has(ticket.id) ? "card new" : "card", "data-ticket-id": ticket.id,
      "data-signature": signature(ticket),
    },
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
    Hub.el("div", { class: "actions" }, allowed.map((a) => actionForm(ticket, a, ACTIONS[a]))),
  );
}

// What a card shows; a card whose ticket has not changed is kept as it is, so a note
// being typed or a volunteer being picked survives the reload a notification causes.
function signature(ticket) {
  return JSON.stringify([ticket.updated_at, ticket.status, ticket.assignee_id, state.fresh.has(ticket.id)]);
}

async function loadTickets() {
  try {
    const page = await Hub.api("/api/v1/tickets?limit=100");
    const open = page.items.filter((t) => state.open.has(t.status));
    const list = $("tickets");
    const shown = new Map(
      [...list.querySelectorAll("article[data-ticket-id]")].map((n) => [n.dataset.ticketId, n]),
    );
    const cards = await Promise.all(open.map((t) => {
      const old = shown.get(String(t.id));
      return old && old.dataset.signature === signature(t) ? old : ticketCard(t);
    }));
    const same = cards.length > 0 && cards.length === list.children.length
      && cards.every((c, i) => list.children[i] === c);
    if (!same) { // moving nodes would take the focus (and a phone's keyboard) away
      list.replaceChildren(
        ...(cards.length ? cards : [Hub.el("p", { class: "empty", text: "Nothing for you right now." })]),
      );
    }
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
  const me = await Hub.start("inbox");
  if (!me) {
    $("live").hidden = true; // no live connection on a page that is not for you
    return;
  }
  // Staff also close what they verified; a volunteer's part ends at resolved.
  if (me.role !== "volunteer") state.open = new Set([...OPEN, "verified"]);
  await loadTickets();
  connect();
}

start();
