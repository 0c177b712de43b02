// The volunteer inbox: my open tickets, live. New alarms arrive over the notification
// stream without a reload, with a sound and a vibration where the browser allows;
// after a dropped connection the stream resumes where it stopped and the list is
// fetched again, so nothing sent meanwhile is missed.
"use strict";

const OPEN = new Set([
  "registered", "dispatched", "accepted", "returned", "in_progress", "extension_requested",
  "resolved",
]);
// The words for each action. Which actions the caller may take now, and the inputs each
// needs, the API says (the ticket's action_details, from hub/tickets/workflow.py); a
// label the API gives in the reader's language is shown in place of these.
const WORDS = {
  dispatch: { label: pgettext("action", "Dispatch"), prompt: _("Which volunteer?") },
  accept: { label: pgettext("action", "Accept") },
  start: { label: pgettext("action", "On site"), prompt: _("What did you find on site?") },
  request_extension: { label: pgettext("action", "Need more time"), prompt: _("Why do you need more time?") },
  resolve: { label: pgettext("action", "Resolved"), prompt: _("What was done?") },
  return: { label: pgettext("action", "Return"), prompt: _("Why can't you take it?"), secondary: true },
  verify: { label: pgettext("action", "Verify") },
  grant_extension: { label: pgettext("action", "Grant more time"), prompt: _("Resolve by") },
  refuse_extension: {
    label: pgettext("action", "Refuse more time"), prompt: _("Why no more time?"), secondary: true,
  },
  reopen: { label: pgettext("action", "Reopen"), prompt: _("What is still to be done?"), secondary: true },
  close: { label: pgettext("action", "Close") },
  rate: { label: pgettext("action", "Rate"), prompt: _("How was the service?") },
};
// A ticket's status and priority as a person reads them, where the API gives no label
// (capitalised as the API's labels are: Dispatched, Normal).
const STATUS = {
  registered: pgettext("ticket status", "Registered"),
  dispatched: pgettext("ticket status", "Dispatched"),
  accepted: pgettext("ticket status", "Accepted"),
  returned: pgettext("ticket status", "Returned"),
  in_progress: pgettext("ticket status", "In progress"),
  extension_requested: pgettext("ticket status", "Extension requested"),
  resolved: pgettext("ticket status", "Resolved"),
  verified: pgettext("ticket status", "Verified"),
  closed: pgettext("ticket status", "Closed"),
  rated: pgettext("ticket status", "Rated"),
};
const PRIORITY = {
  normal: pgettext("priority", "Normal"),
  urgent: pgettext("priority", "Urgent"),
};
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
  if (left < 0) return Hub.el("span", { class: "badge overdue", text: pgettext("time limit", "overdue") });
  const minutes = Math.round(left / 60000);
  const text = minutes < 120
    ? _("due %(when)s", { when: Hub.relative(due) })
    : _("due by %(time)s", { time: Hub.time(due) });
  return Hub.el("span", { class: minutes < 30 ? "badge due" : "badge", text });
}

function residentBlock(card) {
  if (!card) return null;
  return Hub.el(
    "div", { class: "resident" },
    Hub.el("p", { class: "meta", text: `${card.full_name} · ${card.address}` }),
    Hub.el(
      "p", { class: "contacts" },
      card.phone ? Hub.telLink(card.phone, _("Call")) : null,
      card.contacts.map((c) => Hub.telLink(c.phone, `${c.relation} ${c.full_name}:`)),
    ),
  );
}

function wordsFor(offer) {
  const words = WORDS[offer.action] || { label: offer.action.replaceAll("_", " ") };
  return offer.label ? { ...words, label: offer.label } : words;
}

// The field for one of an action's inputs, by its kind: free text (a note, a reason),
// a volunteer, a new date, a score, one of a list (what an alarm was).
function inputFor(input, prompt) {
  const label = input.label || prompt || input.name;
  if (input.kind === "choice") {
    return Hub.el("select", { "aria-label": label, "data-input": input.name },
      Hub.el("option", { value: "", text: _("Choose: %(what)s", { what: label }) }),
      ...(input.choices || []).map((c) => Hub.el("option", { value: c.value, text: c.label || c.value })));
  }
  if (input.kind === "user") {
    return Hub.el("select", { "aria-label": label, "data-input": input.name },
      Hub.el("option", { value: "", text: _("loading volunteers…") }));
  }
  if (input.kind === "future_time") {
    return Hub.el("input", { type: "datetime-local", "aria-label": label, "data-input": input.name });
  }
  if (input.kind === "score") {
    return Hub.el("input", {
      type: "number", min: input.minimum, max: input.maximum, step: 1, inputmode: "numeric",
      "aria-label": label, placeholder: `${input.minimum}-${input.maximum}`, "data-input": input.name,
    });
  }
  return Hub.el("textarea", {
    rows: 2, maxlength: input.max_length, "aria-label": label, placeholder: label,
    "data-input": input.name,
  });
}

// The volunteers on the ticket's grid's rota, for dispatching.
async function fillVolunteers(select, ticket, errorLine) {
  try {
    const grid = ticket.grid_id ? `grid_id=${ticket.grid_id}&` : "";
    const page = await Hub.api(`/api/v1/volunteers?${grid}limit=200`);
    select.replaceChildren(
      Hub.el("option", { value: "", text: _("Choose a volunteer") }),
      ...page.items.map((v) => Hub.el("option", { value: v.id, text: v.full_name })),
    );
    if (!page.items.length) errorLine.textContent = _("No volunteer is on this grid's rota.");
  } catch (error) {
    errorLine.textContent = _("Could not list the volunteers: %(reason)s", { reason: error.message });
  }
}

// What the field holds, checked as the API will check it (its limits come with the
// input): [value, problem].
function readInput(field, input, prompt) {
  const raw = field.value.trim();
  if (input.kind === "user") {
    return raw ? [Number(raw), ""] : [null, _("Choose a volunteer.")];
  }
  if (input.kind === "future_time") {
    if (!raw) return [null, _("Pick the new resolve-by date and time.")];
    const due = new Date(raw); // a datetime-local value is the phone's local time
    if (Number.isNaN(due.getTime())) return [null, _("That is not a date and time.")];
    if (due <= new Date()) return [null, _("The new resolve-by time must be in the future.")];
    return [due.toISOString(), ""];
  }
  if (input.kind === "choice") {
    return raw ? [raw, ""] : [null, _("%(field)s (required)", { field: input.label || prompt || input.name })];
  }
  if (input.kind === "score") {
    const score = Number(raw);
    if (!raw || !Number.isInteger(score) || score < input.minimum || score > input.maximum) {
      return [null, _("A whole number from %(min)s to %(max)s.", { min: input.minimum, max: input.maximum })];
    }
    return [score, ""];
  }
  if (!raw) return [null, _("%(field)s (required)", { field: prompt || input.name })];
  if (input.max_length && raw.length > input.max_length) {
    return [null, _("At most %(max)s characters (now %(now)s).", { max: input.max_length, now: raw.length })];
  }
  return [raw, ""];
}

// One action the API offers: its button and, hidden until the first tap, its inputs.
function actionForm(ticket, offer) {
  const { action, inputs } = offer;
  const words = wordsFor(offer);
  const errorLine = Hub.el("p", { class: "error", role: "alert" });
  const fields = inputs.map((input) => [input, inputFor(input, words.prompt)]);
  const run = async (button) => {
    const body = { action };
    for (const [input, field] of fields) {
      const [value, problem] = readInput(field, input, words.prompt);
      field.setAttribute("aria-invalid", problem ? "true" : "false");
      errorLine.textContent = problem;
      if (problem) {
        field.focus();
        return;
      }
      body[input.name] = value;
    }
    button.disabled = true;
    try {
      await Hub.api(`/api/v1/tickets/${ticket.id}/transitions`, { json: body });
      state.fresh.delete(ticket.id);
      await loadTickets();
    } catch (error) {
      // The server's reason: a 409 says what the ticket's state allows, a 403 who may act.
      const named = fields.find(([input]) => error.fields && error.fields[input.name]);
      if (named) named[1].setAttribute("aria-invalid", "true");
      errorLine.textContent = _("Not done: %(reason)s", {
        reason: named ? error.fields[named[0].name] : error.message,
      });
      button.disabled = false;
    }
  };
  const button = Hub.el("button", {
    type: "button", "data-action": action, text: words.label,
    class: words.secondary ? "secondary" : null,
    onclick: (event) => {
      const hidden = fields.filter(([, field]) => field.hidden);
      if (hidden.length) {
        for (const [input, field] of hidden) {
          field.hidden = false;
          if (input.kind === "user") fillVolunteers(field, ticket, errorLine);
        }
        hidden[0][1].focus();
        return;
      }
      run(event.currentTarget);
    },
  });
  for (const [, field] of fields) field.hidden = true;
  return Hub.el(
    "div", { class: "action", "data-for": action }, fields.map(([, field]) => field), button, errorLine,
  );
}

async function ticketCard(ticket) {
  const [detail, card] = await Promise.all([
    Hub.api(`/api/v1/tickets/${ticket.id}`),
    Hub.api(`/api/v1/tickets/${ticket.id}/resident`).catch(() => null),
  ]);
  return Hub.el(
    "article",
    {
      class: state.fresh.has(ticket.id) ? "card new" : "card", "data-ticket-id": ticket.id,
      "data-signature": signature(ticket),
    },
    Hub.el("h2", { text: ticket.title }),
    Hub.el(
      "p", { class: "meta" },
      Hub.el("span", {
        class: `badge ${ticket.priority}`, text: ticket.priority_label || PRIORITY[ticket.priority] || ticket.priority,
      }), " ",
      Hub.el("span", {
        class: "badge", "data-status": ticket.status,
        text: ticket.status_label || STATUS[ticket.status] || ticket.status.replaceAll("_", " "),
      }), " ",
      limitBadge(ticket), " ",
      `#${ticket.id} · `,
      Hub.el("time", { datetime: ticket.created_at, "data-time": "created", text: Hub.time(ticket.created_at) }),
    ),
    ticket.description ? Hub.el("p", { text: ticket.description }) : null,
    residentBlock(card),
    Hub.el("div", { class: "actions" }, (detail.action_details || []).map((o) => actionForm(ticket, o))),
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
        ...(cards.length ? cards : [Hub.el("p", { class: "empty", text: _("Nothing for you right now.") })]),
      );
    }
    showError("");
  } catch (error) {
    showError(_("Could not load your tickets: %(reason)s", { reason: error.message }));
  }
}

function setLive(up) {
  const pill = $("live");
  pill.textContent = up ? _("live") : _("reconnecting…");
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
    // The push is already in this reader's language: the title, and why now (the body).
    toast([note.title || event.type, note.body].filter(Boolean).join(" · "));
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
