"""Failed-login limits: guessing is slowed per account and address, stopped per address
and, as a last resort, per account; none of it keeps the real user out from elsewhere.

The limits live in the database, so every test runs on SQLite and PostgreSQL, and two
apps on one database stand for two API processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from api.app import create_app
from api.login_limit import LoginLimiter
from api.routes import auth as auth_routes
from api.state import ApiContext
from community_hub_tools.demo.seed import DEMO_PASSWORD
from hub.schema.users import login_failures, login_known_addresses
from hub.settings import LoginSettings, Settings
from hub.storage.db import Database
from hub.users.login_limits import LoginPolicy

ATTACKER = "203.0.113.7"
HOME = "198.51.100.2"
FREE = LoginSettings().free_failures  # 5
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the demo community's zone


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 9, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _app(db: Database, clock: FakeClock, **login: Any) -> FastAPI:
    """An app whose login limits are ``login`` (fields of LoginSettings) over the defaults."""
    settings = Settings(login=LoginSettings(**login))
    app = create_app(ApiContext(db=db, settings=settings))
    app.state.login_limiter = LoginLimiter.from_settings(settings.login, clock=clock)
    return app


@asynccontextmanager
async def _client_from(app: FastAPI, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as c:
        yield c


async def _login(
    client: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )


async def _wrong(client: httpx.AsyncClient, username: str) -> int:
    return (await _login(client, username, "wrong")).status_code


def _limited(
    response: httpx.Response, retry_after: int, why: str, clock: FakeClock, wait: str
) -> None:
    """Refused for ``retry_after`` seconds: the header says the seconds, the reason (in the
    community's language, Chinese) the local time to try again and how long that is."""
    assert response.status_code == 429, response.text
    assert response.headers["Retry-After"] == str(retry_after)
    at = (clock.now + timedelta(seconds=retry_after)).astimezone(SHANGHAI)
    assert response.json()["detail"] == f"{why}，请于今天 {at:%H:%M}（{wait}）再试"


async def _failures(db: Database) -> list[tuple[str, str]]:
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(login_failures.c.username, login_failures.c.address).order_by(
                login_failures.c.id
            )
        )
        return [(u, a) for u, a in rows]


# --- The regression: one person's guesses no longer keep another out.


async def test_wrong_passwords_from_one_address_do_not_keep_the_user_out_from_another(
    api_db: Database,
) -> None:
    app = create_app(ApiContext(db=api_db, settings=Settings()))
    async with _client_from(app, ATTACKER) as attacker, _client_from(app, HOME) as volunteer:
        answers = [await _wrong(attacker, "vol.wang") for _ in range(3 * FREE)]
        assert answers[:FREE] == [401] * FREE
        assert set(answers[FREE:]) == {429}  # the attacker is slowed down...
        # ...but the on-duty volunteer, on her own phone, logs in at once.
        assert (await _login(volunteer, "vol.wang")).status_code == 200


# --- Per account and address: a delay that doubles.


async def test_the_delay_doubles_per_account_and_address_up_to_the_cap(
    api_db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(api_db, clock, max_delay_s=10)
    why = "该用户名从您的地址登录失败次数过多"
    async with _client_from(app, ATTACKER) as attacker:
        for _ in range(FREE):
            assert await _wrong(attacker, "vol.chen") == 401
        for delay in (2, 4, 8, 10, 10):  # 10: the cap
            _limited(
                await _login(attacker, "vol.chen", "wrong"), delay, why, clock, f"{delay}秒钟后"
            )
            clock.advance(delay - 0.5)
            # Rounded up.
            _limited(await _login(attacker, "vol.chen", "wrong"), 1, why, clock, "1秒钟后")
            clock.advance(0.5)
            assert await _wrong(attacker, "vol.chen") == 401

        # While delayed, the right password is refused too, without being checked at all.
        checked: list[str] = []

        async def spy(*args: Any) -> None:
            checked.append(args[1])

        monkeypatch.setattr(auth_routes, "authenticate", spy)
        # Usernames are case-blind.
        _limited(await _login(attacker, "VOL.Chen"), 10, why, clock, "10秒钟后")
        assert checked == []
        monkeypatch.undo()
        # The refused tries were not counted: waiting out the delay always works.
        clock.advance(10)
        assert (await _login(attacker, "vol.chen")).status_code == 200
        # Other accounts from the same address were never slowed.
        assert (await _login(attacker, "staff")).status_code == 200


async def test_a_successful_login_clears_its_address_failures_only(
    api_db: Database, clock: FakeClock
) -> None:
    app = _app(api_db, clock)
    async with _client_from(app, HOME) as home, _client_from(app, ATTACKER) as attacker:
        for _ in range(FREE):
            assert await _wrong(home, "vol.zhao") == 401  # she mistypes, a lot
            assert await _wrong(attacker, "vol.zhao") == 401
        clock.advance(2)
        assert (await _login(home, "vol.zhao")).status_code == 200
        assert ("vol.zhao", HOME) not in await _failures(api_db)
        for _ in range(FREE):  # a full allowance again from home
            assert await _wrong(home, "vol.zhao") == 401
        # The attacker's address keeps its failures: two seconds on, its sixth failure
        # doubles the wait, and even the right password is refused.
        assert (await _failures(api_db)).count(("vol.zhao", ATTACKER)) == FREE
        assert await _wrong(attacker, "vol.zhao") == 401
        assert (await _login(attacker, "vol.zhao")).status_code == 429


async def test_parallel_guesses_cannot_overrun_the_limit(
    api_db: Database, clock: FakeClock
) -> None:
    app = _app(api_db, clock)
    async with _client_from(app, ATTACKER) as attacker:
        codes = await asyncio.gather(*(_wrong(attacker, "vol.zhao") for _ in range(3 * FREE)))
    assert sorted(codes) == [401] * FREE + [429] * (2 * FREE)


# --- Two API processes count together.


async def test_two_api_processes_share_the_count(api_db: Database, clock: FakeClock) -> None:
    # A second Database on the same store: its own engine and connections, as in a
    # second process.
    other_db = Database.open(api_db.engine.url.render_as_string(hide_password=False))
    try:
        one, two = _app(api_db, clock), _app(other_db, clock)
        async with _client_from(one, ATTACKER) as via_one, _client_from(two, ATTACKER) as via_two:
            codes = [await _wrong(via_one if i % 2 else via_two, "vol.chen") for i in range(FREE)]
            assert codes == [401] * FREE
            assert (await _login(via_one, "vol.chen", "wrong")).status_code == 429
            assert (await _login(via_two, "vol.chen", "wrong")).status_code == 429
            # At the same moment, through both: still only FREE let through.
            codes = list(
                await asyncio.gather(
                    *(_wrong(via_one if i % 2 else via_two, "vol.wang") for i in range(3 * FREE))
                )
            )
            assert sorted(codes) == [401] * FREE + [429] * (2 * FREE)
    finally:
        await other_db.close()


# --- Per address, across accounts.


async def test_one_address_is_limited_across_usernames(api_db: Database, clock: FakeClock) -> None:
    app = _app(api_db, clock, address_failures=12, window_s=600)
    why = "您的地址登录失败次数过多"
    async with _client_from(app, ATTACKER) as guesser, _client_from(app, HOME) as other:
        # Four accounts, three guesses each: never delayed, but the address's limit is hit.
        for i in range(12):
            assert await _wrong(guesser, f"user{i // 3}") == 401, i
            clock.advance(10)  # failures at +0, +10, ... +110
        # Now at +120: a fresh username, the right password: refused.
        _limited(await _login(guesser, "admin"), 600 - 120, why, clock, "8分钟后")
        # Another address logs in as that user without trouble.
        assert (await _login(other, "admin")).status_code == 200
        clock.advance(600 - 120)  # the first failure leaves the window
        assert (await _login(guesser, "admin")).status_code == 200
        # One slot was free; the next failure fills it again.
        assert await _wrong(guesser, "user9") == 401
        _limited(await _login(guesser, "admin"), 10, why, clock, "10秒钟后")


# --- Per account, from many addresses: the last resort.


async def test_the_account_wide_limit_spares_addresses_the_account_used_before(
    api_db: Database, clock: FakeClock
) -> None:
    app = _app(api_db, clock, account_failures=6, known_address_days=30)
    why = "该用户名登录失败次数过多"
    async with _client_from(app, HOME) as home:
        assert (await _login(home, "vol.wang")).status_code == 200  # her usual address
    clock.advance(86400)  # a day later, guesses from a botnet
    for n in range(3):
        async with _client_from(app, f"192.0.2.{n}") as bot:
            assert [await _wrong(bot, "vol.wang") for _ in range(2)] == [401, 401]
        clock.advance(60)
    async with _client_from(app, "192.0.2.99") as bot, _client_from(app, HOME) as home:
        # A new address is refused even with the right password, until failures age out.
        _limited(await _login(bot, "vol.wang"), 3600 - 180, why, clock, "57分钟后")
        # She is not: her address logged in to this account before.
        assert (await _login(home, "vol.wang")).status_code == 200
    # An address known only longer ago than login_known_address_days is refused like any.
    clock.advance(31 * 86400)
    for n in range(3):
        async with _client_from(app, f"192.0.2.{n}") as bot:
            assert [await _wrong(bot, "vol.wang") for _ in range(2)] == [401, 401]
        clock.advance(60)
    async with _client_from(app, HOME) as home:
        _limited(await _login(home, "vol.wang"), 3600 - 180, why, clock, "57分钟后")


async def test_the_account_wide_limit_counts_across_processes(
    api_db: Database, clock: FakeClock
) -> None:
    other_db = Database.open(api_db.engine.url.render_as_string(hide_password=False))
    try:
        one = _app(api_db, clock, account_failures=4)
        two = _app(other_db, clock, account_failures=4)
        for n, app in enumerate((one, two, one, two)):
            async with _client_from(app, f"192.0.2.{n}") as bot:
                assert await _wrong(bot, "staff") == 401
        async with _client_from(one, "192.0.2.9") as bot:
            assert (await _login(bot, "staff")).status_code == 429
    finally:
        await other_db.close()


# --- The store stays small.


async def test_old_failures_and_known_addresses_are_purged(
    api_db: Database, clock: FakeClock
) -> None:
    app = _app(api_db, clock, known_address_days=30)
    async with _client_from(app, ATTACKER) as attacker, _client_from(app, HOME) as home:
        assert (await _login(home, "vol.chen")).status_code == 200
        for _ in range(3):
            assert await _wrong(attacker, "vol.wang") == 401
        clock.advance(3600)
        assert await _wrong(attacker, "staff") == 401
        assert await _failures(api_db) == [("vol.wang", ATTACKER)] * 3 + [("staff", ATTACKER)]
        clock.advance(86400 - 3600)  # a day after the first three
        assert await _wrong(home, "admin") == 401
        assert await _failures(api_db) == [("staff", ATTACKER), ("admin", HOME)]
        clock.advance(30 * 86400)
        assert await _wrong(home, "admin") == 401
        assert await _failures(api_db) == [("admin", HOME)]
    async with api_db.read() as conn:  # her address was last used more than 30 days ago
        known = await conn.execute(sa.select(sa.func.count()).select_from(login_known_addresses))
        assert known.scalar_one() == 0


def test_the_delay_doubles_from_the_first_failure_past_the_free_ones() -> None:
    policy = LoginPolicy(free_failures=3, max_delay_s=900)
    assert [policy.delay_s(n) for n in range(3)] == [0, 0, 0]
    assert [policy.delay_s(n) for n in (3, 4, 5, 11, 12, 10_000)] == [2, 4, 8, 512, 900, 900]


# --- In the reader's language, times in the community's zone.


async def test_a_refusal_is_said_in_the_browsers_language_with_the_local_time(
    api_db: Database, clock: FakeClock
) -> None:
    """Before logging in the browser's language counts (else the community's, Chinese);
    the time to try again is Asia/Shanghai's: 08:00:02 UTC is 16:00 there."""
    app = _app(api_db, clock)
    english = {"Accept-Language": "en-GB,en;q=0.9"}
    async with _client_from(app, ATTACKER) as attacker:
        wrong = await attacker.post(
            "/api/v1/auth/token",
            data={"username": "vol.chen", "password": "wrong"},
            headers=english,
        )
        assert wrong.status_code == 401
        assert wrong.json()["detail"] == "wrong username or password"
        wrong = await attacker.post(
            "/api/v1/auth/token", data={"username": "vol.chen", "password": "wrong"}
        )
        assert wrong.json()["detail"] == "用户名或密码错误"
        for _ in range(FREE - 2):
            assert await _wrong(attacker, "vol.chen") == 401
        refused = await attacker.post(
            "/api/v1/auth/token",
            data={"username": "vol.chen", "password": "wrong"},
            headers=english,
        )
        assert refused.status_code == 429
        assert refused.json()["detail"] == (
            "too many failed logins for this username from your address; "
            "try again at 16:00 today (in 2 seconds)"
        )
        # The lang cookie the pages set stands in for a profile before logging in.
        attacker.cookies.set("chub_lang", "zh-CN")
        refused = await attacker.post(
            "/api/v1/auth/token",
            data={"username": "vol.chen", "password": "wrong"},
            headers=english,
        )
        assert refused.json()["detail"] == (
            "该用户名从您的地址登录失败次数过多，请于今天 16:00（2秒钟后）再试"
        )
