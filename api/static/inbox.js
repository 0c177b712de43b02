// The volunteer inbox: my open tickets, live. An alarm assigned to me and not yet
// acknowledged rings (a pattern per kind, vibration, a highlighted card, a toast that
// stays) whenever the page learns of it: on opening, after a reconnect, on a repeat
// press; it rings until accepted or "Got it". After a dropped connection the stream
// resumes where it stopped and the list is fetched again; a ticket given to someone else
// leaves with a note; actions taken offline wait on the phone and are sent when it is back.
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
  "ticket.escalation_exhausted", "welfare.no_sign_of_life", "ticket.reassigned",
];
// Events that mean an alarm is waiting for this person: a cue now, and a ring that goes
// on (alarm.js below) until it is accepted or "Got it" is tapped.
const CUE_KINDS = new Set([
  "ticket.assigned", "ticket.escalated", "alert.opened", "ticket.reminder", "ticket.alert_repeated",
]);
// Which tickets are alarms, and the sound each rings with: by the category the policy
// opens them in (hub/policy/default_rules.json); another urgent device alarm rings plainly.
const ALARM_OF_CATEGORY = {
  elderly_sos: "sos", security_duress: "sos", elderly_fall: "fall", fire_safety: "fire",
};
const LOUDER = ["sos", "fire", "fall", "other"];

const state = {
  lastEventId: null, source: null, retryMs: 1000, fresh: new Set(), open: OPEN, me: null,
  tickets: new Map(), // id -> the ticket as last listed
  shown: new Map(), // id -> title, of cards shown, to notice one taken away
  timelines: new Set(), // ids whose timeline the reader opened
  loading: null, again: false,
};
const $ = (id) => document.getElementById(id);

function showError(message) {
  $("page-error").textContent = message || "";
}

// A failed call in words: "Failed to fetch" is the browser's, not the reader's.
function offline(error) {
  return !navigator.onLine || error instanceof TypeError;
}

function reasonOf(error) {
  return offline(error) ? _("no network connection") : error.message;
}

// ---- what this page remembers on this phone (per account): acknowledgements, repeats,
// actions waiting for the network --------------------------------------------------------

const memory = {
  key: () => `chub.inbox.${state.me ? state.me.id : "anon"}`,
  read() {
    try {
      const kept = JSON.parse(localStorage.getItem(this.key()) || "{}");
      return { acks: kept.acks || {}, repeats: kept.repeats || {}, queue: kept.queue || [] };
    } catch {
      return { acks: {}, repeats: {}, queue: [] };
    }
  },
  write(kept) {
    localStorage.setItem(this.key(), JSON.stringify(kept));
  },
  change(fn) {
    const kept = this.read();
    fn(kept);
    this.write(kept);
    return kept;
  },
};

// ---- the alarm sound: tones made by Web Audio, no file to download ---------------------

// [frequency Hz, start s, length s] per pattern, each recognisable without looking:
// SOS three short high beeps and a long one, fire a fast two-tone siren, a fall a
// falling three-note call, anything else two calm tones.
const PATTERNS = {
  sos: [[1046, 0, 0.15], [1046, 0.22, 0.15], [1046, 0.44, 0.15], [1318, 0.7, 0.6]],
  fire: [[1200, 0, 0.2], [800, 0.22, 0.2], [1200, 0.44, 0.2], [800, 0.66, 0.2], [1200, 0.88, 0.2]],
  fall: [[988, 0, 0.3], [784, 0.35, 0.3], [587, 0.7, 0.5]],
  other: [[880, 0, 0.25], [660, 0.32, 0.25]],
};
const VIBRATE = {
  sos: [200, 100, 200, 100, 200, 100, 600], fire: [150, 80, 150, 80, 150, 80, 150],
  fall: [400, 150, 400, 150, 400], other: [300, 120, 300],
};
const RING_EVERY_MS = 2500;
const SOUND_KEY = "chub.sound";

const sound = {
  audio: null,
  wanted: () => localStorage.getItem(SOUND_KEY) === "on",
  ready() {
    return Boolean(this.audio) && this.audio.state === "running";
  },
  // Browsers start sound only from a tap: call from a click.
  unlock() {
    if (!window.AudioContext) return;
    this.make();
    if (this.audio.state === "suspended") this.audio.resume().then(() => showSoundBar());
  },
  make() {
    if (this.audio || !window.AudioContext) return;
    this.audio = new AudioContext();
    this.audio.addEventListener("statechange", () => showSoundBar());
  },
  play(pattern) {
    if (!this.ready()) return false;
    const audio = this.audio;
    const at = audio.currentTime + 0.02;
    for (const [pitch, offset, length] of PATTERNS[pattern] || PATTERNS.other) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = pitch;
      // Up and down in 10 ms: no click, and as loud as a phone speaker allows.
      gain.gain.setValueAtTime(0.0001, at + offset);
      gain.gain.exponentialRampToValueAtTime(0.5, at + offset + 0.01);
      gain.gain.setValueAtTime(0.5, at + offset + length - 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + offset + length);
      osc.connect(gain).connect(audio.destination);
      osc.start(at + offset);
      osc.stop(at + offset + length + 0.02);
    }
    return true;
  },
};

function showSoundBar() {
  const on = sound.wanted();
  const blocked = on && !sound.ready();
  const button = $("sound-toggle");
  const status = $("sound-status");
  $("sound-bar").dataset.sound = on ? (blocked ? "blocked" : "on") : "off";
  if (!on) {
    status.textContent = _("Alarms ring only once you turn the sound on.");
    button.textContent = _("Turn on alarm sound");
  } else if (blocked) {
    status.textContent = _("Tap once so the alarm sound can play on this page.");
    button.textContent = _("Allow alarm sound");
  } else {
    status.textContent = _("Alarm sound is on.");
    button.textContent = _("Turn off alarm sound");
  }
}

function wireSound() {
  const button = $("sound-toggle");
  $("sound-bar").hidden = false;
  if (sound.wanted()) sound.make(); // suspended until a tap, unless the browser allows it
  button.addEventListener("click", () => {
    // What the button said when tapped ("on": it offered to turn the sound off).
    if ($("sound-bar").dataset.sound === "on") {
      localStorage.setItem(SOUND_KEY, "off");
      showSoundBar();
      return;
    }
    localStorage.setItem(SOUND_KEY, "on");
    sound.unlock();
    // A short sample: the person hears that it works (and how loud) before an alarm.
    const tryIt = () => { sound.play("other"); showSoundBar(); };
    if (sound.audio && sound.audio.state !== "running") sound.audio.resume().then(tryIt);
    else tryIt();
    showSoundBar();
  });
  // Any tap on the page lets a remembered choice play again after a reload.
  document.addEventListener("click", () => { if (sound.wanted()) sound.unlock(); });
  showSoundBar();
}

// ---- ringing: every unacknowledged alarm of this person, until accepted or "Got it" ----

function alarmOf(ticket) {
  const pattern = ALARM_OF_CATEGORY[ticket.category];
  if (pattern) return pattern;
  return ticket.priority === "urgent" && ticket.source === "device_alert" ? "other" : null;
}

function shouldRing(ticket, kept) {
  const pattern = alarmOf(ticket);
  if (!pattern || !state.open.has(ticket.status)) return false;
  const acked = kept.acks[ticket.id];
  const repeated = kept.repeats[ticket.id];
  if (repeated && (!acked || acked < repeated)) return true; // pressed again: ring again
  const mine = state.me && ticket.assignee_id === state.me.id;
  return Boolean(mine && ticket.status === "dispatched" && !acked);
}

const ring = { timer: null, ids: [], count: 0 };

function ringing() {
  const kept = memory.read();
  return [...state.tickets.values()].filter((t) => shouldRing(t, kept));
}

function ringOnce() {
  const now = ringing();
  if (!now.length) return stopRinging();
  const pattern = LOUDER.find((p) => now.some((t) => alarmOf(t) === p)) || "other";
  if (navigator.vibrate) navigator.vibrate(VIBRATE[pattern]);
  if (sound.play(pattern)) {
    ring.count += 1;
    document.body.dataset.rings = String(ring.count); // for the page's tests and for people
  }
  return null;
}

function stopRinging() {
  clearInterval(ring.timer);
  ring.timer = null;
  return null;
}

// After every change: which cards ring, the toast that stays until acted on, the sound.
function updateRinging() {
  const now = ringing();
  const ids = now.map((t) => t.id);
  for (const card of document.querySelectorAll("#tickets article[data-ticket-id]")) {
    const on = ids.includes(Number(card.dataset.ticketId));
    card.classList.toggle("ringing", on);
    card.dataset.ringing = on ? "true" : "false";
    const ack = card.querySelector("button.ack");
    if (ack) ack.hidden = !on;
  }
  document.body.dataset.ringing = String(ids.length);
  const box = $("toast");
  if (now.length) {
    const newest = now[now.length - 1];
    $("toast-text").textContent = now.length > 1
      ? _("%(title)s (and %(more)s more alarms)", { title: newest.title, more: now.length - 1 })
      : newest.title;
    box.dataset.ticketId = String(newest.id);
    box.dataset.kind = "alarm";
    $("toast-ack").hidden = false;
    showToast(true);
    clearTimeout(toast.timer);
    const started = ids.some((id) => !ring.ids.includes(id));
    if (!ring.timer) ring.timer = setInterval(ringOnce, RING_EVERY_MS);
    if (started) ringOnce(); // a new alarm rings at once, not on the next beat
  } else {
    stopRinging();
    if (box.dataset.kind === "alarm") showToast(false);
  }
  ring.ids = ids;
}

function acknowledge(ids) {
  const at = new Date().toISOString();
  memory.change((kept) => { for (const id of ids) kept.acks[id] = at; });
  updateRinging();
}

// A passing message (not an alarm): it goes by itself.
function toast(text) {
  if (ringing().length) return; // the alarm's toast stays
  const box = $("toast");
  $("toast-text").textContent = text;
  box.dataset.kind = "info";
  $("toast-ack").hidden = true;
  showToast(true);
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { if (box.dataset.kind === "info") showToast(false); }, 8000);
}

// The toast floats over the page's foot: while it shows, the page gets room below its
// last card, so no button (Accept) stays hidden behind it.
function showToast(on) {
  $("toast").hidden = !on;
  document.body.classList.toggle("has-toast", on);
}

function limitBadge(ticket) {
  const due = ticket.status === "dispatched" ? ticket.response_due_at : ticket.resolve_due_at;
  return due ? dueBadge(due) : null;
}

// Redrawn every 30 s (tick below): "due in 4 minutes" must not stay at 5.
function dueBadge(due) {
  const left = new Date(due) - Date.now();
  if (left < 0) {
    return Hub.el("span", { class: "badge overdue", "data-due": due, text: pgettext("time limit", "overdue") });
  }
  const minutes = Math.round(left / 60000);
  const text = minutes < 120
    ? _("due %(when)s", { when: Hub.relative(due) })
    : _("due by %(time)s", { time: Hub.time(due) });
  return Hub.el("span", { class: minutes < 30 ? "badge due" : "badge", "data-due": due, text });
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
    acknowledge([ticket.id]); // acting on it is noticing it
    try {
      await Hub.api(`/api/v1/tickets/${ticket.id}/transitions`, { json: body });
      state.fresh.delete(ticket.id);
      await loadTickets();
    } catch (error) {
      if (offline(error)) {
        queueAction(ticket, body, words.label);
        errorLine.textContent = _("No network: kept on this phone, sent as soon as it is back online.");
        button.closest("article").dataset.queued = action;
        return;
      }
      if (error.status === 404 || error.status === 403) loadTickets(); // it may have moved on
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

// ---- the ticket's history, who helps, where the wearer is -------------------------------

function timeline(ticket, detail) {
  const entries = detail.log || [];
  if (!entries.length) return null;
  const box = Hub.el(
    "details", { class: "timeline", open: state.timelines.has(ticket.id) },
    Hub.el("summary", { text: ngettext("History (%(n)s entry)", "History (%(n)s entries)", entries.length) }),
    Hub.el("ol", {}, entries.map((entry) => Hub.el(
      "li", {},
      Hub.el("time", { datetime: entry.at, text: Hub.time(entry.at) }), " ",
      Hub.el("strong", { text: entry.action_label || entry.action.replaceAll("_", " ") }),
      entry.to_status_label ? ` → ${entry.to_status_label}` : "",
      entry.note_label || entry.note ? Hub.el("span", { class: "note", text: ` ${entry.note_label || entry.note}` }) : null,
    ))),
  );
  box.addEventListener("toggle", () => {
    if (box.open) state.timelines.add(ticket.id);
    else state.timelines.delete(ticket.id);
  });
  return box;
}

function coHandlers(detail) {
  const people = detail.co_handlers || [];
  if (!people.length) return null;
  return Hub.el("p", {
    class: "meta co-handlers",
    text: _("Handled jointly with: %(names)s", { names: people.map((p) => p.full_name).join(", ") }),
  });
}

const MAPS = [["amap", () => _("AMap")], ["baidu", () => _("Baidu Maps")], ["osm", () => "OpenStreetMap"]];

// Only tickets about a wristband wearer have one (the API answers 404 to the rest).
function hasWearer(ticket) {
  return ticket.category.startsWith("elderly_");
}

async function positionBlock(ticket) {
  let answer;
  try {
    answer = await Hub.api(`/api/v1/tickets/${ticket.id}/position`);
  } catch {
    return null; // not for this reader now (the ticket closed) or about no wearer
  }
  const fix = answer.position;
  const box = Hub.el("div", { class: "position", "data-position": fix ? "fix" : "none" },
    Hub.el("h3", { text: _("Where the wearer is") }));
  if (!fix) {
    box.append(Hub.el("p", { class: "no-fix", text: _("No position yet") }));
  } else {
    const bits = [fix.time_label, fix.source_label];
    if (fix.accuracy_m) bits.push(_("within %(m)s m", { m: Math.round(fix.accuracy_m) }));
    box.append(
      Hub.el("p", { class: "meta", "data-fix-at": fix.at, text: bits.filter(Boolean).join(" · ") }),
      Hub.el("p", { class: "maps" }, MAPS.filter(([key]) => fix.links && fix.links[key]).map(([key, label]) => (
        Hub.el("a", {
          class: "button secondary", href: fix.links[key], target: "_blank", rel: "noopener noreferrer",
          "data-map": key, text: label(),
        })
      ))),
    );
  }
  if (answer.note) box.append(Hub.el("p", { class: "meta", text: answer.note }));
  return box;
}

async function refreshPositions() {
  for (const card of document.querySelectorAll("#tickets article[data-ticket-id]")) {
    const old = card.querySelector(".position");
    const ticket = state.tickets.get(Number(card.dataset.ticketId));
    if (!old || !ticket) continue;
    const fresh = await positionBlock(ticket);
    if (fresh) old.replaceWith(fresh);
    else old.remove();
  }
}

async function ticketCard(ticket) {
  const [detail, card, place] = await Promise.all([
    Hub.api(`/api/v1/tickets/${ticket.id}`),
    Hub.api(`/api/v1/tickets/${ticket.id}/resident`).catch(() => null),
    hasWearer(ticket) ? positionBlock(ticket) : null,
  ]);
  return Hub.el(
    "article",
    {
      class: state.fresh.has(ticket.id) ? "card new" : "card", "data-ticket-id": ticket.id,
      "data-signature": signature(ticket), "data-alarm": alarmOf(ticket),
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
    place,
    coHandlers(detail),
    Hub.el(
      "div", { class: "actions" },
      Hub.el("button", {
        type: "button", class: "ack", hidden: true, text: _("Got it"),
        onclick: () => acknowledge([ticket.id]),
      }),
      (detail.action_details || []).map((o) => actionForm(ticket, o)),
    ),
    timeline(ticket, detail),
  );
}

// What a card shows; a card whose ticket has not changed is kept as it is, so a note
// being typed or a volunteer being picked survives the reload a notification causes.
function signature(ticket) {
  return JSON.stringify([ticket.updated_at, ticket.status, ticket.assignee_id, state.fresh.has(ticket.id)]);
}

async function loadTickets() {
  // One load at a time; a call meanwhile loads once more after it (the newest wins).
  if (state.loading) {
    state.again = true;
    return state.loading;
  }
  state.loading = (async () => {
    do {
      state.again = false;
      await loadOnce();
    } while (state.again);
  })();
  try {
    await state.loading;
  } finally {
    state.loading = null;
  }
  return null;
}

async function loadOnce() {
  try {
    const page = await Hub.api("/api/v1/tickets?limit=100");
    const visible = new Set(page.items.map((t) => t.id));
    const open = page.items.filter((t) => state.open.has(t.status));
    // A card shown before whose ticket this reader can no longer see was given to
    // someone else (escalation, a dispatcher): say so instead of offering "Accept".
    for (const [id, title] of state.shown) {
      if (!visible.has(id)) movedAway(id, title);
    }
    state.tickets = new Map(open.map((t) => [t.id, t]));
    state.shown = new Map(open.map((t) => [t.id, t.title]));
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
    updateRinging();
  } catch (error) {
    showError(_("Could not load your tickets: %(reason)s", { reason: reasonOf(error) }));
    updateRinging(); // what was ringing rings on
  }
}

function movedAway(id, title) {
  memory.change((kept) => { delete kept.repeats[id]; });
  const moved = $("moved");
  if (moved.querySelector(`[data-ticket-id="${id}"]`)) return;
  const note = Hub.el(
    "article", { class: "card gone", "data-ticket-id": id, "data-gone": "moved", role: "status" },
    Hub.el("h2", { text: title }),
    Hub.el("p", { text: _("Given to someone else to handle.") }),
    Hub.el("button", { type: "button", class: "secondary", text: _("OK"), onclick: () => note.remove() }),
  );
  moved.prepend(note);
}

// ---- actions taken without a network: kept on the phone, sent when it is back ----------

function queueAction(ticket, body, label) {
  memory.change((kept) => {
    kept.queue.push({ ticket_id: ticket.id, body, label, title: ticket.title, at: new Date().toISOString() });
  });
  showQueue();
  scheduleFlush();
}

function showQueue() {
  const waiting = memory.read().queue;
  const line = $("queued");
  line.hidden = !waiting.length;
  line.dataset.count = String(waiting.length);
  line.textContent = ngettext(
    "%(n)s action waits for the network and will be sent when it is back.",
    "%(n)s actions wait for the network and will be sent when it is back.",
    waiting.length,
  );
}

const flush = { timer: null, running: false };

function scheduleFlush() {
  clearTimeout(flush.timer);
  if (memory.read().queue.length) flush.timer = setTimeout(flushQueue, 10000);
}

async function flushQueue() {
  if (flush.running || !navigator.onLine) return scheduleFlush();
  flush.running = true;
  let sent = false;
  try {
    for (;;) {
      const [next] = memory.read().queue;
      if (!next) break;
      try {
        await Hub.api(`/api/v1/tickets/${next.ticket_id}/transitions`, { json: next.body });
        sent = true;
      } catch (error) {
        if (offline(error)) break; // still no network: the next try will
        // Refused now (the ticket moved on meanwhile): said, not retried for ever.
        showError(_("Not done: %(action)s on %(title)s: %(reason)s", {
          action: next.label, title: next.title, reason: error.message,
        }));
      }
      memory.change((kept) => { kept.queue.shift(); });
    }
  } finally {
    flush.running = false;
    showQueue();
    scheduleFlush();
  }
  if (sent) await loadTickets();
  return null;
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
  if (note.ticket_id && event.type === "ticket.alert_repeated") {
    // Pressed again: it rings again, even on a ticket already accepted.
    memory.change((kept) => { kept.repeats[note.ticket_id] = new Date().toISOString(); });
  }
  // The push is already in this reader's language: the title, and why now (the body).
  const said = [note.title || event.type, note.body].filter(Boolean).join(" · ");
  if (CUE_KINDS.has(event.type) || event.type === "ticket.reassigned" || event.type === "ticket.co_handler_added") {
    toast(said);
  }
  loadTickets();
}

// Every 30 s: the countdowns, and what changed without a word to this reader (a
// co-handler added by staff, a position).
function tick() {
  for (const badge of document.querySelectorAll("#tickets [data-due]")) {
    badge.replaceWith(dueBadge(badge.dataset.due));
  }
  loadTickets().then(refreshPositions);
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
    loadTickets(); // whatever happened while the stream was down (and rings what waits)
    flushQueue();
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
  state.me = me;
  // Staff also close what they verified; a volunteer's part ends at resolved.
  if (me.role !== "volunteer") state.open = new Set([...OPEN, "verified"]);
  wireSound();
  $("toast-ack").addEventListener("click", () => acknowledge(ringing().map((t) => t.id)));
  window.addEventListener("online", () => { flushQueue(); loadTickets(); });
  window.addEventListener("offline", () => showError(_("No network connection: the list may be out of date.")));
  showQueue();
  await loadTickets();
  connect();
  flushQueue();
  setInterval(tick, 30000);
}

start();
