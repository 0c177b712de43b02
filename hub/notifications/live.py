"""Live push to logged-in users over Server-Sent Events.

Every hub process runs one; its :class:`hub.notifications.outbox.OutboxRelay`
tails the shared outbox and pushes each notification committed by any hub to
it once, so it does not matter which hub a browser is connected to.

Each connection subscribes with the user it authenticated as and receives only
the notifications addressed to that user or to their role (in their community),
titled in that user's language (hub.notifications.service.recipient_languages).

* Every event carries an id ``<epoch>-<seq>``; a client reconnecting with
  ``Last-Event-ID`` gets what it missed replayed from a small in-memory ring
  buffer. The epoch changes when the hub restarts; an id from another epoch,
  or one older than the buffer, replays what the buffer holds and sends a
  ``lagged`` event first so the client knows to refetch its lists.
* Each connection has a bounded queue: a client that does not keep up loses
  the oldest events and gets a ``lagged`` event saying how many.
* A comment line goes out every ``heartbeat_s`` (15 s) so proxies keep the
  connection open and dead clients are noticed.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator

from hub.notifications.base import Notification
from hub.users.models import Role, UserPublic

RETRY_MS = 3000


def _frame(event: str, data: str, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


class Subscription:
    """One open stream: a bounded queue that drops its oldest entries when full."""

    def __init__(
        self,
        user_id: int,
        role: Role,
        community_id: int | None,
        size: int,
        language: str | None = None,
    ) -> None:
        self.user_id = user_id
        self.language = language  # the titles are pushed in it (None: as stored)
        self.role = role
        self.community_id = community_id
        self._items: deque[tuple[str, Notification]] = deque()
        self._size = size
        self._wake = asyncio.Event()
        self.dropped = 0
        self.gap = False  # resumed from an id the ring buffer no longer covers
        self.closed = False
        self.opened_at = time.monotonic()

    def wants(self, notification: Notification) -> bool:
        return notification.addressed_to(self.user_id, self.role, self.community_id)

    def put(self, event_id: str, notification: Notification) -> None:
        if len(self._items) >= self._size:
            self._items.popleft()
            self.dropped += 1
        self._items.append((event_id, notification))
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def wait(self, timeout_s: float) -> bool:
        """True when something is queued (or the stream closed), False on timeout."""
        if self._items or self.closed or self.dropped or self.gap:
            return True
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def take(self) -> list[str]:
        frames: list[str] = []
        if self.gap or self.dropped:
            reason = "queue_full" if self.dropped else "history_gap"
            frames.append(_frame("lagged", json.dumps({"reason": reason, "dropped": self.dropped})))
            self.gap, self.dropped = False, 0
        while self._items:
            event_id, notification = self._items.popleft()
            data = notification.for_reader(self.language).model_dump_json()
            frames.append(_frame(notification.kind, data, event_id))
        return frames


class LiveNotifier:
    """The live-push plugin: a ring buffer of recent notifications and the open streams.

    Fed by this process's outbox relay (every hub tails the outbox), so a stream
    connected to any hub hears what every hub committed, once.
    """

    live_push = True  # not an outside channel: the outbox relay feeds it, not its senders

    def __init__(
        self, *, history: int = 256, queue_size: int = 64, heartbeat_s: float = 15.0
    ) -> None:
        self.epoch = uuid.uuid4().hex[:8]
        self.heartbeat_s = heartbeat_s
        self._queue_size = queue_size
        self._seq = 0
        self._history: deque[tuple[int, Notification]] = deque(maxlen=history)
        self._subscriptions: set[Subscription] = set()

    @property
    def connections(self) -> int:
        return len(self._subscriptions)

    def _event_id(self, seq: int) -> str:
        return f"{self.epoch}-{seq}"

    async def notify(self, notification: Notification) -> None:
        self._seq += 1
        self._history.append((self._seq, notification))
        event_id = self._event_id(self._seq)
        for sub in list(self._subscriptions):
            if sub.wants(notification):
                sub.put(event_id, notification)

    def streams_of(self, user_id: int) -> list[Subscription]:
        """The open subscriptions of one account, oldest first."""
        mine = [s for s in self._subscriptions if s.user_id == user_id]
        return sorted(mine, key=lambda s: s.opened_at)

    def subscribe(
        self, user: UserPublic, last_event_id: str | None = None, *, language: str | None = None
    ) -> Subscription:
        """``language``: the one the stream's reader reads titles in (None: as stored)."""
        sub = Subscription(user.id, user.role, user.community_id, self._queue_size, language)
        if last_event_id:
            self._replay(sub, last_event_id)
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)
        sub.close()

    def _replay(self, sub: Subscription, last_event_id: str) -> None:
        epoch, _, seq_text = last_event_id.strip().partition("-")
        after = int(seq_text) if epoch == self.epoch and seq_text.isdigit() else None
        if after is None or after > self._seq:
            sub.gap = True  # another hub run (or nonsense): send what we have
            after = 0
        elif self._history and self._history[0][0] > after + 1:
            sub.gap = True  # the buffer lost some of what the client missed
        for seq, notification in self._history:
            if seq > after and sub.wants(notification):
                sub.put(self._event_id(seq), notification)

    async def frames(self, sub: Subscription) -> AsyncIterator[str]:
        """The text/event-stream body for one subscription; unsubscribes when it ends."""
        try:
            yield f"retry: {RETRY_MS}\n: connected\n\n"
            while not sub.closed:
                if await sub.wait(self.heartbeat_s):
                    batch = sub.take()
                    if batch:
                        yield "".join(batch)
                else:
                    yield ": heartbeat\n\n"
        finally:
            self.unsubscribe(sub)

    async def aclose(self) -> None:
        """End every open stream (at shutdown)."""
        for sub in list(self._subscriptions):
            self.unsubscribe(sub)
