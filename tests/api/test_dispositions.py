"""An alarm ticket's resolution says what the alarm was (genuine, false, pressed by
mistake, a test, a device fault); a ticket no alarm opened has none."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.api.conftest import Login
from tests.api.people import Users
from tests.support.hubdata import volunteer_on_duty_for

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
    zh = _resolve_offer(chinese.json())["inputs"][1]["choices"]
    assert [c["label"] for c in zh] == ["真实报警", "误报", "误按", "测试", "设备故障"]

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
