"""Web Push to the installed inbox: a person hears of an alarm with the page closed.

* :mod:`.keys`: the hub's VAPID key pair (RFC 8292), made once in the data directory;
* :mod:`.subscriptions`: the devices each person's inbox subscribed on (one row per
  browser or installed app), their endpoints checked;
* :mod:`.notifier`: :class:`WebPushNotifier`, the outbox's channel that encrypts each
  notification for each device (RFC 8291, aes128gcm) and posts it to its push service.

The page side is api/static/push.js (subscribes) and api/static/inbox-sw.js (the service
worker that shows the notification); docs/push.md has the whole path.
"""
