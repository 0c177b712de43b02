"""An alarm ticket's resolution says what the alarm was (genuine, false, pressed by
mistake, a test, a device fault); a ticket no alarm opened has none."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hub.ingest.flows import store_batch
from hub.notifications.outbox import OutboxRelay
from hub.schema.tickets import tickets
from hub.storage.db import Database
from tests.api.conftest import Login
from tests.api.people import Users
from tests.support.hubdata import RecordingNotifier, volunteer_on_duty_for, wristband_event

SUN = "8800000101"
CHOICES = ["genuine", "false_alarm", "accidental", "test", "device_fault"]


@pytest.fixture
def login(login: Login) -> Login:
    async def english(username: str) -> dict[str, str]:
        return await login(username) | {"Accept-Language": "en"}

    return english


def _field_error(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    named = [e for e in response.json()["detail"] if e["loc"][-1] == field]
    assert named, response.json()
    return str(named[0]["msg"])


def _resolve_offer(ticket: dict[str, Any]) -> dict[str, Any]:
    [offer] = [o for o in ticket["action_details"] if o["action"] == "resolve"]
    return offer


async def test_resolving_an_alarm_ticket_asks_what_the_alarm_was(
    as_user: Users, sos: tuple[int, str]
) -> None:
    ticket_id, on_duty = sos
    vol = await as_user(on_duty)
    await vol.ok(ticket_id, "accept")
    await vol.ok(ticket_id, "start", note="on site")

    # The page is offered a choice, with the values in order and their words.
    inputs = _resolve_offer((await vol.get(ticket_id)).json())["inputs"]
    assert [(i["name"], i["kind"]) for i in inputs] == [("note", "text"), ("disposition", "choice")]
    assert inputs[1]["label"] == "What was the alarm?"
    choices = inputs[1]["choices"]
    assert [c["value"] for c in choices] == CHOICES
    assert [c["label"] for c in choices] == [
        "genuine alarm",
        "false alarm",
        "pressed by mistake",
        "test alarm",
        "device fault",
    ]
    chinese = await vol.client.get(
        f"/api/v1/tickets/{ticket_id}", headers={**vol.headers, "Accept-Language": "zh-CN"}
    )
    zh = _resolve_offer(chinese.json())["inputs"][1]
    assert zh["label"] == "报警性质"
    assert [c["label"] for c in zh["choices"]] == ["真实报警", "误报", "误按", "测试", "设备故障"]

    # Without it, or with a value not on the list: refused, naming the field; nothing moves.
    said = _field_error(await vol.do(ticket_id, "resolve", note="all well"), "disposition")
    assert "“Resolve”" in said and "alarm" in said
    _field_error(
        await vol.do(ticket_id, "resolve", note="all well", disposition="maybe"), "disposition"
    )
    assert (await vol.get(ticket_id)).json()["status"] == "in_progress"

    resolved = await vol.ok(ticket_id, "resolve", note="all well", disposition="accidental")
    assert resolved["status"] == "resolved"
    assert (resolved["disposition"], resolved["disposition_label"]) == (
        "accidental",
        "pressed by mistake",
    )
    assert resolved["log"][-1]["note"] == "note: all well; disposition: accidental"
    assert resolved["log"][-1]["note_label"] == "note: all well; the alarm was: pressed by mistake"
    chinese = await vol.client.get(
        f"/api/v1/tickets/{ticket_id}", headers={**vol.headers, "Accept-Language": "zh-CN"}
    )
    assert chinese.json()["disposition_label"] == "误按"
    staff = await as_user("staff")
    listed = await staff.client.get("/api/v1/tickets", headers=staff.headers)
    [row] = [t for t in listed.json()["items"] if t["id"] == ticket_id]
    assert row["disposition"] == "accidental"


async def test_a_ticket_no_alarm_opened_has_no_disposition(as_user: Users) -> None:
    sun = await as_user("resident.sun")
    opened = await sun.client.post(
        "/api/v1/tickets",
        headers=sun.headers,
        json={"title": "Hall light out", "description": "The hall light of 1号楼 is out"},
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["id"]
    vol = await as_user(await volunteer_on_duty_for(as_user.db, SUN, datetime.now(UTC)))
    await vol.ok(ticket_id, "accept")
    await vol.ok(ticket_id, "start", note="on site")
    inputs = _resolve_offer((await vol.get(ticket_id)).json())["inputs"]
    assert [i["name"] for i in inputs] == ["note"]
    said = _field_error(
        await vol.do(ticket_id, "resolve", note="bulb changed", disposition="genuine"),
        "disposition",
    )
    assert "alarm" in said
    resolved = await vol.ok(ticket_id, "resolve", note="bulb changed")
    assert resolved["disposition"] is None


async def test_no_other_action_takes_a_disposition(as_user: Users, sos: tuple[int, str]) -> None:
    ticket_id, on_duty = sos
    vol = await as_user(on_duty)
    said = _field_error(await vol.do(ticket_id, "accept", disposition="test"), "disposition")
    assert "“Accept”" in said


async def _alarm_resolved_as(as_user: Users, kind: str, disposition: str) -> int:
    """An alarm from 孙丽华's wristband, handled and resolved as ``disposition``; staff
    then clear its alert (the next alarm is a new alert and a new ticket)."""
    now = datetime.now(UTC)
    async with as_user.db.write() as conn:
        await store_batch(conn, [wristband_event(SUN, kind)], [], now)
        ticket_id = (await conn.execute(sa.select(sa.func.max(tickets.c.id)))).scalar_one()
    vol = await as_user(await volunteer_on_duty_for(as_user.db, SUN, now))
    await vol.ok(ticket_id, "accept")
    await vol.ok(ticket_id, "start", note="on site")
    resolved = await vol.ok(ticket_id, "resolve", note="checked", disposition=disposition)
    staff = await as_user("staff")
    cleared = await staff.client.post(
        f"/api/v1/alerts/{resolved['alert_id']}/clear",
        headers=staff.headers,
        json={"reason": "handled"},
    )
    assert cleared.status_code == 200, cleared.text
    return int(ticket_id)


async def _flags(as_user: Users, who: str) -> list[dict[str, Any]]:
    reader = await as_user(who)
    found = await reader.client.get(
        "/api/v1/alerts",
        params={"kind": "device.false_alarms_repeated"},
        headers=reader.headers,
    )
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


async def test_a_wristband_with_repeated_false_falls_is_flagged_to_staff(
    as_user: Users, notes: RecordingNotifier, outbox: OutboxRelay
) -> None:
    # Two false falls, a genuine one and a false SOS (not a watched kind): not yet.
    await _alarm_resolved_as(as_user, "wristband.fall", "false_alarm")
    await _alarm_resolved_as(as_user, "wristband.fall", "genuine")
    await _alarm_resolved_as(as_user, "wristband.sos", "accidental")
    await _alarm_resolved_as(as_user, "wristband.fall", "accidental")
    assert await _flags(as_user, "staff") == []
    # The third false fall within 7 days (the policy's default): one alert for staff.
    await _alarm_resolved_as(as_user, "wristband.fall", "false_alarm")
    [flag] = await _flags(as_user, "staff")
    assert flag["device_id"] == f"watch:{SUN}" and flag["status"] == "open"
    assert flag["titles"]["en"] == (
        "孙丽华的手环: 3 false alarms (fall detected) in 7 days; check the device"
    )
    assert flag["titles"]["zh-CN"] == "孙丽华的手环：7天内误报3次（跌倒报警），请检查设备"
    await outbox.deliver_due()
    [told] = [n for n in notes.seen if n.device_kind == "device.false_alarms_repeated"]
    assert told.kind == "alert.opened" and told.alert_id == flag["id"]
    assert [r.value for r in told.recipients.roles] == ["community_staff"]
    # A fourth while it is open: the same alert, not a second one, nobody told again.
    await _alarm_resolved_as(as_user, "wristband.fall", "false_alarm")
    [again] = await _flags(as_user, "staff")
    assert again["id"] == flag["id"] and again["event_count"] == 2
    await outbox.deliver_due()
    assert len([n for n in notes.seen if n.device_kind == "device.false_alarms_repeated"]) == 1


async def test_the_reports_show_false_alarm_rates_per_device_and_resident(
    as_user: Users, api_db: Database
) -> None:
    for disposition in ("false_alarm", "genuine", "accidental", "test"):
        await _alarm_resolved_as(as_user, "wristband.sos", disposition)
    staff = await as_user("staff")
    for path in ("daily", "weekly"):
        answer = await staff.client.get(
            f"/api/v1/reports/{path}", params={"format": "json"}, headers=staff.headers
        )
        assert answer.status_code == 200, answer.text
        figures = answer.json()["false_alarms"]
        assert figures["total"] == {"numerator": 2, "denominator": 4, "rate": 0.5}
        assert figures["by_disposition"] == {
            "genuine": 1,
            "false_alarm": 1,
            "accidental": 1,
            "test": 1,
        }
        [device] = figures["by_device"]
        assert (device["id"], device["name"]) == (f"watch:{SUN}", "孙丽华的手环")
        assert (device["false_alarms"], device["disposed"], device["rate"]) == (2, 4, 0.5)
        [resident] = figures["by_resident"]
        assert (resident["name"], resident["false_alarms"], resident["disposed"]) == (
            "孙丽华",
            2,
            4,
        )
    page = await staff.client.get(
        "/api/v1/reports/daily", headers=staff.headers | {"Accept-Language": "zh-CN"}
    )
    assert "已办结的4起报警中，误报或误按2起，占50%。" in page.text
    assert "各设备误报情况" in page.text and "孙丽华的手环" in page.text
