"""The Web Push channel: each notification, encrypted for each of its people's devices.

For every subscription of the notification's recipients (hub/notifications/push/
subscriptions.py), in the reader's language (:func:`~hub.notifications.service.
recipient_languages`), a JSON payload (title, body, ticket id, severity, kind) is
encrypted for that device (RFC 8291 ``aes128gcm``, pywebpush over http-ece) and POSTed
to its push service with a VAPID ``Authorization: vapid t=JWT,k=KEY`` (RFC 8292,
py-vapid), ``TTL`` and ``Urgency`` (high for high and critical alarms). The service
worker (api/static/inbox-sw.js) shows it.

Outcomes per device (``notification_deliveries``, recipient ``push:<id>``): 2xx sent;
404 or 410 means the subscription is gone (permission revoked, app removed): the row
is deleted and the outcome "refused"; 429, 5xx and network errors fail and are retried
by the outbox for that device only; another 4xx (a payload the service will not take,
a key it does not accept) is refused for good. A silent (duress) alarm never goes to a
resident's device, whatever reached the plugin.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import httpx
from pywebpush import WebPusher

from device_adapters.model import Severity
from hub.i18n.catalogs import pgettext
from hub.i18n.locales import DEFAULT
from hub.notifications.base import Notification
from hub.notifications.channels import outcomes
from hub.notifications.channels.errors import ChannelError
from hub.notifications.preferences import preferences_of
from hub.notifications.push import subscriptions
from hub.notifications.push.keys import VapidKeys
from hub.notifications.push.subscriptions import Subscription
from hub.notifications.service import recipient_languages
from hub.storage.db import Database

log = logging.getLogger(__name__)

# A push service takes 4096 bytes of encrypted record; the plain text is cut well below.
MAX_BODY_CHARS = 400
_URGENT = {Severity.HIGH, Severity.CRITICAL}
_JWT_LIFETIME_S = 12 * 3600  # RFC 8292: at most 24 hours


def payload(n: Notification, language: str | None) -> bytes:
    """What the service worker reads, in the reader's language."""
    said = n.for_reader(language)
    body = said.body if len(said.body) <= MAX_BODY_CHARS else said.body[: MAX_BODY_CHARS - 1] + "…"
    return json.dumps(
        {
            "id": n.id,
            "kind": n.kind,
            "title": said.title,
            "body": body,
            "ticket_id": n.ticket_id,
            "severity": n.severity.value,
            "at": n.at.isoformat(),
            # The service worker's button on a critical alarm's notification.
            "accept": pgettext(language or DEFAULT, "push action", "Accept"),
        },
        ensure_ascii=False,
    ).encode()


def audience(endpoint: str) -> str:
    """The JWT's ``aud``: the push service's origin."""
    url = urllib.parse.urlsplit(endpoint)
    return f"{url.scheme}://{url.netloc}"


class WebPushNotifier:
    def __init__(
        self,
        db: Database,
        keys: VapidKeys,
        *,
        subject: str,
        ttl_s: int = 3600,
        name: str = "webpush",
        client: httpx.AsyncClient | None = None,
        concurrency: int = 10,
        clock: Any = time.time,
    ) -> None:
        self.name = name
        self._db = db
        self._vapid = keys.vapid
        self._subject = subject
        self._ttl = ttl_s
        self._client = client or httpx.AsyncClient(timeout=10.0)
        self._limit = asyncio.Semaphore(concurrency)
        self._clock = clock

    async def notify(self, notification: Notification) -> None:
        async with self._db.read() as conn:
            found = await subscriptions.for_recipients(
                conn, notification.recipients, silent=notification.silent
            )
            people = sorted({s.user_id for s in found})
            languages = await recipient_languages(conn, people)
            # Each person's choice of channels and quiet hours (critical alarms ignore it).
            chosen = await preferences_of(conn, people)
        now = datetime.now(UTC)
        found = [
            s for s in found if chosen[s.user_id].allows("webpush", notification.severity, now)
        ]
        if not found:
            return
        done = await outcomes.already_done(self._db, notification.id, self.name)
        todo = [s for s in found if f"push:{s.id}" not in done]
        results = await asyncio.gather(
            *(self._push(notification, s, languages.get(s.user_id)) for s in todo)
        )
        await outcomes.record(
            self._db, notification.id, self.name, list(results), notification.ticket_id
        )
        failed = [o for o in results if o.outcome == outcomes.FAILED]
        if failed:
            raise ChannelError(
                f"{self.name}: {len(failed)} of {len(results)} not pushed ({failed[0].reason})"
            )

    def _headers(self, n: Notification, endpoint: str) -> dict[str, str]:
        claims = {
            "aud": audience(endpoint),
            "exp": int(self._clock()) + _JWT_LIFETIME_S,
            "sub": self._subject,
        }
        signed: dict[str, str] = self._vapid.sign(claims)
        return {
            "Authorization": signed["Authorization"],
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self._ttl),
            "Urgency": "high" if n.severity in _URGENT else "normal",
        }

    async def _push(
        self, n: Notification, sub: Subscription, language: str | None
    ) -> outcomes.Outcome:
        recipient = f"push:{sub.id}"
        info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
        try:
            body: bytes = WebPusher(info).encode(payload(n, language), "aes128gcm")["body"]
        except Exception as exc:  # keys a device should never have sent: nothing to retry
            return outcomes.Outcome(recipient, outcomes.REFUSED, f"keys: {exc}", True)
        async with self._limit:
            try:
                answer = await self._client.post(
                    sub.endpoint, content=body, headers=self._headers(n, sub.endpoint)
                )
            except httpx.HTTPError as exc:
                return outcomes.Outcome(recipient, outcomes.FAILED, type(exc).__name__)
        status = answer.status_code
        if 200 <= status < 300:
            return outcomes.Outcome(recipient, outcomes.SENT)
        reason = f"HTTP {status}: {answer.text[:200]}".strip()
        if status in (404, 410):
            async with self._db.write() as conn:
                await subscriptions.remove(conn, sub.id)
            log.info("push subscription %s of user %s is gone: removed", sub.id, sub.user_id)
            return outcomes.Outcome(recipient, outcomes.REFUSED, reason, True)
        if status == 429 or status >= 500:
            return outcomes.Outcome(recipient, outcomes.FAILED, reason)
        return outcomes.Outcome(recipient, outcomes.REFUSED, reason, True)

    async def aclose(self) -> None:
        await self._client.aclose()
