// The inbox's service worker (served as /inbox-sw.js, scope /inbox): it shows what the hub
// pushes while no inbox page is open (hub/notifications/push/notifier.py sends the title
// and body in the reader's language, the ticket id, the severity and the words of the
// "Accept" action). A critical alarm stays on screen until touched, vibrates, and offers
// "Accept"; touching it opens /inbox#ticket-<id> (with ?accept=<id> for the action, which
// api/static/push.js performs through the page's own Accept button).
"use strict";

const VIBRATE = [500, 200, 500, 200, 500];

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function read(event) {
  if (!event.data) return null;
  try {
    return event.data.json();
  } catch {
    return { title: event.data.text() };
  }
}

self.addEventListener("push", (event) => {
  const data = read(event);
  if (!data || !data.title) return;
  const critical = data.severity === "critical";
  const ticket = Number.isInteger(data.ticket_id) ? data.ticket_id : null;
  const options = {
    body: data.body || "",
    tag: ticket ? `ticket-${ticket}` : data.id,
    renotify: true,
    icon: "/static/icons/inbox-192.png",
    badge: "/static/icons/inbox-192.png",
    timestamp: data.at ? Date.parse(data.at) : Date.now(),
    data: { ticket, id: data.id, kind: data.kind, severity: data.severity },
    requireInteraction: critical,
  };
  if (critical) {
    options.vibrate = VIBRATE;
    if (ticket && data.accept) options.actions = [{ action: "accept", title: data.accept }];
  }
  event.waitUntil(
    self.registration.showNotification(data.title, options).then(() => tellPages(data)),
  );
});

// An open inbox hears of it too (it refreshes its list on its own stream; this is a hint).
async function tellPages(data) {
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const page of pages) page.postMessage({ type: "chub.push", data });
}

self.addEventListener("notificationclick", (event) => {
  const note = event.notification;
  const ticket = note.data && note.data.ticket;
  note.close();
  let url = "/inbox";
  if (ticket) url = event.action === "accept" ? `/inbox?accept=${ticket}#ticket-${ticket}` : `/inbox#ticket-${ticket}`;
  event.waitUntil(open(new URL(url, self.location.origin).href));
});

async function open(url) {
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const inbox = pages.find((p) => new URL(p.url).pathname === "/inbox");
  if (inbox) {
    await inbox.focus();
    return inbox.navigate(url).catch(() => inbox.postMessage({ type: "chub.open", url }));
  }
  return self.clients.openWindow(url);
}
