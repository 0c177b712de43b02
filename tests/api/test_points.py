"""Points (积分) through the HTTP API: earned on verified closure and from ratings, kept
as a ledger whose sum is the balance, and shown to whom it concerns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from hub.points import service as points
from hub.points.models import Award, AwardReason
from hub.schema.alerts import alerts
from hub.schema.points import points_ledger
from hub.storage.db import Database
from tests.api.people import Actor, Users
from tests.support.hubdata import user_id_of

SUN = "8800000101"  # a wearer in grid 1
SOS_POINTS, SOS_CO_HANDLER_POINTS = 10, 5  # elderly_sos in the shipped rules
BONUS_FOR_5 = 3  # points_for_rating's default


async def _to_verified(ticket_id: int, vol: Actor, staff: Actor) -> None:
    await vol.ok(ticket_id, "accept")
    await vol.ok(ticket_id, "start", note="on site")
    await vol.ok(ticket_id, "resolve", note="all well", disposition="genuine")
    await staff.ok(ticket_id, "verify")


async def _mine(actor: Actor) -> Any:
    response = await actor.client.get("/api/v1/points/me", headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _points_of(actor: Actor, user_id: int) -> httpx.Response:
    return await actor.client.get(f"/api/v1/points/users/{user_id}", headers=actor.headers)


async def _ledger(db: Database, ticket_id: int) -> list[tuple[int, str, int]]:
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(points_ledger.c.user_id, points_ledger.c.reason, points_ledger.c.points)
            .where(points_ledger.c.ticket_id == ticket_id)
            .order_by(points_ledger.c.id)
        )
        return [(int(u), str(r), int(p)) for u, r, p in rows]


async def test_closure_pays_the_assignee_and_each_co_handler(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, on_duty = sos
    vol, staff = await as_user(on_duty), await as_user("staff")
    wang, manager = await as_user("vol.wang"), await as_user("manager")
    for helper in ("vol.wang", "manager"):
        added = await staff.client.post(
            f"/api/v1/tickets/{ticket_id}/co-handlers",
            headers=staff.headers,
            json={"user_id": await user_id_of(api_db, helper), "note": "help on site"},
        )
        assert added.status_code == 201, added.text
    await _to_verified(ticket_id, vol, staff)
    assert await _ledger(api_db, ticket_id) == []  # nothing before closure

    closed = await staff.ok(ticket_id, "close")
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    vol_id, wang_id, manager_id = await vol.id(), await wang.id(), await manager.id()
    assert sorted(await _ledger(api_db, ticket_id)) == sorted(
        [
            (vol_id, "closure", SOS_POINTS),
            (wang_id, "co_handling", SOS_CO_HANDLER_POINTS),
            (manager_id, "co_handling", SOS_CO_HANDLER_POINTS),
        ]
    )
    # The audit entry of the closure says what was paid.
    note = closed["log"][-1]["note"]
    assert f"+{SOS_POINTS} points to user {vol_id} (closure)" in note
    assert f"+{SOS_CO_HANDLER_POINTS} points to user {wang_id} (co_handling)" in note

    mine = await _mine(vol)
    assert mine["balance"] == SOS_POINTS
    entry = mine["history"]["items"][0]
    assert entry["ticket_id"] == ticket_id and entry["reason"] == "closure"
    assert entry["points"] == SOS_POINTS and "孙丽华" in entry["ticket_title"]
    assert (await _mine(wang))["balance"] == SOS_CO_HANDLER_POINTS


async def test_a_rating_of_5_pays_the_assignee_a_bonus(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, on_duty = sos
    vol, staff, sun = await as_user(on_duty), await as_user("staff"), await as_user("resident.sun")
    await _to_verified(ticket_id, vol, staff)
    await staff.ok(ticket_id, "close")
    rated = await sun.ok(ticket_id, "rate", score=5)
    assert rated["rating"] == 5
    assert f"+{BONUS_FOR_5} points to user {await vol.id()} (rating)" in rated["log"][-1]["note"]
    mine = await _mine(vol)
    assert mine["balance"] == SOS_POINTS + BONUS_FOR_5
    reasons = [e["reason"] for e in mine["history"]["items"]]
    assert sorted(reasons) == ["closure", "rating"]


async def test_a_low_rating_pays_nothing(as_user: Users, sos: tuple[int, str]) -> None:
    ticket_id, on_duty = sos
    vol, staff, sun = await as_user(on_duty), await as_user("staff"), await as_user("resident.sun")
    await _to_verified(ticket_id, vol, staff)
    await staff.ok(ticket_id, "close")
    rated = await sun.ok(ticket_id, "rate", score=2)
    assert rated["rating"] == 2 and "points" not in rated["log"][-1]["note"]
    assert (await _mine(vol))["balance"] == SOS_POINTS


async def test_a_retried_close_cannot_pay_twice(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, on_duty = sos
    vol, staff = await as_user(on_duty), await as_user("staff")
    await _to_verified(ticket_id, vol, staff)
    await staff.ok(ticket_id, "close")
    again = await staff.do(ticket_id, "close")
    assert again.status_code == 409
    assert len(await _ledger(api_db, ticket_id)) == 1
    # Even writing the same award again directly inserts nothing: the ledger's unique key.
    vol_id = await vol.id()
    async with api_db.write() as conn:
        award = Award(vol_id, SOS_POINTS, AwardReason.CLOSURE)
        assert await points.record(conn, ticket_id, [award], at=datetime.now(UTC)) == []
        await points.record(conn, ticket_id, [award], at=datetime.now(UTC))  # still nothing
    assert await _ledger(api_db, ticket_id) == [(vol_id, "closure", SOS_POINTS)]
    assert (await _mine(vol))["balance"] == SOS_POINTS


async def test_a_volunteer_sees_only_their_own_points(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, on_duty = sos
    vol, staff = await as_user(on_duty), await as_user("staff")
    await _to_verified(ticket_id, vol, staff)
    await staff.ok(ticket_id, "close")
    vol_id = await vol.id()
    other = await as_user("vol.wang" if on_duty != "vol.wang" else "vol.zhao")

    forbidden = await _points_of(other, vol_id)
    assert forbidden.status_code == 403 and "自己的积分" in forbidden.json()["detail"]
    own = await _points_of(other, await other.id())
    assert own.status_code == 200 and own.json()["balance"] == 0
    resident = await as_user("resident.sun")
    assert (await _points_of(resident, vol_id)).status_code == 403

    for supervisor in ("staff", "manager", "admin"):
        seen = await _points_of(await as_user(supervisor), vol_id)
        assert seen.status_code == 200, supervisor
        assert seen.json()["balance"] == SOS_POINTS
    missing = await _points_of(staff, 99_999)
    assert missing.status_code == 404

    board = await staff.client.get("/api/v1/points/leaderboard", headers=staff.headers)
    assert board.status_code == 200
    rows = board.json()["rows"]
    assert rows[0] == {
        "rank": 1,
        "user_id": vol_id,
        "full_name": rows[0]["full_name"],
        "role": "volunteer",
        "points": SOS_POINTS,
        "awards": 1,
    }
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = await staff.client.get(
        "/api/v1/points/leaderboard", headers=staff.headers, params={"since": future}
    )
    assert later.status_code == 200 and later.json()["rows"] == []
    elsewhere = await staff.client.get(
        "/api/v1/points/leaderboard", headers=staff.headers, params={"community_id": 999}
    )
    assert elsewhere.status_code == 403
    assert (
        await other.client.get("/api/v1/points/leaderboard", headers=other.headers)
    ).status_code == 403


async def test_the_balance_is_the_sum_of_the_ledger(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, _ = sos
    zhao = await as_user("vol.zhao")
    zhao_id, now = await zhao.id(), datetime.now(UTC)
    async with api_db.write() as conn:
        await points.record(
            conn,
            ticket_id,
            [Award(zhao_id, 7, AwardReason.CO_HANDLING), Award(zhao_id, 2, AwardReason.RATING)],
            at=now,
        )
        # An adjustment by hand, negative and not tied to a ticket.
        await conn.execute(
            points_ledger.insert().values(
                user_id=zhao_id, ticket_id=None, points=-4, reason="adjustment", at=now
            )
        )
    mine = await _mine(zhao)
    history = mine["history"]
    assert history["total"] == 3
    assert mine["balance"] == 7 + 2 - 4 == sum(e["points"] for e in history["items"])
    page = await zhao.client.get(
        "/api/v1/points/me", headers=zhao.headers, params={"limit": 1, "offset": 1}
    )
    assert page.json()["balance"] == 5 and len(page.json()["history"]["items"]) == 1
    assert page.json()["history"]["total"] == 3


async def test_accepting_the_ticket_acknowledges_its_alert(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, on_duty = sos
    vol = await as_user(on_duty)
    accepted = await vol.ok(ticket_id, "accept")
    async with api_db.read() as conn:
        alert = (
            await conn.execute(sa.select(alerts).where(alerts.c.id == accepted["alert_id"]))
        ).one()
    assert alert.status == "acknowledged"
    assert alert.acknowledged_by == await vol.id() and alert.acknowledged_at is not None
    assert f"alert {accepted['alert_id']} acknowledged" in accepted["log"][-1]["note"]
