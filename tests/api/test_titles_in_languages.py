"""Alarm and ticket titles in the reader's language, through the API (SQLite and PostgreSQL).

One SOS ticket reads ``一键求助：…`` to a reader of Simplified Chinese and ``SOS: …`` to a
reader of English, whether the language comes from the browser (Accept-Language) or
from the person's profile (PATCH /api/v1/auth/me). Machines get every language in
``titles``; tickets made before titles were kept per language read as stored.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hub.ingest.flows import store_batch
from hub.policy.service import default_rules
from hub.schema.grid import communities
from hub.schema.tickets import tickets
from hub.storage.db import Database
from tests.api.conftest import SUN, Login
from tests.support.hubdata import wristband_event

Json = dict[str, Any]
ZH, EN = {"Accept-Language": "zh-CN,zh;q=0.9"}, {"Accept-Language": "en-GB,en;q=0.8"}
SUN_PLACE_ZH = "朝阳花园社区 · 1号楼 · 1单元 · 101室"
SUN_PLACE_EN = "朝阳花园社区1号楼1单元101室"


async def _get(client: httpx.AsyncClient, url: str, *headers: dict[str, str]) -> Json:
    merged: dict[str, str] = {}
    for h in headers:
        merged |= h
    response = await client.get(url, headers=merged)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def test_a_chinese_and_an_english_reader_see_one_sos_ticket_in_their_language(
    client: httpx.AsyncClient, login: Login, sos: tuple[int, str]
) -> None:
    ticket_id, volunteer = sos
    for username in ("staff", volunteer):
        me = await login(username)
        zh = await _get(client, f"/api/v1/tickets/{ticket_id}", me, ZH)
        en = await _get(client, f"/api/v1/tickets/{ticket_id}", me, EN)
        assert zh["id"] == en["id"] == ticket_id
        assert zh["title"] == f"一键求助：孙丽华，{SUN_PLACE_ZH}"
        assert en["title"] == f"SOS: 孙丽华 at {SUN_PLACE_EN}"
        assert (zh["category"], zh["category_label"]) == ("elderly_sos", "老人一键求助")
        assert (en["category"], en["category_label"]) == ("elderly_sos", "Elderly SOS")
        # Machines read every language, whatever the reader's.
        assert zh["titles"] == en["titles"] == {"zh-CN": zh["title"], "en": en["title"]}

        # The lists (the inbox's data) say the same.
        listed = await _get(client, "/api/v1/tickets", me, EN)
        (mine,) = [t for t in listed["items"] if t["id"] == ticket_id]
        assert (mine["title"], mine["category_label"]) == (en["title"], "Elderly SOS")

        # And the alarm behind it.
        alert_zh = await _get(client, f"/api/v1/alerts/{zh['alert_id']}", me, ZH)
        alert_en = await _get(client, f"/api/v1/alerts/{zh['alert_id']}", me, EN)
        assert (alert_zh["summary"], alert_en["summary"]) == (zh["title"], en["title"])
        alerts_en = await _get(client, "/api/v1/alerts?kind=wristband.sos", me, EN)
        assert [a["summary"] for a in alerts_en["items"]] == [en["title"]]


async def test_without_a_choice_a_reader_gets_the_community_language(
    client: httpx.AsyncClient, login: Login, api_db: Database, sos: tuple[int, str]
) -> None:
    ticket_id, _ = sos
    staff = await login("staff")
    assert (await _get(client, f"/api/v1/tickets/{ticket_id}", staff))["title"].startswith(
        "一键求助："
    )
    async with api_db.write() as conn:
        await conn.execute(communities.update().values(locale="en"))
    ticket = await _get(client, f"/api/v1/tickets/{ticket_id}", staff)
    assert ticket["title"].startswith("SOS: ") and ticket["category_label"] == "Elderly SOS"


async def test_a_profile_language_set_by_patch_me_outweighs_the_browser(
    client: httpx.AsyncClient, login: Login, sos: tuple[int, str]
) -> None:
    ticket_id, volunteer = sos
    me = await login(volunteer)
    changed = await client.patch("/api/v1/auth/me", headers=me, json={"locale": "en"})
    assert changed.status_code == 200, changed.text
    for browser in ({}, ZH):  # no Accept-Language, and one asking for Chinese
        ticket = await _get(client, f"/api/v1/tickets/{ticket_id}", me, browser)
        assert ticket["title"].startswith("SOS: 孙丽华"), ticket["title"]
        assert ticket["category_label"] == "Elderly SOS"

    # Acting on it answers in the same language.
    accepted = await client.post(
        f"/api/v1/tickets/{ticket_id}/transitions", headers=me, json={"action": "accept"}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["title"].startswith("SOS: 孙丽华")

    # Forgetting the choice gives the browser's language back.
    forgot = await client.patch("/api/v1/auth/me", headers=me, json={"locale": None})
    assert forgot.status_code == 200, forgot.text
    ticket = await _get(client, f"/api/v1/tickets/{ticket_id}", me, ZH)
    assert ticket["title"].startswith("一键求助：孙丽华")


async def test_a_ticket_made_before_titles_were_kept_per_language_reads_as_stored(
    client: httpx.AsyncClient, login: Login, api_db: Database, sos: tuple[int, str]
) -> None:
    ticket_id, _ = sos
    async with api_db.write() as conn:
        await conn.execute(
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .values(title="SOS: an old ticket", titles=None)
        )
    staff = await login("staff")
    for language in (ZH, EN):
        ticket = await _get(client, f"/api/v1/tickets/{ticket_id}", staff, language)
        assert ticket["title"] == "SOS: an old ticket" and ticket["titles"] is None


def _rules_url(community: int) -> str:
    return f"/api/v1/communities/{community}/rules"


async def _community(api_db: Database) -> int:
    async with api_db.read() as conn:
        return int((await conn.execute(sa.select(communities.c.id))).scalar_one())


def _with_fall_title(title: object) -> tuple[Json, int]:
    doc = copy.deepcopy(default_rules().model_dump(mode="json"))
    index = next(i for i, r in enumerate(doc["rules"]) if r["id"] == "fall")
    doc["rules"][index]["title"] = title
    return doc, index


@pytest.mark.parametrize(
    ("title", "language", "reason"),
    [
        ({"zh-CN": "跌倒报警：{who}", "en": "Fall: {whom}"}, "en", "unknown field {whom}"),
        ({"zh-CN": "跌倒报警：{who", "en": "Fall: {who}"}, "zh-CN", "unbalanced brace"),
        ({"zh-CN": "跌倒报警：{who:>9}", "en": "Fall"}, "zh-CN", "{who:>9}: no format spec"),
    ],
)
async def test_a_bad_title_in_one_language_is_refused_naming_rule_and_language(
    client: httpx.AsyncClient,
    login: Login,
    api_db: Database,
    title: Json,
    language: str,
    reason: str,
) -> None:
    community = await _community(api_db)
    doc, index = _with_fall_title(title)
    staff = await login("staff")
    response = await client.put(
        _rules_url(community), headers=staff, json={"expected_version": 0, "document": doc}
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "document", "rules", index, "event", "title"]
    assert f"rule 'fall': title ({language}): {reason}" in error["msg"], error["msg"]
    assert (await client.get(_rules_url(community), headers=staff)).json()["version"] == 0


async def test_an_unknown_language_in_a_title_or_label_is_refused_naming_the_field(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    community = await _community(api_db)
    doc, _ = _with_fall_title({"zh-CN": "跌倒报警：{who}", "fr": "Chute : {who}"})
    doc["categories"]["general"]["label"] = {"en": "General", "zh-TW": "綜合事務"}
    staff = await login("staff")
    response = await client.put(
        _rules_url(community), headers=staff, json={"expected_version": 0, "document": doc}
    )
    assert response.status_code == 422, response.text
    errors = {tuple(e["loc"][2:]): e["msg"] for e in response.json()["detail"]}
    fall = next(msg for loc, msg in errors.items() if loc[-1] == "title")
    assert "rule 'fall': title: unknown language 'fr'; use one of zh-CN, en" in fall
    assert "label: unknown language 'zh-TW'" in errors[("categories", "general", "label")]


async def test_a_community_writes_its_own_titles_per_language_and_readers_get_them(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    community = await _community(api_db)
    doc, _ = _with_fall_title({"zh-CN": "有人摔倒：{who}（{what}）", "en": "{who} fell ({what})"})
    doc["categories"]["elderly_fall"]["label"] = {"zh-CN": "摔倒", "en": "A fall"}
    staff = await login("staff")
    saved = await client.put(
        _rules_url(community), headers=staff, json={"expected_version": 0, "document": doc}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["document"]["categories"]["elderly_fall"]["label"]["zh-CN"] == "摔倒"

    async with api_db.write() as conn:
        outcome = await store_batch(
            conn, [wristband_event(SUN, "wristband.fall")], [], datetime.now(UTC)
        )
    (opened,) = outcome.tickets_opened
    zh = await _get(client, f"/api/v1/tickets/{opened.ticket_id}", staff, ZH)
    en = await _get(client, f"/api/v1/tickets/{opened.ticket_id}", staff, EN)
    assert (zh["title"], zh["category_label"]) == (
        "有人摔倒：孙丽华（跌倒报警）",
        "摔倒",
    )
    assert (en["title"], en["category_label"]) == (
        "孙丽华 fell (fall detected)",
        "A fall",
    )
