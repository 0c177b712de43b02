"""Refusals the routes make themselves, and a missing login, in the reader's language
(the demo community's is zh-CN; Accept-Language: en asks for English)."""

from __future__ import annotations

import httpx

from tests.api.conftest import Login
from tests.api.people import Users

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


async def test_no_login_is_refused_in_the_readers_language(client: httpx.AsyncClient) -> None:
    """Not FastAPI's own English "Not authenticated"."""
    for path in ("/api/v1/tickets", "/api/v1/auth/me", "/api/v1/dashboard"):
        chinese = await client.get(path, headers=ZH)
        assert chinese.status_code == 401, path
        assert chinese.headers["www-authenticate"] == "Bearer"
        assert chinese.json()["detail"].startswith("未登录"), chinese.text
        english = await client.get(path, headers=EN)
        assert english.json()["detail"].startswith("not authenticated: send a valid bearer token")
    stream = await client.get("/api/v1/notifications/stream", headers=ZH)
    assert stream.status_code == 401 and stream.json()["detail"].startswith("未登录")


async def test_a_routes_own_refusals_are_said_in_the_readers_language(
    as_user: Users, client: httpx.AsyncClient, login: Login
) -> None:
    staff, sun = await as_user("staff"), await as_user("resident.sun")

    missing = await client.get("/api/v1/residents/999999", headers=staff.headers)
    assert missing.json() == {"detail": "您看不到居民 999999"}
    missing = await client.get("/api/v1/grids/999999", headers=staff.headers)
    assert missing.json() == {"detail": "没有您可查看的网格 999999"}
    missing = await client.get("/api/v1/grids/999999", headers=staff.headers | EN)
    assert missing.json() == {"detail": "no grid 999999 visible to you"}

    refused = await client.post("/api/v1/alerts/1/clear", headers=sun.headers, json={"reason": "x"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "居民无权解除告警"

    backwards = await client.get(
        "/api/v1/alerts",
        headers=staff.headers,
        params={"since": "2026-11-21T10:00:00+08:00", "until": "2026-11-20T10:00:00+08:00"},
    )
    assert backwards.status_code == 422
    [problem] = backwards.json()["detail"]
    assert (problem["loc"], problem["msg"]) == (["query", "until"], "必须晚于开始时间")

    admin = await login("admin")
    unknown = await client.get(
        "/api/v1/reports/daily", params={"community_id": 999}, headers=admin | ZH
    )
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "没有编号为 999 的社区"})
    unknown = await client.get(
        "/api/v1/reports/daily", params={"community_id": 999}, headers=admin | EN
    )
    assert unknown.json() == {"detail": "no community 999"}
