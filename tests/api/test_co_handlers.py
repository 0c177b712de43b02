"""Joint handling (联动处置) through the HTTP API: who may add co-handlers, whom, when;
what co-handlers see and may do; and confidential tickets' visibility."""

from __future__ import annotations

from typing import Any

import httpx

from community_hub_tools.demo.seed import DEMO_PASSWORD
from hub.notifications.outbox import OutboxRelay
from hub.schema.tickets import tickets
from hub.storage.db import Database
from hub.users.models import Role
from hub.users.service import create_user
from tests.api.people import Actor, Users
from tests.support.hubdata import (
    RecordingNotifier,
    user_id_of,
)

SUN = "8800000101"  # a wearer in grid 1


def _other_volunteer(on_duty: str) -> str:
    return "vol.wang" if on_duty != "vol.wang" else "vol.zhao"


async def _add(actor: Actor, ticket_id: int, user_id: int, note: str = "") -> httpx.Response:
    return await actor.client.post(
        f"/api/v1/tickets/{ticket_id}/co-handlers",
        headers=actor.headers,
        json={"user_id": user_id, "note": note},
    )


async def _remove(actor: Actor, ticket_id: int, user_id: int) -> httpx.Response:
    return await actor.client.delete(
        f"/api/v1/tickets/{ticket_id}/co-handlers/{user_id}", headers=actor.headers
    )


def _detail(response: httpx.Response) -> Any:
    return response.json()["detail"]


async def test_staff_add_a_co_handler_who_sees_the_ticket_but_takes_no_assignee_action(
    as_user: Users,
    sos: tuple[int, str],
    api_db: Database,
    outbox: OutboxRelay,
    notes: RecordingNotifier,
) -> None:
    ticket_id, on_duty = sos
    staff, helper = await as_user("staff"), await as_user(_other_volunteer(on_duty))
    helper_id = await helper.id()
    assert (await helper.get(ticket_id)).status_code == 404  # not theirs, yet

    added = await _add(staff, ticket_id, helper_id, "bring the spare key")
    assert added.status_code == 201, added.text
    body = added.json()
    [co] = body["co_handlers"]
    assert co["user_id"] == helper_id and co["note"] == "bring the spare key"
    assert co["full_name"] and co["added_at"]
    last = body["log"][-1]
    assert last["action"] == "co_handler_added" and last["actor_id"] == await staff.id()
    assert "bring the spare key" in last["note"]

    await outbox.deliver_due()
    [told] = [n for n in notes.seen if n.kind == "ticket.co_handler_added"]
    assert told.recipients.user_ids == (helper_id,) and told.ticket_id == ticket_id

    seen = await helper.get(ticket_id)
    assert seen.status_code == 200 and seen.json()["actions"] == []
    listed = await helper.client.get("/api/v1/tickets", headers=helper.headers)
    assert [t["id"] for t in listed.json()["items"]] == [ticket_id]
    refused = await helper.do(ticket_id, "accept")
    assert refused.status_code == 403 and "没有派给您" in _detail(refused)  # not assigned to you
    # A co-handler cannot bring in others either.
    zhao_id = await user_id_of(api_db, "vol.zhao")
    if zhao_id != helper_id:
        assert (await _add(helper, ticket_id, zhao_id)).status_code == 403


async def test_the_assignee_may_add_and_remove_co_handlers(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, on_duty = sos
    vol = await as_user(on_duty)
    manager_id = await user_id_of(api_db, "manager")
    assert (await _add(vol, ticket_id, manager_id, "the lift is broken")).status_code == 201

    removed = await _remove(vol, ticket_id, manager_id)
    assert removed.status_code == 200, removed.text
    assert removed.json()["co_handlers"] == []
    last = removed.json()["log"][-1]
    assert last["action"] == "co_handler_removed" and last["actor_id"] == await vol.id()
    again = await _remove(vol, ticket_id, manager_id)
    # Said in the community's language (no other asked for).
    assert again.status_code == 404
    assert _detail(again) == f"用户 {manager_id} 不是工单 {ticket_id} 的协办人"


async def test_who_may_be_a_co_handler(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, on_duty = sos
    staff = await as_user("staff")
    vol_id = await user_id_of(api_db, on_duty)
    resident_id = await user_id_of(api_db, "resident.sun")
    helper_id = await user_id_of(api_db, _other_volunteer(on_duty))
    async with api_db.write() as conn:
        outsider_id = await create_user(
            conn,
            username="vol.elsewhere",
            password=DEMO_PASSWORD,
            full_name="Volunteer of no community here",
            role=Role.VOLUNTEER,
        )

    def field_error(response: httpx.Response) -> str:
        assert response.status_code == 422, response.text
        [error] = _detail(response)
        assert error["loc"] == ["body", "user_id"]
        return str(error["msg"])

    not_one = "不是在册的志愿者、社区工作人员或物业经理"
    assert field_error(await _add(staff, ticket_id, resident_id)) == f"用户 {resident_id} {not_one}"
    assert field_error(await _add(staff, ticket_id, 99_999)) == f"用户 99999 {not_one}"
    assert field_error(await _add(staff, ticket_id, vol_id)).endswith(" 已是该工单的处理人")
    assert " 不在社区 " in field_error(await _add(staff, ticket_id, outsider_id))
    assert (await _add(staff, ticket_id, helper_id)).status_code == 201
    twice = await _add(staff, ticket_id, helper_id)
    assert twice.status_code == 409 and f" 已是工单 {ticket_id} 的协办人" in _detail(twice)

    # Residents of the household see the ticket but may not bring in helpers.
    sun = await as_user("resident.sun")
    assert (await _add(sun, ticket_id, helper_id)).status_code == 403
    # Unknown tickets are 404.
    assert (await _add(staff, ticket_id + 1000, helper_id)).status_code == 404
    # Bad bodies are 422 with the field named.
    bad = await staff.client.post(
        f"/api/v1/tickets/{ticket_id}/co-handlers", headers=staff.headers, json={"note": "x"}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "user_id"


async def test_no_co_handlers_join_or_leave_a_closed_ticket(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, on_duty = sos
    vol, staff = await as_user(on_duty), await as_user("staff")
    helper_id = await user_id_of(api_db, _other_volunteer(on_duty))
    assert (await _add(staff, ticket_id, helper_id)).status_code == 201
    await vol.ok(ticket_id, "accept")
    await vol.ok(ticket_id, "start", note="on site")
    await vol.ok(ticket_id, "resolve", note="done", disposition="genuine")
    await staff.ok(ticket_id, "verify")
    await staff.ok(ticket_id, "close")
    manager_id = await user_id_of(api_db, "manager")
    late = await _add(staff, ticket_id, manager_id)
    assert late.status_code == 409
    assert _detail(late) == f"工单 {ticket_id} 状态为“已结单”，不能再添加协办人"
    assert (await _remove(staff, ticket_id, helper_id)).status_code == 409


async def test_confidential_tickets_are_hidden_from_residents_and_unrelated_volunteers(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, on_duty = sos
    sun, staff = await as_user("resident.sun"), await as_user("staff")
    vol, other = await as_user(on_duty), await as_user(_other_volunteer(on_duty))
    assert (await sun.get(ticket_id)).status_code == 200  # her household's, not confidential

    async with api_db.write() as conn:
        await conn.execute(
            tickets.update().where(tickets.c.id == ticket_id).values(confidential=True)
        )

    async def listed(actor: Actor) -> list[int]:
        response = await actor.client.get("/api/v1/tickets", headers=actor.headers)
        assert response.status_code == 200
        return [t["id"] for t in response.json()["items"]]

    assert (await sun.get(ticket_id)).status_code == 404
    assert ticket_id not in await listed(sun)
    assert (await sun.do(ticket_id, "rate", score=5)).status_code == 404
    assert (await other.get(ticket_id)).status_code == 404
    assert ticket_id not in await listed(other)
    # Those handling it still see it: the assignee, staff, and a co-handler once added.
    assert (await vol.get(ticket_id)).json()["confidential"] is True
    assert (await staff.get(ticket_id)).status_code == 200
    assert (await _add(staff, ticket_id, await other.id())).status_code == 201
    assert (await other.get(ticket_id)).status_code == 200
    assert ticket_id in await listed(other)
    assert (await sun.get(ticket_id)).status_code == 404
