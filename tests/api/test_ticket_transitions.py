"""The ticket workflow end to end through the HTTP API, on the seeded demo community."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from hub.i18n.times import time_in_sentence
from hub.schema.tickets import tickets
from hub.tickets import service
from tests.api.conftest import Login
from tests.api.people import Users
from tests.support.hubdata import volunteer_on_duty_for

SUN, WU = "8800000101", "8800000301"  # households in grid 1 and grid 2


@pytest.fixture
def login(login: Login) -> Login:
    """Everyone here reads English (their browser asks for it): the reasons are asserted
    in English; tests/api/test_words.py has them in Chinese."""

    async def english(username: str) -> dict[str, str]:
        return await login(username) | {"Accept-Language": "en"}

    return english


async def test_each_ticket_says_what_the_caller_may_do_and_what_each_action_needs(
    as_user: Users, sos: tuple[int, str]
) -> None:
    """A page renders the actions from the answer: no copy of the workflow table."""
    ticket_id, on_duty = sos
    vol, staff, sun = await as_user(on_duty), await as_user("staff"), await as_user("resident.sun")
    text = {"kind": "text", "required": True, "max_length": 500, "minimum": None, "maximum": None}
    text |= {"choices": None, "label": None}

    seen = (await vol.get(ticket_id)).json()
    assert seen["action_details"] == [
        {
            "action": "accept",
            "target": "accepted",
            "inputs": [],
            "label": "Accept",
            "target_label": "Accepted",
        },
        {
            "action": "return",
            "target": "returned",
            "inputs": [{"name": "reason", **text}],
            "label": "Return",
            "target_label": "Returned",
        },
    ]
    assert (await staff.get(ticket_id)).json()["action_details"] == []
    accepted = await vol.ok(ticket_id, "accept")
    assert [
        (o["action"], [i["name"] for i in o["inputs"]]) for o in accepted["action_details"]
    ] == [
        ("return", ["reason"]),
        ("start", ["note"]),
    ]
    await vol.ok(ticket_id, "start", note="on site")
    await vol.ok(ticket_id, "request_extension", reason="waiting for the plumber")
    grant, refuse = (await staff.get(ticket_id)).json()["action_details"]
    assert grant["action"] == "grant_extension" and grant["target"] == "in_progress"
    assert grant["inputs"] == [
        {"name": "new_due_at", "kind": "future_time", "required": True}
        | {"max_length": None, "minimum": None, "maximum": None, "choices": None, "label": None}
    ]
    assert refuse["inputs"][0]["name"] == "reason"
    assert (await sun.get(ticket_id)).json()["action_details"] == []  # not closed yet


def _field_error(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    named = [e for e in errors if e["loc"][-1] == field]
    assert named, errors
    return str(named[0]["msg"])


async def test_the_whole_workflow_from_sos_to_rating(as_user: Users, sos: tuple[int, str]) -> None:
    ticket_id, on_duty = sos
    vol, staff, sun = await as_user(on_duty), await as_user("staff"), await as_user("resident.sun")

    seen = (await vol.get(ticket_id)).json()
    assert seen["status"] == "dispatched" and seen["assignee_id"] == await vol.id()
    assert seen["actions"] == ["accept", "return"]
    assert (await staff.get(ticket_id)).json()["actions"] == []  # staff wait for the volunteer

    assert (await vol.ok(ticket_id, "accept"))["status"] == "accepted"
    started = await vol.ok(ticket_id, "start", note="on site: she pressed SOS by mistake, fine")
    assert started["status"] == "in_progress"
    assert started["actions"] == ["request_extension", "resolve"]
    asked = await vol.ok(ticket_id, "request_extension", reason="waiting for her doctor")
    assert asked["status"] == "extension_requested"

    assert (await staff.get(ticket_id)).json()["actions"] == ["grant_extension", "refuse_extension"]
    old_due = datetime.fromisoformat(asked["resolve_due_at"])
    new_due = old_due + timedelta(hours=4)
    granted = await staff.ok(ticket_id, "grant_extension", new_due_at=new_due.isoformat())
    assert granted["status"] == "in_progress"
    assert datetime.fromisoformat(granted["resolve_due_at"]) == new_due
    # The log says the new limit in the reader's language, in the community's time; the
    # English ``note`` (UTC ISO) stays for machines.
    zone = ZoneInfo(
        (await staff.client.get("/api/v1/auth/me", headers=staff.headers)).json()["timezone"]
    )
    [line] = [e for e in granted["log"] if e["action"] == "grant_extension"]
    now = datetime.now(UTC)
    said = {
        tag: (
            time_in_sentence(old_due, zone, tag, now=now),
            time_in_sentence(new_due, zone, tag, now=now),
        )
        for tag in ("zh-CN", "en")
    }
    assert line["note_label"] == f"resolve by {said['en'][0]} → {said['en'][1]}"
    assert new_due.astimezone(zone).strftime("%H:%M") in line["note_label"]
    assert line["note"] == f"resolve due {old_due.isoformat()} -> {new_due.isoformat()}"
    # This file's people ask for English; a Chinese browser reads Chinese.
    chinese = await staff.client.get(
        f"/api/v1/tickets/{ticket_id}", headers={**staff.headers, "Accept-Language": "zh-CN"}
    )
    [line] = [e for e in chinese.json()["log"] if e["action"] == "grant_extension"]
    assert line["note_label"] == f"办结时限 {said['zh-CN'][0]} → {said['zh-CN'][1]}"

    resolved = await vol.ok(
        ticket_id, "resolve", note="doctor checked her; all well", disposition="accidental"
    )
    assert resolved["status"] == "resolved" and resolved["actions"] == []
    assert (await staff.ok(ticket_id, "verify"))["status"] == "verified"
    closed = await staff.ok(ticket_id, "close")
    assert closed["status"] == "closed"

    assert (await sun.get(ticket_id)).json()["actions"] == ["rate"]
    rated = await sun.ok(ticket_id, "rate", score=5, note="came within minutes")
    assert rated["status"] == "rated" and rated["actions"] == []

    log = rated["log"]
    vol_id, staff_id, sun_id = await vol.id(), await staff.id(), await sun.id()
    assert [(e["action"], e["actor_id"]) for e in log] == [
        ("registered", None),
        ("dispatched", None),
        ("accept", vol_id),
        ("start", vol_id),
        ("request_extension", vol_id),
        ("grant_extension", staff_id),
        ("resolve", vol_id),
        ("verify", staff_id),
        ("close", staff_id),
        ("rate", sun_id),
    ]
    # Each step starts where the one before ended, and the notes say what and why.
    for before, after in pairwise(log):
        assert after["from_status"] == before["to_status"]
    notes = {e["action"]: e["note"] for e in log}
    assert "pressed SOS by mistake" in notes["start"]
    assert "waiting for her doctor" in notes["request_extension"]
    assert new_due.isoformat() in notes["grant_extension"]
    assert "score 5/5" in notes["rate"]
    # The GET answers the same trail.
    assert (await staff.get(ticket_id)).json()["log"] == log


async def test_roles_and_assignment_are_enforced(as_user: Users, sos: tuple[int, str]) -> None:
    ticket_id, on_duty = sos
    vol = await as_user(on_duty)
    other = await as_user("vol.wang")  # grid 2: not assigned, so the ticket is not theirs

    # Another volunteer cannot accept it: for them the ticket does not exist (404, like GET).
    response = await other.do(ticket_id, "accept")
    assert response.status_code == 404
    assert (await other.get(ticket_id)).status_code == 404

    # Roles that may see the ticket but not take the action: 403 naming action and role.
    response = await (await as_user("resident.sun")).do(ticket_id, "accept")
    assert response.status_code == 403
    assert "resident" in response.json()["detail"] and "“Accept”" in response.json()["detail"]
    response = await (await as_user("staff")).do(ticket_id, "accept")
    assert response.status_code == 403 and "community_staff" in response.json()["detail"]
    response = await vol.do(ticket_id, "close")
    assert response.status_code == 403
    assert "volunteer" in response.json()["detail"] and "“Close”" in response.json()["detail"]

    # Accepting twice: 409, listing what may be done instead.
    await vol.ok(ticket_id, "accept")
    response = await vol.do(ticket_id, "accept")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "“Accepted”" in detail and "allowed: Return, Verify on site" in detail
    # Nothing changed and nothing was logged by the refused attempts.
    ticket = (await vol.get(ticket_id)).json()
    assert ticket["status"] == "accepted"
    assert [e["action"] for e in ticket["log"]] == ["registered", "dispatched", "accept"]


async def test_inputs_are_checked_per_action(as_user: Users, sos: tuple[int, str]) -> None:
    ticket_id, on_duty = sos
    vol, staff = await as_user(on_duty), await as_user("staff")

    _field_error(await vol.do(ticket_id, "return", reason=None), "reason")
    assert "“Return”" in _field_error(await vol.do(ticket_id, "return"), "reason")
    _field_error(await vol.do(ticket_id, "return", reason="   "), "reason")  # blank is missing
    _field_error(await vol.do(ticket_id, "accept", score=3), "score")  # not an accept input
    _field_error(await vol.do(ticket_id, "accept", bogus=1), "bogus")  # unknown field
    _field_error(await vol.do(ticket_id, "fly"), "action")
    await vol.ok(ticket_id, "accept")
    assert "“Verify on site”" in _field_error(await vol.do(ticket_id, "start"), "note")
    await vol.ok(ticket_id, "start", note="on site")
    await vol.ok(ticket_id, "request_extension", reason="parts on order")

    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert "future" in _field_error(
        await staff.do(ticket_id, "grant_extension", new_due_at=past), "new_due_at"
    )
    _field_error(
        await staff.do(ticket_id, "grant_extension", new_due_at="2030-01-01T10:00:00"),
        "new_due_at",  # no UTC offset
    )
    _field_error(await staff.do(ticket_id, "refuse_extension"), "reason")
    refused = await staff.ok(ticket_id, "refuse_extension", reason="the limit stands")
    assert refused["status"] == "in_progress"
    assert refused["resolve_due_at"] == (await staff.get(ticket_id)).json()["resolve_due_at"]
    assert [e["action"] for e in refused["log"]][-1] == "refuse_extension"


async def test_a_return_goes_back_to_staff_for_re_dispatch(
    as_user: Users, sos: tuple[int, str]
) -> None:
    ticket_id, on_duty = sos
    vol, staff, zhao = await as_user(on_duty), await as_user("staff"), await as_user("vol.zhao")

    returned = await vol.ok(ticket_id, "return", reason="I am out of town today")
    assert returned["status"] == "returned" and returned["assignee_id"] is None
    assert returned["actions"] == []
    assert (await vol.get(ticket_id)).status_code == 404  # no longer theirs
    assert (await staff.get(ticket_id)).json()["actions"] == ["dispatch"]

    assert "“Dispatch”" in _field_error(await staff.do(ticket_id, "dispatch"), "assignee_id")
    again = await staff.do(ticket_id, "dispatch", assignee_id=await vol.id())
    assert "someone else" in _field_error(again, "assignee_id")
    to_staff = await staff.do(ticket_id, "dispatch", assignee_id=await staff.id())
    assert "volunteer" in _field_error(to_staff, "assignee_id")

    zhao_id = await zhao.id()
    dispatched = await staff.ok(ticket_id, "dispatch", assignee_id=zhao_id)
    assert dispatched["status"] == "dispatched" and dispatched["assignee_id"] == zhao_id
    assert (await zhao.get(ticket_id)).json()["actions"] == ["accept", "return"]
    assert (await zhao.ok(ticket_id, "accept"))["status"] == "accepted"

    log = (await staff.get(ticket_id)).json()["log"]
    ret, disp = log[-3], log[-2]
    assert (ret["action"], ret["actor_id"]) == ("return", await vol.id())
    assert "out of town" in ret["note"]
    assert (disp["action"], disp["actor_id"]) == ("dispatch", await staff.id())
    assert (disp["from_status"], disp["to_status"]) == ("returned", "dispatched")


async def test_property_manager_acts_like_staff_in_their_community(as_user: Users) -> None:
    # On the property's tickets: a resident's problem report (an SOS is elderly care,
    # which the manager does not see: tests/api/test_scoping_matrix.py).
    sun = await as_user("resident.sun")
    opened = await sun.client.post(
        "/api/v1/tickets",
        headers=sun.headers,
        json={"title": "Hall light out", "description": "The hall light of 1号楼 is out"},
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["id"]
    on_duty = await volunteer_on_duty_for(as_user.db, SUN, datetime.now(UTC))
    vol, manager = await as_user(on_duty), await as_user("manager")
    assert opened.json()["assignee_id"] == await vol.id()
    await vol.ok(ticket_id, "accept")
    await vol.ok(ticket_id, "start", note="on site")
    await vol.ok(ticket_id, "resolve", note="done")
    assert (await manager.get(ticket_id)).json()["actions"] == ["verify", "reopen"]
    _field_error(await manager.do(ticket_id, "reopen"), "reason")
    reopened = await manager.ok(ticket_id, "reopen", reason="the family says it is not fixed")
    assert reopened["status"] == "in_progress"
    assert reopened["log"][-1]["actor_id"] == await manager.id()


async def test_residents_act_only_on_their_own_household(
    as_user: Users, sos: tuple[int, str]
) -> None:
    ticket_id, _ = sos
    wu_family = await as_user.family_of("吴美芳", "family.wu")
    sun = await as_user("resident.sun")

    for action, inputs in (("rate", {"score": 4}), ("accept", {})):
        response = await wu_family.do(ticket_id, action, **inputs)
        assert response.status_code == 404, action
    assert (await wu_family.get(ticket_id)).status_code == 404
    # Sun's own household, but not closed yet: 409, and a score must be 1-5.
    response = await sun.do(ticket_id, "rate", score=4)
    assert response.status_code == 409 and "“Dispatched”" in response.json()["detail"]
    _field_error(await sun.do(ticket_id, "rate", score=6), "score")


async def test_a_concurrent_change_is_a_conflict(
    as_user: Users, sos: tuple[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id, on_duty = sos
    vol = await as_user(on_duty)
    real_load = service._load

    async def load_then_someone_else_writes(conn: Any, ticket_id_: int, visible: Any) -> Any:
        ticket = await real_load(conn, ticket_id_, visible)
        # Another writer returns the ticket between our read and our update.
        await conn.execute(
            tickets.update().where(tickets.c.id == ticket_id_).values(status="returned")
        )
        return ticket

    monkeypatch.setattr(service, "_load", load_then_someone_else_writes)
    response = await vol.do(ticket_id, "accept")
    assert response.status_code == 409 and "changed while" in response.json()["detail"]
    monkeypatch.undo()
    # The whole transaction was rolled back: the interfering write too, and no log entry.
    ticket = (await vol.get(ticket_id)).json()
    assert ticket["status"] == "dispatched"
    assert [e["action"] for e in ticket["log"]] == ["registered", "dispatched"]


async def test_assignment_and_household_rules_hold_even_where_a_ticket_is_visible(
    as_user: Users, sos: tuple[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Visibility alone never grants an action: were it widened (co-handlers, a grid
    view), an unassigned volunteer or another household would get 403, not the action."""
    ticket_id, on_duty = sos
    monkeypatch.setattr(service, "visible_tickets", lambda scope: None)  # everyone sees everything
    other = await as_user("vol.wang" if on_duty != "vol.wang" else "vol.zhao")
    assert (await other.get(ticket_id)).json()["actions"] == []
    response = await other.do(ticket_id, "accept")
    assert response.status_code == 403
    assert "“Accept”" in response.json()["detail"] and "assigned" in response.json()["detail"]

    vol, staff = await as_user(on_duty), await as_user("staff")
    await vol.ok(ticket_id, "accept")
    await vol.ok(ticket_id, "start", note="on site")
    await vol.ok(ticket_id, "resolve", note="done", disposition="genuine")
    await staff.ok(ticket_id, "verify")
    await staff.ok(ticket_id, "close")
    wu_household = await as_user.family_of("吴美芳", "family.wu")
    assert (await wu_household.get(ticket_id)).json()["actions"] == []
    response = await wu_household.do(ticket_id, "rate", score=1)
    assert response.status_code == 403 and "household" in response.json()["detail"]
    assert (await staff.get(ticket_id)).json()["status"] == "closed"
