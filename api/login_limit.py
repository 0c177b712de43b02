"""Failed-login limits for ``POST /api/v1/auth/token``, kept in this process.

Failed attempts are counted in a sliding window, per username (lower-cased)
and per client address:

* a username may fail ``login_attempts_per_window`` times per ``login_window_s``;
* one address may fail ``IP_FACTOR`` times as often (several people behind one
  community router share an address, but one client guessing across many
  usernames is stopped too).

Once either count is reached, the login is answered 429 with ``Retry-After``
before the password is checked, and the refused attempt is not counted (so
waiting out the window always works). A successful login clears the
username's failures, not the address's (only its own attempt is not counted
there): one valid account must not reset a guessing client's count.

Memory stays bounded: failures older than the window are dropped, and at most
``max_keys`` usernames and addresses are tracked each, the least recently
failing forgotten first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from hub.settings import Settings

IP_FACTOR = 4  # an address may fail 4x as often as one username
MAX_KEYS = 10_000
_MAX_KEY_LENGTH = 64  # usernames are at most 64 characters; longer ones never exist

Clock = Callable[[], float]


class FailureWindow:
    """Failures per key within the last ``window_s`` seconds, at most ``limit`` kept per key."""

    def __init__(
        self, limit: int, window_s: float, *, max_keys: int = MAX_KEYS, clock: Clock
    ) -> None:
        if limit < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError("limit and max_keys must be at least 1, window_s positive")
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._clock = clock
        # Ordered by each key's latest failure, oldest first.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def __contains__(self, key: object) -> bool:
        return key in self._failures

    def retry_after(self, key: str) -> int:
        """0 if the key may try; else whole seconds until its oldest failure leaves the window."""
        now = self._clock()
        self._expire(now)
        failures = self._failures.get(key)
        if failures is None:
            return 0
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if len(failures) < self.limit:
            return 0
        return max(1, math.ceil(failures[0] + self.window_s - now))

    def fail(self, key: str) -> float:
        """Count a failure now; returns its time (to :meth:`forgive` it later)."""
        now = self._clock()
        self._expire(now)
        failures = self._failures.pop(key, None)
        if failures is None:
            failures = deque(maxlen=self.limit)
            while len(self._failures) >= self.max_keys:
                self._failures.popitem(last=False)  # the least recently failing key
        failures.append(now)
        self._failures[key] = failures  # now the most recent
        return now

    def forgive(self, key: str, at: float) -> None:
        """Take back one failure counted at ``at`` (if it is still kept)."""
        failures = self._failures.get(key)
        if failures is not None and at in failures:
            failures.remove(at)

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _expire(self, now: float) -> None:
        # Keys are ordered by latest failure: stop at the first one still in the window.
        while self._failures:
            key, failures = next(iter(self._failures.items()))
            if failures and failures[-1] > now - self.window_s:
                break
            del self._failures[key]


@dataclass(frozen=True)
class Refusal:
    retry_after: int
    reason: str


@dataclass(frozen=True)
class Attempt:
    """A login let through, already counted as failed until :meth:`LoginLimiter.succeeded`."""

    user_key: str
    ip: str
    at: float


class LoginLimiter:
    """Per-username and per-address failure windows for logins.

    :meth:`attempt` counts the login as failed *before* the password is
    checked, so a burst of parallel guesses cannot all pass the check while
    none has failed yet; :meth:`succeeded` takes it back.
    """

    def __init__(
        self,
        per_user: int,
        window_s: float,
        *,
        per_ip: int | None = None,
        max_keys: int = MAX_KEYS,
        clock: Clock = time.monotonic,
    ) -> None:
        self.users = FailureWindow(per_user, window_s, max_keys=max_keys, clock=clock)
        self.ips = FailureWindow(
            per_ip if per_ip is not None else per_user * IP_FACTOR,
            window_s,
            max_keys=max_keys,
            clock=clock,
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = time.monotonic) -> LoginLimiter:
        return cls(settings.login_attempts_per_window, settings.login_window_s, clock=clock)

    def attempt(self, username: str, ip: str) -> Attempt | Refusal:
        """Let a login be tried (counted as failed for now), or say how long to wait and why."""
        user_key = username.lower()[:_MAX_KEY_LENGTH]
        wait = self.users.retry_after(user_key)
        if wait:
            return Refusal(wait, f"too many failed logins for this username; try again in {wait} s")
        wait = self.ips.retry_after(ip)
        if wait:
            return Refusal(wait, f"too many failed logins from your address; try again in {wait} s")
        self.users.fail(user_key)
        return Attempt(user_key, ip, self.ips.fail(ip))

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the username starts afresh, the address loses this failure."""
        self.users.clear(attempt.user_key)
        self.ips.forgive(attempt.ip, attempt.at)


def client_ip(request: Request) -> str:
    """The peer's address (behind a reverse proxy, run uvicorn with --proxy-headers)."""
    return request.client.host if request.client else "unknown"


def login_limiter(request: Request) -> LoginLimiter:
    """One limiter per app, made on first use from the app's settings.

    Each API process (and each test's app) counts on its own; a test may put
    its own limiter, with a fake clock, at ``app.state.login_limiter`` first.
    """
    state = request.app.state
    limiter: LoginLimiter | None = getattr(state, "login_limiter", None)
    if limiter is None:
        limiter = LoginLimiter.from_settings(state.ctx.settings)
        state.login_limiter = limiter
    return limiter
