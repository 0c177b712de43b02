"""Alarm rules and alerts through the HTTP API, on the seeded demo community (a real SQLite file).

GET/PUT /api/v1/communities/{id}/rules: who may read and edit, optimistic
versioning, validation; the stored document is what the engine then runs.
POST /api/v1/alerts/{id}/acknowledge and /clear; silent (duress) alerts are
never shown to residents.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from community_hub_tools.demo.seed import DEMO_PASSWORD
from device_adapters.model import DeviceFamily
from hub.ingest.flows import BatchOutcome, store_batch
from hub.policy.service import default_rules
from hub.schema.grid import communities, streets
from hub.schema.rules import community_rules
from hub.storage.db import Database
from hub.timers import service as timers
from hub.users.models import Role
from hub.users.service import create_user
from tests.api.conftest import Login
from tests.support.hubdata import (
    device_event,
    user_id_of,
    volunteer_on_duty_for,
    wristband_event,
)

SUN, ZHOU = "8800000101", "8800000202"  # 孙丽华's household is resident.sun's
SUN_LOCK = "z2m:b1_101_front_door"
HEART_TIMER = f"cond:heart_rate_high:watch:{ZHOU}"

Json = dict[str, Any]


@pytest.fixture
async def community_id(api_db: Database) -> int:
    async with api_db.read() as conn:
        return int((await conn.execute(sa.select(communities.c.id))).scalar_one())


def _url(community: int) -> str:
    return f"/api/v1/communities/{community}/rules"


def _defaults() -> Json:
    return default_rules().model_dump(mode="json")


def _with_heart_rate_above(limit: int) -> Json:
    doc = copy.deepcopy(_defaults())
    rule = next(r for r in doc["rules"] if r["id"] == "heart_rate_high")
    rule["above"] = limit
    return doc


async def _ingest(db: Database, *events: Any) -> BatchOutcome:
    now = datetime.now(UTC)
    async with db.write() as conn:
        return await store_batch(conn, list(events), [], now)


async def _heart_rate(db: Database, bpm: int) -> None:
    await _ingest(
        db,
        wristband_event(ZHOU, "wristband.heart_rate", values={"heart_rate_bpm": bpm}),
    )


async def _timer_pending(db: Database, key: str) -> bool:
    async with db.read() as conn:
        return await timers.pending(conn, key) is not None


# ---------------------------------------------------------------------------
# Reading and replacing the rules


async def test_staff_read_the_defaults_as_version_zero(
    client: httpx.AsyncClient, login: Login, community_id: int
) -> None:
    for username in ("staff", "manager", "admin"):
        response = await client.get(_url(community_id), headers=await login(username))
        assert response.status_code == 200, (username, response.text)
        body = response.json()
        assert body["community_id"] == community_id and body["version"] == 0
        assert body["document"] == _defaults()


async def test_a_replaced_document_is_stored_versioned_and_run_by_the_engine(
    client: httpx.AsyncClient, login: Login, api_db: Database, community_id: int
) -> None:
    # With the defaults (above 120), 115 starts no clock.
    await _heart_rate(api_db, 115)
    assert not await _timer_pending(api_db, HEART_TIMER)

    staff = await login("staff")
    put = await client.put(
        _url(community_id),
        headers=staff,
        json={"expected_version": 0, "document": _with_heart_rate_above(110)},
    )
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 1

    got = (await client.get(_url(community_id), headers=staff)).json()
    assert got["version"] == 1 and got["document"] == _with_heart_rate_above(110)

    # The engine now runs the stored document: 115 is beyond the limit.
    await _heart_rate(api_db, 116)
    assert await _timer_pending(api_db, HEART_TIMER)

    second = await client.put(
        _url(community_id),
        headers=staff,
        json={"expected_version": 1, "document": _with_heart_rate_above(100)},
    )
    assert second.status_code == 200 and second.json()["version"] == 2


async def test_a_stale_version_is_a_conflict_and_changes_nothing(
    client: httpx.AsyncClient, login: Login, community_id: int
) -> None:
    staff = await login("staff")
    first = await client.put(
        _url(community_id),
        headers=staff,
        json={"expected_version": 0, "document": _with_heart_rate_above(110)},
    )
    assert first.status_code == 200
    stale = await client.put(
        _url(community_id),
        headers=staff,
        json={"expected_version": 0, "document": _with_heart_rate_above(130)},
    )
    assert stale.status_code == 409, stale.text
    assert "版本 1" in stale.json()["detail"]  # the community's language
    got = (await client.get(_url(community_id), headers=staff)).json()
    assert got["version"] == 1 and got["document"] == _with_heart_rate_above(110)


async def test_an_invalid_document_is_refused_with_the_problem_named(
    client: httpx.AsyncClient, login: Login, community_id: int
) -> None:
    doc = _defaults()
    next(r for r in doc["rules"] if r["id"] == "fall")["ticket_category"] = "elderly_trip"
    next(r for r in doc["rules"] if r["id"] == "sos")["kind"] = "wristband.levitating"
    staff = await login("staff")
    response = await client.put(
        _url(community_id), headers=staff, json={"expected_version": 0, "document": doc}
    )
    assert response.status_code == 422, response.text
    text = response.text
    assert "rule 'fall': unknown ticket category 'elderly_trip'" in text
    assert "rule 'sos': unknown event kind 'wristband.levitating'" in text
    assert (await client.get(_url(community_id), headers=staff)).json()["version"] == 0


@pytest.mark.parametrize(
    ("title", "reason"),
    [
        ("Fall {who", "unbalanced brace"),
        ("Fall} {who}", "unbalanced brace"),
        ("Fall: {who:>99999}", "no format spec"),
        ("Fall: {who!r}", "no conversion"),
        ("Fall: {who.__class__}", "attribute or index access"),
        ("Fall: {who[0]}", "attribute or index access"),
        ("Fall: {0}", "unknown field {0}"),
        ("Fall: {}", "unknown field {}"),
        ("Fall: {count} times", "unknown field {count}"),  # a count rule's, not an event rule's
        ("Fall:\n{who}", "control character"),
        ("   ", "blank"),
    ],
)
async def test_a_bad_title_template_is_refused_naming_the_rule_and_field(
    client: httpx.AsyncClient, login: Login, community_id: int, title: str, reason: str
) -> None:
    """A template the renderer cannot use must be refused when saved, not at the next fall."""
    doc = _defaults()
    index = next(i for i, r in enumerate(doc["rules"]) if r["id"] == "fall")
    doc["rules"][index]["title"] = title
    staff = await login("staff")
    response = await client.put(
        _url(community_id), headers=staff, json={"expected_version": 0, "document": doc}
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "document", "rules", index, "event", "title"]
    assert "rule 'fall': title:" in error["msg"] and reason in error["msg"], error["msg"]
    assert (await client.get(_url(community_id), headers=staff)).json()["version"] == 0


async def test_other_free_text_of_the_document_is_checked_too(
    client: httpx.AsyncClient, login: Login, community_id: int
) -> None:
    doc = _defaults()
    doc["categories"]["elderly_sos"]["label"] = "Elderly\nSOS"
    doc["police_contact"] = {"name": "\u202epolice", "phone": "110"}
    threshold = next(i for i, r in enumerate(doc["rules"]) if r["id"] == "heart_rate_high")
    doc["rules"][threshold]["field"] = "heart rate {bpm}"
    staff = await login("staff")
    response = await client.put(
        _url(community_id), headers=staff, json={"expected_version": 0, "document": doc}
    )
    assert response.status_code == 422, response.text
    errors = {tuple(e["loc"][2:]): e["msg"] for e in response.json()["detail"]}
    assert "control character" in errors[("categories", "elderly_sos", "label")]
    assert "control character" in errors[("police_contact", "name")]
    field = errors[("rules", threshold, "threshold", "field")]
    assert "rule 'heart_rate_high': field:" in field


async def test_every_documented_title_field_is_accepted(
    client: httpx.AsyncClient, login: Login, community_id: int
) -> None:
    doc = _defaults()
    titles = {
        "fall": "{{Fall}} {what}: {who} at {where} ({device})",
        "heart_rate_high": "Heart rate {value} for 10 min: {who}",
        "invalid_cards": "{count} refused cards at {device}",
        "gate_offline": "Gate offline ({reason}): {device}",
        "welfare_check": "No sign of life from {who} since {last_seen}",
    }
    for rule in doc["rules"]:
        rule["title"] = titles.get(rule["id"], rule.get("title", "{what}: {who} at {where}"))
    staff = await login("staff")
    response = await client.put(
        _url(community_id), headers=staff, json={"expected_version": 0, "document": doc}
    )
    assert response.status_code == 200, response.text


async def test_a_document_stored_before_titles_were_checked_can_still_be_read(
    client: httpx.AsyncClient, login: Login, api_db: Database, community_id: int
) -> None:
    """Staff must be able to load a document with a bad title to fix it."""
    doc = _defaults()
    next(r for r in doc["rules"] if r["id"] == "fall")["title"] = "Fall {who"
    staff_id = await user_id_of(api_db, "staff")
    async with api_db.write() as conn:
        await conn.execute(
            community_rules.insert().values(
                community_id=community_id,
                document=doc,
                version=1,
                updated_at=datetime.now(UTC),
                updated_by=staff_id,
            )
        )
    staff = await login("staff")
    got = await client.get(_url(community_id), headers=staff)
    assert got.status_code == 200, got.text
    assert got.json()["version"] == 1 and got.json()["document"] == doc


async def test_volunteers_and_residents_may_not_read_or_edit_rules(
    client: httpx.AsyncClient, login: Login, community_id: int
) -> None:
    body = {"expected_version": 0, "document": _defaults()}
    for username in ("vol.li", "resident.sun"):
        headers = await login(username)
        got = await client.get(_url(community_id), headers=headers)
        assert got.status_code == 403, (username, got.text)
        put = await client.put(_url(community_id), headers=headers, json=body)
        assert put.status_code == 403, (username, put.text)
        # Not allowed is said before anything about the document.
        junk = await client.put(_url(community_id), headers=headers, json={"document": {}})
        assert junk.status_code == 403, (username, junk.text)


async def test_a_property_manager_reads_but_does_not_edit(
    client: httpx.AsyncClient, login: Login, community_id: int
) -> None:
    manager = await login("manager")
    assert (await client.get(_url(community_id), headers=manager)).status_code == 200
    put = await client.put(
        _url(community_id), headers=manager, json={"expected_version": 0, "document": _defaults()}
    )
    assert put.status_code == 403, put.text


async def test_staff_of_another_community_may_not_touch_these_rules(
    client: httpx.AsyncClient, login: Login, api_db: Database, community_id: int
) -> None:
    async with api_db.write() as conn:
        street = (await conn.execute(sa.select(streets.c.id))).scalar_one()
        other = (
            await conn.execute(
                communities.insert().values(street_id=street, name="Moonlight Court")
            )
        ).inserted_primary_key
        assert other is not None
        await create_user(
            conn,
            username="staff.moon",
            password=DEMO_PASSWORD,
            full_name="Staff of Moonlight Court",
            role=Role.COMMUNITY_STAFF,
            community_id=int(other[0]),
        )
    foreign = await login("staff.moon")
    got = await client.get(_url(community_id), headers=foreign)
    assert got.status_code == 403 and "不是您所在的社区" in got.text
    put = await client.put(
        _url(community_id),
        headers=foreign,
        json={"expected_version": 0, "document": _with_heart_rate_above(90)},
    )
    assert put.status_code == 403
    # Their own community's rules are theirs to read (the defaults, version 0).
    own = await client.get(_url(int(other[0])), headers=foreign)
    assert own.status_code == 200 and own.json()["version"] == 0
    # And nothing changed here.
    mine = (await client.get(_url(community_id), headers=await login("staff"))).json()
    assert mine["version"] == 0


async def test_an_unknown_community_is_not_found_for_an_admin(
    client: httpx.AsyncClient, login: Login
) -> None:
    response = await client.get(_url(9999), headers=await login("admin"))
    assert response.status_code == 404


async def test_rules_need_a_login(client: httpx.AsyncClient, community_id: int) -> None:
    assert (await client.get(_url(community_id))).status_code == 401


# ---------------------------------------------------------------------------
# Acknowledging and clearing alerts


async def _sos(db: Database, native_id: str) -> int:
    outcome = await _ingest(db, wristband_event(native_id, "wristband.sos"))
    (alert_id,) = outcome.alerts_opened
    return alert_id


async def test_staff_acknowledge_an_alert(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    alert_id = await _sos(api_db, ZHOU)
    staff = await login("staff")
    response = await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=staff)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "acknowledged"
    assert body["acknowledged_by"] == await user_id_of(api_db, "staff")
    assert body["acknowledged_at"] is not None
    again = await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=staff)
    assert again.status_code == 409


async def test_the_assigned_volunteer_acknowledges_others_cannot_see_it(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    alert_id = await _sos(api_db, ZHOU)
    assignee = await volunteer_on_duty_for(api_db, ZHOU, datetime.now(UTC))
    stranger = await login("vol.wang")  # on duty in grid 2 only; the ticket is not theirs
    response = await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=stranger)
    assert response.status_code == 404
    response = await client.post(
        f"/api/v1/alerts/{alert_id}/acknowledge", headers=await login(assignee)
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "acknowledged"


async def test_a_resident_may_not_acknowledge_even_their_own_households_alert(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    alert_id = await _sos(api_db, SUN)
    sun = await login("resident.sun")
    assert (await client.get(f"/api/v1/alerts/{alert_id}", headers=sun)).status_code == 200
    response = await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=sun)
    assert response.status_code == 403
    seen = (await client.get(f"/api/v1/alerts/{alert_id}", headers=sun)).json()
    assert seen["status"] == "open"


async def test_clearing_needs_a_reason(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    alert_id = await _sos(api_db, ZHOU)
    staff = await login("staff")
    url = f"/api/v1/alerts/{alert_id}/clear"
    assert (await client.post(url, headers=staff, json={})).status_code == 422
    assert (await client.post(url, headers=staff, json={"reason": "   "})).status_code == 422
    assert (await client.get(f"/api/v1/alerts/{alert_id}", headers=staff)).json()[
        "status"
    ] == "open"

    cleared = await client.post(url, headers=staff, json={"reason": "pressed by mistake"})
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert body["status"] == "cleared" and body["clear_reason"] == "pressed by mistake"
    assert body["cleared_by"] == await user_id_of(api_db, "staff")
    again = await client.post(url, headers=staff, json={"reason": "twice"})
    assert again.status_code == 409


async def test_volunteers_and_residents_may_not_clear(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    alert_id = await _sos(api_db, SUN)
    for username in ("vol.li", "resident.sun"):
        response = await client.post(
            f"/api/v1/alerts/{alert_id}/clear",
            headers=await login(username),
            json={"reason": "I think it is fine"},
        )
        assert response.status_code == 403, (username, response.text)


# ---------------------------------------------------------------------------
# Silent (duress) alarms are never shown to residents


async def test_a_duress_alarm_is_hidden_from_household_and_manager_but_shown_to_staff(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    visible = await _sos(api_db, SUN)  # her household's ordinary alarm: she sees it
    outcome = await _ingest(
        api_db, device_event(SUN_LOCK, DeviceFamily.LOCK, "lock.duress", {"user_id": 7})
    )
    (duress,) = outcome.alerts_opened
    (ticket,) = outcome.tickets_opened

    sun = await login("resident.sun")
    listed = (await client.get("/api/v1/alerts", headers=sun)).json()
    ids = [a["id"] for a in listed["items"]]
    assert visible in ids and duress not in ids and listed["total"] == 1
    assert (await client.get(f"/api/v1/alerts/{duress}", headers=sun)).status_code == 404
    by_kind = await client.get("/api/v1/alerts", headers=sun, params={"kind": "lock.duress"})
    assert by_kind.json()["items"] == []
    tickets = (await client.get("/api/v1/tickets", headers=sun)).json()
    assert ticket.ticket_id not in [t["id"] for t in tickets["items"]]

    seen = (await client.get("/api/v1/alerts", headers=await login("staff"))).json()
    found = [a for a in seen["items"] if a["id"] == duress]
    assert found and found[0]["silent"] is True
    # The property manager handles devices, not duress: the alarm is not theirs to see.
    manager = await login("manager")
    seen = (await client.get("/api/v1/alerts", headers=manager)).json()
    assert duress not in [a["id"] for a in seen["items"]]
    assert (await client.get(f"/api/v1/alerts/{duress}", headers=manager)).status_code == 404
