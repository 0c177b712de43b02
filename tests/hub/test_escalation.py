"""Escalation chains and time limits on stored timers, driven by an injected clock.

The seeded community runs the shipped rules: an SOS is an ``elderly_sos``
ticket whose chain is primary (120 s, one repeat) → backup (120 s, one
repeat) → grid worker (180 s) → community staff (300 s) → family (600 s).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.access.scope import scope_for
from hub.ingest.flows import store_batch
from hub.notifications.base import Notification
from hub.schema.tickets import escalations, ticket_log, tickets
from hub.schema.timers import timers
from hub.schema.users import users
from hub.storage.db import Database
from hub.tickets import service as tickets_service
from hub.tickets.models import TicketAction, TicketStatus, TransitionInputs
from hub.timer_kinds import timer_kinds
from hub.timers.scheduler import Scheduler
from hub.users.models import Role
from hub.users.service import get_user
from tests.support.hubdata import open_seeded_db, user_id_of, wristband_event

SUN = "8800000101"  # 孙丽华, grid 1: vol.li primary by day, vol.zhao backup, staff grid worker
# Monday 10:00 in Shanghai: vol.li's day shift.
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


class Heard:
    def __init__(self) -> None:
        self.notes: list[Notification] = []

    def __call__(self, note: Notification) -> None:
        self.notes.append(note)

    def kinds_for(self, user_id: int) -> list[str]:
        return [n.kind for n in self.notes if user_id in n.recipients.user_ids]

    def take(self) -> list[Notification]:
        notes, self.notes = self.notes, []
        return notes


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded_db(tmp_path)
    yield database
    await database.close()


async def _sos(db: Database, at: datetime) -> tuple[int, list[Notification]]:
    async with db.write() as conn:
        outcome = await store_batch(
            conn, [wristband_event(SUN, "wristband.sos", received_at=at)], [], at
        )
    [opened] = outcome.tickets_opened
    return opened.ticket_id, outcome.notifications


async def _ticket(db: Database, ticket_id: int) -> sa.Row[tuple[object, ...]]:
    async with db.read() as conn:
        return (await conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id))).one()


async def _actions(db: Database, ticket_id: int) -> list[str]:
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(ticket_log.c.action)
            .where(ticket_log.c.ticket_id == ticket_id)
            .order_by(ticket_log.c.id)
        )
        return [r.action for r in rows]


async def _accept(db: Database, ticket_id: int, username: str, at: datetime) -> None:
    async with db.write() as conn:
        user = await get_user(conn, await user_id_of(db, username))
        assert user is not None
        scope = await scope_for(conn, user)
        await tickets_service.transition(
            conn, ticket_id, TicketAction.ACCEPT, user, scope, TransitionInputs(), at
        )


async def test_no_acceptance_moves_the_ticket_to_the_backup_who_accepts(db: Database) -> None:
    li, zhao = await user_id_of(db, "vol.li"), await user_id_of(db, "vol.zhao")
    clock, heard = FakeClock(T0), Heard()
    scheduler = Scheduler(db, heard, kinds=timer_kinds(), clock=clock)
    ticket_id, first = await _sos(db, T0)
    assert [n.kind for n in first if li in n.recipients.user_ids] == ["ticket.assigned"]
    assert (await _ticket(db, ticket_id)).assignee_id == li

    clock.at = T0 + timedelta(seconds=59)
    assert await scheduler.tick() == 0  # nothing is due before the first slot ends
    clock.at = T0 + timedelta(seconds=60)
    await scheduler.tick()
    assert heard.kinds_for(li) == ["ticket.reminder"]  # the step's one repeat
    assert heard.kinds_for(zhao) == []

    clock.at = T0 + timedelta(seconds=120)
    await scheduler.tick()
    assert heard.kinds_for(zhao) == ["ticket.assigned"]
    # vol.li still has it on her page: she hears that it moved, and why.
    assert heard.kinds_for(li) == ["ticket.reminder", "ticket.reassigned"]
    [moved] = [n for n in heard.notes if n.kind == "ticket.reassigned"]
    assert moved.ticket_id == ticket_id and moved.recipients.user_ids == (li,)
    assert moved.bodies["en"].startswith("given to someone else: no acceptance within")
    assert moved.bodies["zh-CN"].startswith("已转给他人处理：")
    row = await _ticket(db, ticket_id)
    assert (row.assignee_id, row.status) == (zhao, TicketStatus.DISPATCHED.value)
    assert "escalated" in await _actions(db, ticket_id)

    await _accept(db, ticket_id, "vol.zhao", T0 + timedelta(seconds=150))
    heard.take()
    clock.at = T0 + timedelta(hours=2)
    await scheduler.tick()
    assert not [n for n in heard.notes if n.kind.startswith("ticket.escalat")]
    assert not [n for n in heard.notes if n.kind in ("ticket.assigned", "ticket.reminder")]
    async with db.read() as conn:
        status = (
            await conn.execute(
                sa.select(escalations.c.status).where(escalations.c.ticket_id == ticket_id)
            )
        ).scalar_one()
    assert status == "acknowledged"


async def test_a_restart_mid_escalation_resumes_it_and_nothing_fires_twice(
    db: Database, tmp_path: Path
) -> None:
    zhao = await user_id_of(db, "vol.zhao")
    heard = Heard()
    ticket_id, _ = await _sos(db, T0)
    await Scheduler(
        db, heard, kinds=timer_kinds(), clock=FakeClock(T0 + timedelta(seconds=60))
    ).tick()
    await db.close()  # the hub stops between the reminder and the backup's turn

    reopened = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
    try:
        later = FakeClock(T0 + timedelta(seconds=130))  # it was down when the step fell due
        first, second = (
            Scheduler(reopened, heard, kinds=timer_kinds(), clock=later, name="a"),
            Scheduler(reopened, heard, kinds=timer_kinds(), clock=later, name="b"),
        )
        heard.take()
        await first.tick()
        await second.tick()
        assert heard.kinds_for(zhao) == ["ticket.assigned"]  # once, not twice
        async with reopened.read() as conn:
            escalated = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(ticket_log)
                    .where(ticket_log.c.ticket_id == ticket_id, ticket_log.c.action == "escalated")
                )
            ).scalar_one()
            fired_by = (
                await conn.execute(
                    sa.select(timers.c.fired_by).where(timers.c.key == f"esc:{ticket_id}:1:0")
                )
            ).scalar_one()
        assert escalated == 1
        assert fired_by == "a"
    finally:
        await reopened.close()


async def test_the_whole_chain_ends_with_the_family_and_a_word_to_staff(db: Database) -> None:
    clock, heard = FakeClock(T0), Heard()
    scheduler = Scheduler(db, heard, kinds=timer_kinds(), clock=clock)
    ticket_id, _ = await _sos(db, T0)
    staff = await user_id_of(db, "staff")
    # 120 + 120 + 180 + 300 + 600 s of silence, ticked every 10 s.
    for second in range(0, 1400, 10):
        clock.at = T0 + timedelta(seconds=second)
        await scheduler.tick()
    kinds = [n.kind for n in heard.notes]
    escalated = [n for n in heard.notes if n.kind == "ticket.escalated"]
    assert staff in escalated[0].recipients.user_ids  # the grid worker on duty, by name
    assert Role.COMMUNITY_STAFF in escalated[1].recipients.roles  # then the whole staff
    family = [n for n in heard.notes if n.contacts]
    assert len(family) == 1 and family[0].contacts[0].relation == "女儿"
    assert kinds[-1] == "ticket.escalation_exhausted"
    actions = await _actions(db, ticket_id)
    assert actions.count("escalation_exhausted") == 1
    assert "response_overdue" in actions  # 5 min to accept passed long ago


async def test_time_limits_remind_then_mark_overdue_and_spare_accepted_tickets(
    db: Database,
) -> None:
    clock, heard = FakeClock(T0), Heard()
    scheduler = Scheduler(db, heard, kinds=timer_kinds(), clock=clock)
    late, _ = await _sos(db, T0)
    async with db.write() as conn:  # a second wearer's fall, accepted in time
        outcome = await store_batch(
            conn, [wristband_event("8800000202", "wristband.fall", received_at=T0)], [], T0
        )
    [prompt] = outcome.tickets_opened
    assert prompt.assignee_id is not None
    async with db.read() as conn:
        who = (
            await conn.execute(
                sa.select(tickets.c.assignee_id).where(tickets.c.id == prompt.ticket_id)
            )
        ).scalar_one()
        username = (
            await conn.execute(sa.select(users.c.username).where(users.c.id == who))
        ).scalar_one()
    await _accept(db, prompt.ticket_id, username, T0 + timedelta(seconds=30))

    clock.at = T0 + timedelta(minutes=3)  # elderly_sos: respond within 5 min, reminder 2 min before
    await scheduler.tick()
    due_soon = [n for n in heard.take() if n.kind == "ticket.response_due_soon"]
    assert [n.ticket_id for n in due_soon] == [late]
    clock.at = T0 + timedelta(minutes=5)
    await scheduler.tick()
    overdue = [n for n in heard.take() if n.kind == "ticket.response_overdue"]
    assert [n.ticket_id for n in overdue] == [late]
    assert (await _ticket(db, late)).response_overdue_at is not None
    assert (await _ticket(db, prompt.ticket_id)).response_overdue_at is None


async def test_staff_hear_of_the_daily_digest_and_the_weekly_bulletin_each_once(
    db: Database,
) -> None:
    clock, heard = FakeClock(datetime(2026, 11, 22, 23, 0, tzinfo=UTC)), Heard()  # Mon 07:00
    scheduler = Scheduler(db, heard, kinds=timer_kinds(), clock=clock)
    await scheduler.tick()
    assert not [n for n in heard.notes if n.kind.startswith("report.")]
    clock.at = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 08:00 in Shanghai
    await scheduler.tick()
    await scheduler.tick()
    reports = {n.kind: n for n in heard.take() if n.kind.startswith("report.")}
    assert set(reports) == {"report.daily_digest", "report.weekly_bulletin"}
    assert reports["report.daily_digest"].body.endswith("date=2026-11-22")
    assert reports["report.weekly_bulletin"].body.endswith("week=2026-W47")
    assert set(reports["report.daily_digest"].recipients.roles) == {
        Role.COMMUNITY_STAFF,
        Role.PROPERTY_MANAGER,
    }
    clock.at = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # Tuesday 08:00: a digest, no bulletin
    await scheduler.tick()
    assert [n.kind for n in heard.notes if n.kind.startswith("report.")] == ["report.daily_digest"]


async def test_an_overdue_ticket_without_a_community_is_never_sent_to_every_communitys_staff(
    db: Database,
) -> None:
    clock, heard = FakeClock(T0), Heard()
    scheduler = Scheduler(db, heard, kinds=timer_kinds(), clock=clock)
    by_grid, _ = await _sos(db, T0)
    async with db.write() as conn:  # another wearer's SOS
        outcome = await store_batch(
            conn, [wristband_event("8800000202", "wristband.sos", received_at=T0)], [], T0
        )
    orphan = outcome.tickets_opened[0].ticket_id
    async with db.write() as conn:
        grid_community = (
            await conn.execute(sa.select(tickets.c.community_id).where(tickets.c.id == by_grid))
        ).scalar_one()
        await conn.execute(  # raised in a grid only: the grid's community supervises it
            tickets.update().where(tickets.c.id == by_grid).values(community_id=None)
        )
        await conn.execute(  # neither community nor grid: only admins are left to tell
            tickets.update().where(tickets.c.id == orphan).values(community_id=None, grid_id=None)
        )
    clock.at = T0 + timedelta(minutes=6)
    await scheduler.tick()
    overdue = {n.ticket_id: n for n in heard.take() if n.kind == "ticket.response_overdue"}
    assert overdue[by_grid].recipients.roles == (Role.COMMUNITY_STAFF,)
    assert overdue[by_grid].recipients.community_id == grid_community is not None
    assert overdue[orphan].recipients.roles == (Role.ADMIN,)
    assert overdue[orphan].recipients.community_id is None


async def test_an_sos_pressed_again_tells_the_ticket_holder_but_a_resent_press_does_not(
    db: Database,
) -> None:
    li = await user_id_of(db, "vol.li")
    ticket_id, _ = await _sos(db, T0)

    async def press(at: datetime) -> list[Notification]:
        async with db.write() as conn:
            outcome = await store_batch(
                conn, [wristband_event(SUN, "wristband.sos", received_at=at)], [], at
            )
        assert outcome.tickets_opened == []  # the same alert, the same ticket
        return [n for n in outcome.notifications if n.kind == "ticket.alert_repeated"]

    [again] = await press(T0 + timedelta(seconds=30))
    assert again.ticket_id == ticket_id and again.recipients.user_ids == (li,)
    assert again.bodies["en"] == "the alarm came again"
    assert await press(T0 + timedelta(seconds=32)) == []  # 2 s later: a watch resending
    assert (await _actions(db, ticket_id)).count("alert_repeated") == 1
