"""Refresh tokens (rotation, replay, expiry, logout, deactivation); a limited login is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa

from api.routes import auth as auth_routes
from community_hub_tools.demo.seed import DEMO_PASSWORD
from hub.schema.users import refresh_tokens, users
from hub.settings import DEMO_JWT_SECRET, Settings
from hub.storage.db import Database
from hub.users import refresh
from tests.support.hubdata import user_id_of

Json = dict[str, Any]
SETTINGS = Settings()
PER_USER = SETTINGS.login.free_failures  # 5; the rest is in test_login_limits.py


async def _login(
    client: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )


async def _tokens(client: httpx.AsyncClient, username: str) -> Json:
    response = await _login(client, username)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def _refresh(client: httpx.AsyncClient, token: str, language: str = "en") -> httpx.Response:
    # Nobody is logged in at a refresh: a refusal is said in the browser's language.
    return await client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": token},
        headers={"Accept-Language": language},
    )


async def _me(client: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access_token}"})


async def _row(db: Database, token: str) -> sa.RowMapping:
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.select(refresh_tokens).where(
                    refresh_tokens.c.token_hash == refresh.hash_token(token)
                )
            )
        ).one()
        return row._mapping


async def _revoked_in_family(db: Database, family: str) -> list[bool]:
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(refresh_tokens.c.revoked_at)
            .where(refresh_tokens.c.family == family)
            .order_by(refresh_tokens.c.id)
        )
        return [revoked_at is not None for (revoked_at,) in rows]


# --- Refresh tokens.


async def test_login_returns_an_access_and_a_refresh_token(
    client: httpx.AsyncClient, api_db: Database
) -> None:
    body = await _tokens(client, "vol.wang")
    assert body["token_type"] == "bearer" and body["role"] == "volunteer"
    assert body["refresh_token"] and body["refresh_token"] != body["access_token"]
    assert body["refresh_expires_in"] == SETTINGS.jwt.refresh_token_days * 86400
    assert (await _me(client, body["access_token"])).json()["username"] == "vol.wang"
    # Only the hash is stored, with the user and a fresh family.
    row = await _row(api_db, body["refresh_token"])
    assert row["user_id"] == await user_id_of(api_db, "vol.wang")
    assert row["token_hash"] != body["refresh_token"] and len(row["token_hash"]) == 64
    assert row["used_at"] is None and row["revoked_at"] is None
    assert row["expires_at"] - row["issued_at"] == timedelta(days=SETTINGS.jwt.refresh_token_days)
    again = await _tokens(client, "vol.wang")
    assert (await _row(api_db, again["refresh_token"]))["family"] != row["family"]


async def test_access_token_lifetime_stays_short(client: httpx.AsyncClient) -> None:
    short = SETTINGS.jwt.access_token_minutes * 60
    first = await _tokens(client, "staff")
    refreshed = (await _refresh(client, first["refresh_token"])).json()
    for body in (first, refreshed):
        assert body["expires_in"] == short
        claims = jwt.decode(body["access_token"], DEMO_JWT_SECRET, algorithms=["HS256"])
        assert claims["exp"] - claims["iat"] == short
        assert body["refresh_expires_in"] == SETTINGS.jwt.refresh_token_days * 86400 > short


async def test_refresh_gives_a_working_access_token_and_a_new_refresh_token(
    client: httpx.AsyncClient, api_db: Database
) -> None:
    first = await _tokens(client, "vol.wang")
    response = await _refresh(client, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["role"] == "volunteer" and second["token_type"] == "bearer"
    assert second["refresh_token"] != first["refresh_token"]
    me = await _me(client, second["access_token"])
    assert me.status_code == 200 and me.json()["username"] == "vol.wang"
    old, new = (
        await _row(api_db, first["refresh_token"]),
        await _row(api_db, second["refresh_token"]),
    )
    assert old["used_at"] is not None and old["revoked_at"] is None
    assert new["family"] == old["family"] and new["used_at"] is None
    # The new one can be used in turn.
    third = await _refresh(client, second["refresh_token"])
    assert third.status_code == 200
    assert (await _me(client, third.json()["access_token"])).status_code == 200


async def test_a_replayed_refresh_token_revokes_its_whole_family(
    client: httpx.AsyncClient, api_db: Database
) -> None:
    first = await _tokens(client, "vol.wang")
    other_login = await _tokens(client, "vol.wang")  # another device: its own family
    second = (await _refresh(client, first["refresh_token"])).json()
    newest = (await _refresh(client, second["refresh_token"])).json()

    replay = await _refresh(client, first["refresh_token"])
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    assert replay.headers["WWW-Authenticate"] == "Bearer"
    family = (await _row(api_db, first["refresh_token"]))["family"]
    assert await _revoked_in_family(api_db, family) == [True, True, True]

    # Even the newest token of the family is refused now, with the reason.
    refused = await _refresh(client, newest["refresh_token"])
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    # The other login is untouched.
    assert (await _refresh(client, other_login["refresh_token"])).status_code == 200


async def test_an_expired_or_unknown_refresh_token_is_refused(
    client: httpx.AsyncClient, api_db: Database
) -> None:
    body = await _tokens(client, "staff")
    async with api_db.write() as conn:
        await conn.execute(
            refresh_tokens.update()
            .where(refresh_tokens.c.token_hash == refresh.hash_token(body["refresh_token"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = await _refresh(client, body["refresh_token"])
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    assert (await _row(api_db, body["refresh_token"]))["used_at"] is None  # not rotated

    unknown = await _refresh(client, "not-a-token-we-issued")
    assert unknown.status_code == 401 and "not recognised" in unknown.json()["detail"]
    # Said in the browser's language; with none asked for, the product's default, Chinese.
    assert unknown.json()["detail"] == "refresh token not recognised; log in again"
    chinese = await _refresh(client, "not-a-token-we-issued", "zh-CN,zh;q=0.9")
    assert chinese.json()["detail"] == "刷新令牌无法识别，请重新登录"
    unasked = await client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"})
    assert unasked.json()["detail"] == "刷新令牌无法识别，请重新登录"
    assert unasked.headers["WWW-Authenticate"] == "Bearer"
    assert (await _refresh(client, "")).status_code == 422
    assert (await _refresh(client, "x" * 1000)).status_code == 422


async def test_logout_revokes_the_family(client: httpx.AsyncClient, api_db: Database) -> None:
    first = await _tokens(client, "manager")
    other_login = await _tokens(client, "manager")
    second = (await _refresh(client, first["refresh_token"])).json()

    out = await client.post("/api/v1/auth/logout", json={"refresh_token": second["refresh_token"]})
    assert out.status_code == 204 and out.content == b""
    family = (await _row(api_db, first["refresh_token"]))["family"]
    assert await _revoked_in_family(api_db, family) == [True, True]
    refused = await _refresh(client, second["refresh_token"])
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    # Logging out twice, or with a token never issued, is harmless.
    again = await client.post("/api/v1/auth/logout", json={"refresh_token": "never-issued"})
    assert again.status_code == 204
    assert (await _refresh(client, other_login["refresh_token"])).status_code == 200


async def test_a_deactivated_user_cannot_refresh(
    client: httpx.AsyncClient, api_db: Database
) -> None:
    phone = await _tokens(client, "vol.li")
    laptop = await _tokens(client, "vol.li")
    async with api_db.write() as conn:
        await conn.execute(
            users.update().where(users.c.username == "vol.li").values(is_active=False)
        )
    refused = await _refresh(client, phone["refresh_token"])
    assert refused.status_code == 401 and "deactivated" in refused.json()["detail"]
    # Every token of the user is revoked, not only the one presented.
    for body in (phone, laptop):
        row = await _row(api_db, body["refresh_token"])
        assert row["revoked_at"] is not None and row["used_at"] is None
    # Reactivated, the old tokens stay dead: a new login is needed.
    async with api_db.write() as conn:
        await conn.execute(
            users.update().where(users.c.username == "vol.li").values(is_active=True)
        )
    assert (await _refresh(client, laptop["refresh_token"])).status_code == 401


async def test_rotate_in_the_domain_layer(api_db: Database) -> None:
    user_id = await user_id_of(api_db, "staff")
    now = datetime.now(UTC)
    async with api_db.write() as conn:
        issued = await refresh.issue(conn, user_id, now, timedelta(days=2))
        rotated = await refresh.rotate(conn, issued.token, now + timedelta(hours=1))
        assert rotated is not None
        user, new = rotated
        assert user.username == "staff" and new.family == issued.family
        # Without a lifetime, the new token lives as long as the one it replaces.
        assert new.expires_at == now + timedelta(hours=1, days=2)
        assert await refresh.rotate(conn, issued.token, now) is None  # replay
        assert await refresh.rotate(conn, new.token, now) is None  # family revoked
        later = await refresh.issue(conn, user_id, now, timedelta(days=1))
        assert await refresh.rotate(conn, later.token, now + timedelta(days=1)) is None  # expired
        with pytest.raises(ValueError, match="timezone-aware"):
            await refresh.rotate(conn, later.token, datetime(2026, 1, 1))


async def test_a_login_forgets_the_users_wholly_expired_families(api_db: Database) -> None:
    staff, manager = await user_id_of(api_db, "staff"), await user_id_of(api_db, "manager")
    now = datetime.now(UTC)

    async def families(user_id: int) -> set[str]:
        async with api_db.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(refresh_tokens.c.family).where(refresh_tokens.c.user_id == user_id)
            )
            return {str(r.family) for r in rows}

    async with api_db.write() as conn:
        dead = await refresh.issue(conn, staff, now, timedelta(hours=1))
        # A family with a used, expired token and a live successor stays whole.
        old = await refresh.issue(conn, staff, now, timedelta(hours=1))
        rotated = await refresh.rotate(
            conn, old.token, now + timedelta(minutes=50), lifetime=timedelta(days=1)
        )
        assert rotated is not None
        others = await refresh.issue(conn, manager, now, timedelta(hours=1))
    async with api_db.write() as conn:
        fresh = await refresh.issue(conn, staff, now + timedelta(hours=2), timedelta(days=1))
    assert await families(staff) == {old.family, fresh.family}  # dead.family is gone
    assert dead.family not in await families(staff)
    assert await families(manager) == {others.family}  # another user's rows are not touched
    async with api_db.write() as conn:
        # The kept used token still revokes its family when replayed.
        assert await refresh.rotate(conn, old.token, now + timedelta(hours=2)) is None
        assert await refresh.rotate(conn, rotated.refresh.token, now + timedelta(hours=2)) is None


# --- The failed-login limit, through the API.


async def test_the_sixth_failed_login_is_refused_with_retry_after(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(PER_USER):
        assert (await _login(client, "vol.wang", "wrong")).status_code == 401
    sixth = await _login(client, "vol.wang", "wrong")
    assert sixth.status_code == 429
    assert "该用户名" in sixth.json()["detail"]  # the community's language: Chinese
    assert 0 < int(sixth.headers["Retry-After"]) <= SETTINGS.login.max_delay_s

    # While limited, the right password is refused too, without being checked at all.
    checked: list[str] = []

    async def spy(*args: Any) -> None:
        checked.append(args[1])

    monkeypatch.setattr(auth_routes, "authenticate", spy)
    right = await _login(client, "vol.wang")
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    assert (await _login(client, "VOL.Wang")).status_code == 429  # usernames are case-blind
    assert checked == []
    monkeypatch.undo()
    # Other usernames are not affected.
    assert (await _login(client, "staff")).status_code == 200
