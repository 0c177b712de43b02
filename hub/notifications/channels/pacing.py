"""Keeping to a robot's rate limit by merging messages, never by dropping one.

WeCom and DingTalk group robots take at most 20 messages a minute; past that they
answer with an error code (WeCom 45009, DingTalk 130101) and the message is lost
unless sent again. Feishu's custom bot takes 100 a minute and 5 a second.

:class:`MergingSender` sends one request at a time per robot from a token bucket
that can never exceed the limit in any window: ``burst`` tokens, refilled at
``(per_window - burst) / window_s`` a second, so a window holds at most ``burst +
(per_window - burst)`` requests. While no token is free, or while a request is in
flight, texts wait and are merged: the next request carries every waiting text (up
to ``max_bytes``; the rest go in the one after). So an alarm storm becomes fewer,
longer messages, and every alarm's text is in one of them.

Critical texts never wait for a merge window: there is none. A request goes as soon
as a token is free; texts that are not critical leave ``reserve`` tokens in the bucket,
so an SOS after a burst of lesser notices still finds a token at once.

The limit is per robot and per process: several hubs sharing one robot each keep to
it on their own (give each hub its own robot, or lower the limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Send = Callable[[list[str]], Awaitable[None]]


@dataclass
class _Waiting:
    text: str
    critical: bool
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _fit(text: str, max_bytes: int) -> str:
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - 3].decode(errors="ignore") + "…"


class MergingSender:
    def __init__(
        self,
        send: Send,
        *,
        per_window: int = 20,
        window_s: float = 60.0,
        burst: int | None = None,
        reserve: int = 2,
        max_bytes: int = 4000,
        separator: str = "\n\n",
        min_interval_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_window < 2 or window_s <= 0:
            raise ValueError("per_window must be at least 2 and window_s positive")
        self._send = send
        self.burst = burst if burst is not None else max(1, per_window // 2)
        if not 1 <= self.burst < per_window:
            raise ValueError("burst must be at least 1 and below per_window")
        self._rate = (per_window - self.burst) / window_s  # tokens a second
        self._reserve = min(reserve, self.burst - 1)
        self._max_bytes = max_bytes
        self._separator_bytes = len(separator.encode())
        self._clock = clock
        self._min_interval_s = min_interval_s  # a per-second limit too (Feishu: 5 a second)
        self._last_send: float | None = None
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._waiting: list[_Waiting] = []
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.requests = 0

    async def submit(self, text: str, *, critical: bool) -> None:
        """Send ``text`` (alone or merged with others); raises what the send raised."""
        waiting = _Waiting(_fit(text, self._max_bytes), critical)
        # Its outcome is read even if the caller gave up waiting (the plugin's timeout).
        waiting.done.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._waiting.append(waiting)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="channel-merging-sender")
        self._wake.set()
        await asyncio.shield(waiting.done)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def _take_batch(self) -> list[_Waiting]:
        # Critical first, otherwise in arrival order; as many as fit in one message.
        ordered = sorted(self._waiting, key=lambda w: not w.critical)
        batch: list[_Waiting] = []
        size = 0
        for w in ordered:
            more = len(w.text.encode()) + (self._separator_bytes if batch else 0)
            if batch and size + more > self._max_bytes:
                break
            batch.append(w)
            size += more
        self._waiting = [w for w in self._waiting if w not in batch]
        return batch

    async def _run(self) -> None:
        while True:
            while not self._waiting:
                self._wake.clear()
                await self._wake.wait()
            self._refill()
            needed = 1.0 if any(w.critical for w in self._waiting) else 1.0 + self._reserve
            if self._tokens < needed:
                delay = (needed - self._tokens) / self._rate
                self._wake.clear()
                # A critical text arriving meanwhile may need fewer tokens: look again then.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            if self._last_send is not None:
                gap = self._last_send + self._min_interval_s - self._clock()
                if gap > 0:
                    await asyncio.sleep(gap)  # texts arriving meanwhile join this request
            self._tokens -= 1.0
            self._last_send = self._clock()
            batch = self._take_batch()
            self.requests += 1
            try:
                await self._send([w.text for w in batch])
            except asyncio.CancelledError:
                for w in batch:
                    if not w.done.done():
                        w.done.cancel()
                raise
            except Exception as exc:
                for w in batch:
                    if not w.done.done():
                        w.done.set_exception(exc)
            else:
                for w in batch:
                    if not w.done.done():
                        w.done.set_result(None)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for w in self._waiting:
            if not w.done.done():
                w.done.cancel()
        self._waiting = []
