"""Raising a grid ticket to the community (小事不出网格，大事不出社区) through the HTTP API."""

from __future__ import annotations

import httpx

from hub.notifications.outbox import OutboxRelay
from hub.storage.db import Database
from hub.users.models import Role
from tests.api.people import Actor, Users
from tests.support.hubdata import (
    RecordingNotifier,
    user_id_of,
)

SUN = "8800000101"  # a wearer in grid 1


async def _raise(actor: Actor, ticket_id: int, **body: object) -> httpx.Response:
    return await actor.client.post(
        f"/api/v1/tickets/{ticket_id}/raise", headers=actor.headers, json=body
    )


async def _ids(actor: Actor, **params: str) -> list[int]:
    response = await actor.client.get("/api/v1/tickets", headers=actor.headers, params=params)
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]


async def test_the_assignee_raises_a_ticket_and_community_staff_are_told(
    as_user: Users, sos: tuple[int, str], outbox: OutboxRelay, notes: RecordingNotifier
) -> None:
    ticket_id, on_duty = sos
    vol, staff = await as_user(on_duty), await as_user("staff")
    before = (await staff.get(ticket_id)).json()
    assert before["level"] == "grid"
    assert ticket_id in await _ids(staff, level="grid")
    assert ticket_id not in await _ids(staff, level="community")

    raised = await _raise(vol, ticket_id, reason="needs the property's electrician")
    assert raised.status_code == 200, raised.text
    body = raised.json()
    assert body["level"] == "community" and body["status"] == before["status"]
    last = body["log"][-1]
    assert (last["action"], last["actor_id"]) == ("raised_to_community", await vol.id())
    assert "needs the property's electrician" in last["note"]

    await outbox.deliver_due()
    [told] = [n for n in notes.seen if n.kind == "ticket.raised"]
    assert told.ticket_id == ticket_id
    assert told.recipients.roles == (Role.COMMUNITY_STAFF,)
    assert told.recipients.community_id == before["community_id"]
    me = (await vol.client.get("/api/v1/auth/me", headers=vol.headers)).json()
    why = "needs the property's electrician"
    # Made in every language; ``body`` is the community's default language's (Chinese).
    assert told.bodies == {
        "zh-CN": f"{me['full_name']}已将工单升级至社区：{why}",
        "en": f"raised to the community by {me['full_name']}: {why}",
    }
    assert told.body == told.bodies["zh-CN"]
    assert told.for_reader("en").body == told.bodies["en"]

    assert ticket_id in await _ids(staff, level="community")
    assert ticket_id not in await _ids(staff, level="grid")
    bad_level = await staff.client.get(
        "/api/v1/tickets", headers=staff.headers, params={"level": "street"}
    )
    assert bad_level.status_code == 422

    again = await _raise(staff, ticket_id, reason="again")
    assert again.status_code == 409
    assert again.json()["detail"] == f"工单 {ticket_id} 已在社区层级"


async def test_a_reason_is_required(as_user: Users, sos: tuple[int, str]) -> None:
    ticket_id, _ = sos
    staff = await as_user("staff")
    for body in ({}, {"reason": "   "}, {"reason": "x", "extra": 1}):
        response = await _raise(staff, ticket_id, **body)
        assert response.status_code == 422, body
    missing = await _raise(staff, ticket_id)
    assert missing.json()["detail"][0]["loc"] == ["body", "reason"]
    assert (await staff.get(ticket_id)).json()["level"] == "grid"


async def test_who_may_raise(as_user: Users, sos: tuple[int, str], api_db: Database) -> None:
    ticket_id, on_duty = sos
    staff, manager = await as_user("staff"), await as_user("manager")
    helper = await as_user("vol.wang" if on_duty != "vol.wang" else "vol.zhao")
    # A co-handler sees the ticket but is not its assignee: 403.
    added = await staff.client.post(
        f"/api/v1/tickets/{ticket_id}/co-handlers",
        headers=staff.headers,
        json={"user_id": await helper.id()},
    )
    assert added.status_code == 201
    refused = await _raise(helper, ticket_id, reason="too big for me")
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "志愿者无权将工单升级至社区；接单志愿者、社区工作人员和物业经理可以升级"
    )
    # Once they choose English in their profile, the same refusal is English.
    chose = await helper.client.patch(
        "/api/v1/auth/me", headers=helper.headers, json={"locale": "en"}
    )
    assert chose.status_code == 200, chose.text
    refused = await _raise(helper, ticket_id, reason="too big for me")
    assert refused.json()["detail"] == (
        "role volunteer may not raise tickets; the assigned volunteer, community staff and "
        "property managers may"
    )
    sun = await as_user("resident.sun")
    assert (await _raise(sun, ticket_id, reason="please")).status_code == 403
    assert (await _raise(manager, ticket_id + 1000, reason="x")).status_code == 404
    # An SOS is elderly care, not the property's: hidden from the manager until staff
    # ask them to co-handle it (docs/auth.md).
    assert (await _raise(manager, ticket_id, reason="x")).status_code == 404
    joined = await staff.client.post(
        f"/api/v1/tickets/{ticket_id}/co-handlers",
        headers=staff.headers,
        json={"user_id": await manager.id()},
    )
    assert joined.status_code == 201, joined.text
    assert (await _raise(manager, ticket_id, reason="the property takes it")).status_code == 200
    assert (
        await user_id_of(api_db, "manager")
        == (await staff.get(ticket_id)).json()["log"][-1]["actor_id"]
    )


async def test_a_closed_ticket_cannot_be_raised(as_user: Users, sos: tuple[int, str]) -> None:
    ticket_id, on_duty = sos
    vol, staff = await as_user(on_duty), await as_user("staff")
    await vol.ok(ticket_id, "accept")
    await vol.ok(ticket_id, "start", note="on site")
    await vol.ok(ticket_id, "resolve", note="done", disposition="genuine")
    await staff.ok(ticket_id, "verify")
    await staff.ok(ticket_id, "close")
    response = await _raise(staff, ticket_id, reason="too late")
    assert response.status_code == 409
    assert response.json()["detail"] == f"工单 {ticket_id} 状态为“已结单”，不能再升级"
    assert (await staff.get(ticket_id)).json()["level"] == "grid"
