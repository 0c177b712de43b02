"""Which language a person reads, as the API tells it and lets them choose it."""

from __future__ import annotations

import httpx

from tests.api.conftest import Login


async def test_me_answers_the_community_s_language_and_zone(
    client: httpx.AsyncClient, login: Login
) -> None:
    headers = await login("vol.wang")
    me = (await client.get("/api/v1/auth/me", headers=headers)).json()
    # No choice of their own and no browser preference: the demo community's zh-CN.
    assert me["locale"] is None
    assert me["language"] == "zh-CN"
    assert me["timezone"] == "Asia/Shanghai"


async def test_the_browser_then_the_profile_decide(client: httpx.AsyncClient, login: Login) -> None:
    headers = await login("vol.wang")
    english_browser = {**headers, "Accept-Language": "en-US,en;q=0.9"}
    assert (await client.get("/api/v1/auth/me", headers=english_browser)).json()["language"] == "en"

    chosen = await client.patch(
        "/api/v1/auth/me", headers=english_browser, json={"locale": "zh-CN"}
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["locale"] == "zh-CN" and chosen.json()["language"] == "zh-CN"
    # Kept: the English browser no longer decides, on this or a new login.
    again = await login("vol.wang")
    me = (await client.get("/api/v1/auth/me", headers={**again, **english_browser})).json()
    assert me["language"] == "zh-CN"

    forgotten = await client.patch(
        "/api/v1/auth/me", headers=english_browser, json={"locale": None}
    )
    assert forgotten.json()["locale"] is None and forgotten.json()["language"] == "en"


async def test_an_unsupported_language_is_refused_naming_the_field(
    client: httpx.AsyncClient, login: Login
) -> None:
    headers = await login("vol.wang")
    for bad in ("fr", "zh", "zh-CN" * 100, 5):
        refused = await client.patch("/api/v1/auth/me", headers=headers, json={"locale": bad})
        assert refused.status_code == 422, bad
        assert refused.json()["detail"][0]["loc"][-1] == "locale"
    assert (await client.get("/api/v1/auth/me", headers=headers)).json()["locale"] is None
