"""Webhooks: each notification POSTed as JSON to a list of URLs.

Settings-free: the URLs (and an optional secret) are given at construction.
With a secret, ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``
lets the receiver check the sender. Transport errors, timeouts, 429 and 5xx
are retried with backoff; other 4xx are not (the receiver refused it).
``X-Hub-Event`` carries the kind and ``X-Hub-Delivery`` the notification id
(also the body's ``id``). It is the same on every delivery of one notification:
a retry here, or the outbox sending it again after a hub died between the POST
and marking it delivered (at least once, see hub/notifications/outbox.py). A
receiver drops duplicates by it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Sequence

import httpx

from hub.notifications.base import Notification

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"


def sign(secret: str | bytes, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class WebhookError(RuntimeError):
    pass


class WebhookNotifier:
    def __init__(
        self,
        urls: Sequence[str],
        *,
        secret: str | bytes | None = None,
        timeout_s: float = 5.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        include_silent: bool = True,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.urls = list(urls)
        self._secret = secret
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._include_silent = include_silent
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    async def notify(self, notification: Notification) -> None:
        if notification.silent and not self._include_silent:
            return
        body = notification.model_dump_json().encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Event": notification.kind,
            "X-Hub-Delivery": notification.id,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        results = await asyncio.gather(
            *(self._deliver(url, body, headers) for url in self.urls), return_exceptions=True
        )
        failed = [(url, r) for url, r in zip(self.urls, results, strict=True) if r is not None]
        if failed:
            raise WebhookError(
                f"{notification.kind} {notification.id} not delivered to "
                + "; ".join(f"{url}: {err}" for url, err in failed)
            )

    async def _deliver(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        delay = self._backoff_s
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    raise WebhookError(problem)
            if attempt == self._attempts:
                raise WebhookError(f"{problem} after {attempt} attempts")
            log.warning("webhook %s: %s; retry %d in %.1fs", url, problem, attempt, delay)
            await asyncio.sleep(delay)
            delay *= 2

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()
