// The inbox on a phone hears of an alarm with the page closed: this registers the service
// worker (/inbox-sw.js, scope /inbox), offers to turn on alarm notifications (browsers ask
// for the permission only after a tap), subscribes this device to Web Push with the hub's
// key and hands the subscription to the hub; logging out takes it back. A notification
// touched opens /inbox#ticket-<id>: the ticket's card is brought into view and, for the
// notification's "Accept" button (?accept=<id>), accepted with the card's own button.
"use strict";

const Push = (() => {
  const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  const $ = (id) => document.getElementById(id);

  function keyBytes(base64url) {
    const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  }

  function sameKey(subscription, key) {
    const given = subscription.options && subscription.options.applicationServerKey;
    if (!given) return true;
    const a = new Uint8Array(given);
    return a.length === key.length && a.every((v, i) => v === key[i]);
  }

  async function subscribe(registration) {
    const { public_key: publicKey } = await Hub.api("/api/v1/push/key");
    const key = keyBytes(publicKey);
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameKey(subscription, key)) {
      await subscription.unsubscribe();
      subscription = null;
    }
    if (!subscription) {
      subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: key,
      });
    }
    await Hub.api("/api/v1/push/subscriptions", { json: subscription.toJSON() });
    return subscription;
  }

  async function forget(registration) {
    const subscription = await registration.pushManager.getSubscription();
    if (!subscription) return;
    await Hub.api("/api/v1/push/subscriptions", {
      method: "DELETE", json: { endpoint: subscription.endpoint },
    }).catch(() => null);
    await subscription.unsubscribe().catch(() => null);
  }

  function say(state, text) {
    const box = $("push");
    if (!box) return;
    box.hidden = false;
    box.dataset.state = state;
    box.querySelector("#push-status").textContent = text;
    box.querySelector("#push-on").hidden = state !== "offer";
  }

  async function turnOn(registration) {
    const answer = await Notification.requestPermission();
    if (answer !== "granted") {
      say("blocked", _("Notifications are blocked for this page; allow them in the browser's settings to hear alarms with the page closed."));
      return;
    }
    await start(registration);
  }

  async function start(registration) {
    try {
      await subscribe(registration);
      say("on", _("Alarm notifications are on for this device."));
    } catch (error) {
      say("failed", _("Alarm notifications could not be turned on: %(reason)s", { reason: error.message }));
    }
  }

  // ---- #ticket-<id>: the card a notification was about --------------------------------
  function whenCard(id, job) {
    const find = () => document.querySelector(`article[data-ticket-id="${id}"]`);
    const card = find();
    if (card) return job(card);
    const watch = new MutationObserver(() => {
      const found = find();
      if (!found) return;
      watch.disconnect();
      job(found);
    });
    watch.observe(document.body, { childList: true, subtree: true });
    setTimeout(() => watch.disconnect(), 30000);
  }

  function followHash() {
    const match = /^#ticket-(\d+)$/.exec(location.hash);
    if (!match) return;
    const id = match[1];
    const url = new URL(location.href);
    const accept = url.searchParams.get("accept") === id;
    if (accept) {
      url.searchParams.delete("accept");
      history.replaceState(null, "", url.href);
    }
    whenCard(id, (card) => {
      card.id = `ticket-${id}`;
      card.scrollIntoView({ block: "start" });
      if (accept) {
        const button = card.querySelector("button[data-action=accept]");
        if (button) button.click();
      }
    });
  }

  async function init() {
    followHash();
    window.addEventListener("hashchange", followHash);
    if (!supported || !Hub.saved()) return;
    let registration;
    try {
      registration = await navigator.serviceWorker.register("/inbox-sw.js", { scope: "/inbox" });
    } catch {
      return; // no worker (a private window, an old browser): the open page still hears alarms
    }
    Hub.beforeLogout(() => forget(registration));
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "chub.open") location.href = event.data.url;
    });
    if (Notification.permission === "granted") return start(registration);
    if (Notification.permission === "denied") {
      return say("blocked", _("Notifications are blocked for this page; allow them in the browser's settings to hear alarms with the page closed."));
    }
    say("offer", _("Turn on alarm notifications to hear of an SOS with this page closed."));
    const button = $("push-on"); // gone when the page is not for this account
    if (button) button.addEventListener("click", () => turnOn(registration));
  }

  return { init, ready: init() };
})();
