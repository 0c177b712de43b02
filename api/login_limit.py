"""Failed-login limits for ``POST /api/v1/auth/token``.

The limits themselves (per account and address, per address, per account) and
their store are in hub/users/login_limits.py; docs/auth.md explains them. Here:
the client's address, the clock, and the words of a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection

from api.reader import Reader
from hub.i18n.catalogs import N_
from hub.settings import LoginSettings
from hub.storage.db import Database
from hub.users.login_limits import (
    Attempt,
    Limit,
    LoginPolicy,
    Refusal,
    login_succeeded,
    try_login,
)

Clock = Callable[[], datetime]

__all__ = ["Attempt", "LoginLimiter", "Refusal", "client_ip", "login_limiter", "refusal_detail"]

_WHY = {
    Limit.ACCOUNT_ADDRESS: N_(
        "too many failed logins for this username from your address; "
        "try again at %(time)s (%(wait)s)"
    ),
    Limit.ADDRESS: N_("too many failed logins from your address; try again at %(time)s (%(wait)s)"),
    Limit.ACCOUNT: N_("too many failed logins for this username; try again at %(time)s (%(wait)s)"),
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def refusal_detail(refusal: Refusal, reader: Reader, now: datetime) -> str:
    """Why a login is refused and when to try again: the local time and how long from now
    (the Retry-After header keeps the seconds for machines)."""
    wait = timedelta(seconds=refusal.retry_after)
    return reader.text(
        _WHY[refusal.limit],
        time=reader.time_in_sentence(now + wait, now=now),
        wait=reader.relative(wait),
    )


class LoginLimiter:
    """The login limits of one app, on its database, with its clock."""

    def __init__(self, policy: LoginPolicy, *, clock: Clock = _utc_now) -> None:
        self.policy = policy
        self.clock = clock

    @classmethod
    def from_settings(cls, login: LoginSettings, *, clock: Clock = _utc_now) -> LoginLimiter:
        return cls(LoginPolicy.from_settings(login), clock=clock)

    async def attempt(self, db: Database, username: str, address: str) -> Attempt | Refusal:
        """Committed at once: other processes count this attempt while its password is checked."""
        async with db.write() as conn:
            return await try_login(conn, self.policy, username, address, self.clock())

    async def succeeded(self, conn: AsyncConnection, attempt: Attempt) -> None:
        await login_succeeded(conn, attempt, self.clock())


def client_ip(request: Request) -> str:
    """The client's address: the peer's, or what a proxy named in HUB_API_TRUSTED_PROXIES
    says in X-Forwarded-For (api/server.py)."""
    return request.client.host if request.client else "unknown"


def login_limiter(request: Request) -> LoginLimiter:
    """One limiter per app, made on first use from the app's settings; a test may put
    its own, with a fake clock, at ``app.state.login_limiter`` first."""
    state = request.app.state
    limiter: LoginLimiter | None = getattr(state, "login_limiter", None)
    if limiter is None:
        limiter = LoginLimiter.from_settings(state.ctx.settings.login)
        state.login_limiter = limiter
    return limiter
