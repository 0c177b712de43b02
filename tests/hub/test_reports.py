"""The daily digest and the weekly bulletin: time windows in the community's zone,
the figures from alerts, tickets, their audit trail and points, and the HTML pages."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from api.routes.pages import stylesheet
from hub.cli import build_parser, main
from hub.reports.charts import Series, bar_chart, nice_ticks
from hub.reports.facts import LogStep, TicketFact, overdue_as_of
from hub.reports.periods import (
    BadReportInput,
    day_period,
    parse_date,
    parse_week,
    week_period,
    weeks_in_year,
)
from hub.reports.render import duration, render_daily, render_weekly
from hub.reports.service import CommunityNotFound, build_daily, build_weekly
from hub.schema.alerts import alerts
from hub.schema.grid import communities, grids
from hub.schema.points import points_ledger
from hub.schema.tickets import ticket_log, tickets
from hub.schema.users import users
from hub.storage.db import Database
from hub.users.models import Role
from hub.users.service import create_user
from tests.support.hubdata import open_seeded_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
# 2026-W45: Monday 2 November to Sunday 8 November 2026, well in the past for the API tests.
MONDAY = date(2026, 11, 2)
WEEK = "2026-W45"
AFTER = datetime(2026, 12, 1, tzinfo=UTC)  # "now" for reports about a finished period
TRICKY_TITLE = 'Duress at the <gate> & "north" door'


def at(day_offset: int, hour: int, minute: int = 0, tz: ZoneInfo = SHANGHAI) -> datetime:
    """A local wall-clock time relative to MONDAY, as an aware datetime."""
    day = MONDAY + timedelta(days=day_offset)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


# --- The scenario: one community (the seeded demo, UTC+8) and a neighbour.


@dataclass(frozen=True)
class Scenario:
    community_id: int
    other_community_id: int
    grid1: int
    grid2: int
    tickets: dict[str, int]


async def _user_id(conn: AsyncConnection, username: str) -> int:
    return int(
        (await conn.execute(sa.select(users.c.id).where(users.c.username == username))).scalar_one()
    )


async def _alert(
    conn: AsyncConnection,
    kind: str,
    severity: str,
    opened_at: datetime,
    grid_id: int,
    *,
    silent: bool = False,
) -> None:
    await conn.execute(
        alerts.insert().values(
            device_id=f"test:{kind}:{opened_at.isoformat()}:{grid_id}",
            kind=kind,
            severity=severity,
            status="cleared",
            opened_at=opened_at,
            last_event_at=opened_at,
            event_count=1,
            cleared_at=opened_at + timedelta(minutes=30),
            summary=kind,
            grid_id=grid_id,
            silent=silent,
        )
    )


async def _ticket(
    conn: AsyncConnection,
    *,
    title: str,
    community_id: int,
    grid_id: int,
    assignee: int | None,
    created: datetime,
    respond_in: timedelta,
    resolve_in: timedelta,
    steps: list[tuple[str, str, datetime]],  # (action, to_status, at) after registration
    level: str = "grid",
    confidential: bool = False,
    closed_at_column: bool = True,
    rating: int | None = None,
    resolve_overdue_at: datetime | None = None,
) -> int:
    status = steps[-1][1] if steps else "registered"
    closed = next((t for _, s, t in steps if s == "closed"), None)
    result = await conn.execute(
        tickets.insert().values(
            title=title,
            category="elderly_care",
            status=status,
            priority="urgent",
            source="device_alert",
            community_id=community_id,
            grid_id=grid_id,
            assignee_id=assignee,
            created_at=created,
            updated_at=steps[-1][2] if steps else created,
            response_due_at=created + respond_in,
            resolve_due_at=created + resolve_in,
            level=level,
            confidential=confidential,
            closed_at=closed if closed_at_column else None,
            rating=rating,
            resolve_overdue_at=resolve_overdue_at,
        )
    )
    assert result.inserted_primary_key is not None
    ticket_id = int(result.inserted_primary_key[0])
    previous = None
    for action, to_status, when in [("registered", "registered", created), *steps]:
        await conn.execute(
            ticket_log.insert().values(
                ticket_id=ticket_id,
                at=when,
                action=action,
                from_status=previous,
                to_status=to_status,
            )
        )
        previous = to_status
    return ticket_id


def _worked(
    dispatched: datetime,
    accepted: datetime | None = None,
    started: datetime | None = None,
    resolved: datetime | None = None,
    closed: datetime | None = None,
) -> list[tuple[str, str, datetime]]:
    steps = [("dispatch", "dispatched", dispatched)]
    if accepted:
        steps.append(("accept", "accepted", accepted))
    if started:
        steps.append(("start", "in_progress", started))
    if resolved:
        steps.append(("resolve", "resolved", resolved))
        steps.append(("verify", "verified", resolved + timedelta(minutes=10)))
    if closed:
        steps.append(("close", "closed", closed))
    return steps


async def build_scenario(db: Database) -> Scenario:
    """Alerts, tickets, their audit trail and points around 2026-W45 in the demo community.

    The figures each test expects are worked out next to each row.
    """
    async with db.write() as conn:
        community_id, street_id = (
            await conn.execute(sa.select(communities.c.id, communities.c.street_id))
        ).one()
        g1, g2 = (
            await conn.execute(
                sa.select(grids.c.id)
                .where(grids.c.community_id == community_id)
                .order_by(grids.c.id)
            )
        ).scalars()
        other = int(
            (
                await conn.execute(
                    communities.insert().values(
                        street_id=street_id,
                        name="Harbour View (海景社区)",
                        timezone="Asia/Shanghai",
                    )
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        other_grid = int(
            (
                await conn.execute(grids.insert().values(community_id=other, name="Harbour Grid"))
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        li, chen, wang, zhao = [
            await _user_id(conn, u) for u in ("vol.li", "vol.chen", "vol.wang", "vol.zhao")
        ]
        outsider = await create_user(
            conn,
            username="vol.harbour",
            password="x" * 12,
            full_name="Harbour Volunteer",
            role=Role.VOLUNTEER,
            community_id=other,
        )
        await create_user(
            conn,
            username="staff.harbour",
            password="demo-pass-2026",
            full_name="Harbour Staff",
            role=Role.COMMUNITY_STAFF,
            community_id=other,
        )

        # Alerts. Monday 07:00 in Shanghai is Sunday 23:00 UTC: it is Monday's.
        await _alert(conn, "wristband.sos", "critical", at(0, 7), g1)
        await _alert(conn, "wristband.sos", "critical", at(0, 23, 30), g2)
        await _alert(conn, "wristband.fall", "critical", at(0, 10, 15), g1)
        await _alert(conn, "device.low_battery", "low", at(0, 10, 40), g2)
        await _alert(conn, "door.duress", "critical", at(0, 12), g1, silent=True)
        await _alert(conn, "wristband.sos", "critical", at(-1, 23, 59), g1)  # Sunday before
        await _alert(conn, "wristband.sos", "critical", at(1, 0, 30), g1)  # Tuesday, Mon in UTC
        await _alert(conn, "device.low_battery", "low", at(2, 9), g2)  # Wednesday
        await _alert(conn, "wristband.sos", "critical", at(6, 23), g2)  # Sunday, last day
        await _alert(conn, "wristband.sos", "critical", at(7, 0, 10), g2)  # next Monday
        await _alert(conn, "wristband.sos", "critical", at(0, 10), other_grid)  # elsewhere

        minutes = timedelta(minutes=1)
        ids: dict[str, int] = {}
        # T1: Monday, accepted in 3 min, closed in 54 min: on time.
        ids["T1"] = await _ticket(
            conn,
            title="SOS: 孙丽华",
            community_id=community_id,
            grid_id=g1,
            assignee=li,
            created=at(0, 7, 1),
            respond_in=5 * minutes,
            resolve_in=60 * minutes,
            steps=_worked(at(0, 7, 1), at(0, 7, 4), at(0, 7, 10), at(0, 7, 40), at(0, 7, 55)),
        )
        # T2: Monday; accepted 9 min late, closed 60 min late; closed_at left NULL (log only).
        ids["T2"] = await _ticket(
            conn,
            title="Fall: 吴美芳",
            community_id=community_id,
            grid_id=g2,
            assignee=wang,
            created=at(0, 10, 16),
            respond_in=5 * minutes,
            resolve_in=60 * minutes,
            steps=_worked(at(0, 10, 16), at(0, 10, 30), at(0, 10, 35), at(0, 12), at(0, 12, 16)),
            closed_at_column=False,
        )
        # T3: Monday, confidential, raised to the community, never accepted.
        ids["T3"] = await _ticket(
            conn,
            title=TRICKY_TITLE,
            community_id=community_id,
            grid_id=g1,
            assignee=chen,
            created=at(0, 12, 1),
            respond_in=5 * minutes,
            resolve_in=60 * minutes,
            steps=_worked(at(0, 12, 1)),
            level="community",
            confidential=True,
        )
        # T4: the Sunday before; due Monday 20:00; in progress all Monday, closed Thursday.
        ids["T4"] = await _ticket(
            conn,
            title="Wristband removed: 周国强",
            community_id=community_id,
            grid_id=g2,
            assignee=wang,
            created=at(-1, 20),
            respond_in=5 * minutes,
            resolve_in=timedelta(hours=24),
            steps=_worked(at(-1, 20), at(-1, 20, 3), at(-1, 20, 30), at(3, 10), at(3, 11)),
            level="community",
            resolve_overdue_at=at(0, 20),
        )
        # T5: opened and closed the Saturday before; rated (3) on Tuesday.
        t5_steps = _worked(at(-2, 9), at(-2, 9, 2), at(-2, 9, 5), at(-2, 9, 30), at(-2, 10))
        ids["T5"] = await _ticket(
            conn,
            title="Gate offline",
            community_id=community_id,
            grid_id=g1,
            assignee=li,
            created=at(-2, 9),
            respond_in=5 * minutes,
            resolve_in=60 * minutes,
            steps=[*t5_steps, ("rate", "rated", at(1, 9))],
            rating=3,
        )
        # T6: Monday 23:50; dispatched Tuesday 08:00; closed Wednesday 10:00; rated 5.
        t6_steps = _worked(at(1, 8), at(1, 8, 10), at(1, 8, 20), at(1, 9), at(2, 10))
        ids["T6"] = await _ticket(
            conn,
            title="Low battery: lock 1-101",
            community_id=community_id,
            grid_id=g1,
            assignee=li,
            created=at(0, 23, 50),
            respond_in=15 * minutes,
            resolve_in=60 * minutes,
            steps=[*t6_steps, ("rate", "rated", at(2, 12))],
            rating=5,
        )
        # T7: Tuesday 00:30 (Monday in UTC); accepted in time, still in progress.
        ids["T7"] = await _ticket(
            conn,
            title="SOS: 郑建国",
            community_id=community_id,
            grid_id=g2,
            assignee=wang,
            created=at(1, 0, 30),
            respond_in=5 * minutes,
            resolve_in=timedelta(hours=24),
            steps=_worked(at(1, 0, 30), at(1, 0, 33), at(1, 1)),
        )
        # Another community's ticket, Monday: in neither report.
        ids["other"] = await _ticket(
            conn,
            title="SOS elsewhere",
            community_id=other,
            grid_id=other_grid,
            assignee=outsider,
            created=at(0, 10),
            respond_in=5 * minutes,
            resolve_in=60 * minutes,
            steps=_worked(at(0, 10)),
        )

        for user_id, ticket, points, reason, when in (
            (li, ids["T1"], 10, "closure", at(0, 7, 55)),
            (li, ids["T6"], 10, "closure", at(2, 10)),
            (li, ids["T6"], 2, "rating", at(2, 12)),
            (wang, ids["T2"], 10, "closure", at(0, 12, 16)),
            (wang, ids["T4"], 10, "closure", at(3, 11)),
            (chen, None, 5, "adjustment", at(6, 23, 30)),  # Sunday night: in the week
            (zhao, None, 7, "adjustment", at(7, 0, 30)),  # next Monday: not
            (zhao, None, 3, "adjustment", at(-1, 23)),  # Sunday before: not
            (outsider, ids["other"], 50, "closure", at(0, 11)),  # another community
        ):
            await conn.execute(
                points_ledger.insert().values(
                    user_id=user_id, ticket_id=ticket, points=points, reason=reason, at=when
                )
            )
    return Scenario(community_id, other, g1, g2, ids)


DB_FILE = "hub.sqlite3"


def prepare_template(directory: Path) -> Scenario:
    """Seed and build the scenario once, in a thread with its own event loop."""

    async def build() -> Scenario:
        database = await open_seeded_db(directory)
        try:
            return await build_scenario(database)
        finally:
            await database.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, build()).result()


def copy_database(template: Path, directory: Path) -> str:
    """A private copy of the template database for one test; returns its URL."""
    for suffix in ("", "-wal", "-shm"):
        source = template / (DB_FILE + suffix)
        if source.exists():
            shutil.copyfile(source, directory / (DB_FILE + suffix))
    return f"sqlite+aiosqlite:///{directory / DB_FILE}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Scenario]:
    directory = tmp_path_factory.mktemp("reports-template")
    return directory, prepare_template(directory)


@pytest.fixture
async def db(template: tuple[Path, Scenario], tmp_path: Path) -> AsyncIterator[Database]:
    database = Database.open(copy_database(template[0], tmp_path))
    yield database
    await database.close()


@pytest.fixture
def scenario(template: tuple[Path, Scenario]) -> Scenario:
    return template[1]


def bars(svg_or_page: str) -> list[tuple[str, str, int]]:
    """(series, category, value) of every bar drawn."""
    return [
        (series, category, int(value))
        for series, category, value in re.findall(
            r'<rect class="bar" data-series="([^"]*)" data-category="([^"]*)" '
            r'data-value="(\d+)"',
            svg_or_page,
        )
    ]


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.S)


# --- Periods.


def test_a_day_is_local_midnight_to_midnight() -> None:
    monday = day_period(MONDAY, SHANGHAI)
    assert monday.start == datetime(2026, 11, 1, 16, tzinfo=UTC)
    assert monday.end == datetime(2026, 11, 2, 16, tzinfo=UTC)
    assert monday.contains(at(0, 7)) and at(0, 7).astimezone(UTC).date() == date(2026, 11, 1)
    assert not monday.contains(at(1, 0, 30))


def test_a_day_across_the_end_of_daylight_saving_has_25_hours() -> None:
    # New York leaves summer time on Sunday 1 November 2026.
    sunday = day_period(date(2026, 11, 1), NEW_YORK)
    assert sunday.end - sunday.start == timedelta(hours=25)
    assert day_period(date(2026, 3, 8), NEW_YORK).end - day_period(
        date(2026, 3, 8), NEW_YORK
    ).start == timedelta(hours=23)


def test_a_week_is_iso_monday_to_monday() -> None:
    week = week_period(*parse_week(WEEK), SHANGHAI)
    assert week.days[0] == MONDAY and week.days[-1] == date(2026, 11, 8)
    assert week.start == datetime(2026, 11, 1, 16, tzinfo=UTC)
    assert week.end == datetime(2026, 11, 8, 16, tzinfo=UTC)
    assert week.day_index(at(6, 23)) == 6 and week.day_index(at(7, 0, 10)) is None
    # ISO week 1 of 2027 begins on Monday 4 January 2027; 2026 has 53 weeks.
    assert week_period(2027, 1, SHANGHAI).days[0] == date(2027, 1, 4)
    assert weeks_in_year(2026) == 53 and weeks_in_year(2025) == 52


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-13-01", "not a calendar date"),
        ("2026-02-30", "not a calendar date"),
        ("16/11/2026", "YYYY-MM-DD"),
        ("yesterday", "YYYY-MM-DD"),
        ("", "YYYY-MM-DD"),
    ],
)
def test_bad_dates_say_what_is_wrong(text: str, expected: str) -> None:
    with pytest.raises(BadReportInput) as caught:
        parse_date(text)
    assert caught.value.field == "date" and expected in caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-47", "ISO week like 2026-W47"),
        ("2026-W7", "ISO week like 2026-W47"),
        ("2026-W00", "W01 to W53"),
        ("2025-W53", "W01 to W52"),
        ("2026-W54", "W01 to W53"),
    ],
)
def test_bad_weeks_say_what_is_wrong(text: str, expected: str) -> None:
    with pytest.raises(BadReportInput) as caught:
        parse_week(text)
    assert caught.value.field == "week" and expected in caught.value.message


def test_good_dates_and_weeks() -> None:
    assert parse_date("2026-11-02") == MONDAY
    assert parse_week("2026-W45") == (2026, 45) and parse_week("2026-w53") == (2026, 53)


# --- What a ticket's trail says (pure).


def _fact(**overrides: object) -> TicketFact:
    created = at(0, 9)
    values: dict[str, object] = dict(
        id=1,
        title="t",
        category="c",
        status="dispatched",
        level="grid",
        confidential=False,
        grid_id=None,
        grid_name=None,
        assignee_id=None,
        assignee_name=None,
        created_at=created,
        updated_at=created,
        response_due_at=created + timedelta(minutes=5),
        resolve_due_at=created + timedelta(hours=1),
        response_overdue_at=None,
        resolve_overdue_at=None,
        closed_at_column=None,
        rating=None,
        log=(
            LogStep(created, "registered", "registered"),
            LogStep(created, "dispatch", "dispatched"),
        ),
    )
    values.update(overrides)
    return TicketFact(**values)  # type: ignore[arg-type]


def test_overdue_is_judged_as_of_a_moment() -> None:
    ticket = _fact()
    assert overdue_as_of(ticket, at(0, 9, 4)) is None
    late = overdue_as_of(ticket, at(0, 9, 30))
    assert late is not None and late.resolve is None
    assert late.response is not None and late.response.ongoing
    assert late.response.late_by == timedelta(minutes=25)
    assert overdue_as_of(ticket, at(0, 8)) is None  # not yet registered


def test_a_timer_flag_counts_even_before_the_clock_says_so() -> None:
    flagged = _fact(response_overdue_at=at(0, 9, 4))
    late = overdue_as_of(flagged, at(0, 9, 4))
    assert late is not None and late.response is not None and late.response.ongoing


def test_state_at_follows_the_audit_trail() -> None:
    created = at(0, 9)
    ticket = _fact(
        status="closed",
        log=(
            LogStep(created, "registered", "registered"),
            LogStep(created, "dispatch", "dispatched"),
            LogStep(at(0, 10), "accept", "accepted"),
            LogStep(at(0, 11), "close", "closed"),
        ),
    )
    assert ticket.state_at(at(0, 9, 30)) == "dispatched"
    assert ticket.state_at(at(0, 10, 30)) == "accepted"
    assert ticket.state_at(at(0, 12)) == "closed"
    assert ticket.closed_at == at(0, 11) and ticket.accepted_at == at(0, 10)


# --- The daily digest.


async def test_daily_digest_counts_by_local_day(db: Database, scenario: Scenario) -> None:
    async with db.read() as conn:
        report = await build_daily(conn, scenario.community_id, MONDAY, AFTER)
    assert report.window.start == datetime(2026, 11, 1, 16, tzinfo=UTC)
    assert not report.window.partial and report.window.as_of == report.window.end
    # Five alerts on Monday in Shanghai (one of them on Sunday by the UTC calendar);
    # Sunday 23:59, Tuesday 00:30 and the neighbour's are left out.
    assert report.alerts_total == 5 and report.alerts_silent == 1
    assert [(r.kind, r.severity, r.count, r.silent) for r in report.alerts_by_kind] == [
        ("wristband.sos", "critical", 2, 0),
        ("door.duress", "critical", 1, 1),
        ("wristband.fall", "critical", 1, 0),
        ("device.low_battery", "low", 1, 0),
    ]
    assert [(s.severity, s.count) for s in report.alerts_by_severity] == [
        ("critical", 4),
        ("low", 1),
    ]
    by_hour = {h.hour: h.alerts_by_kind for h in report.alerts_by_hour if h.alerts_by_kind}
    assert by_hour == {
        7: {"wristband.sos": 1},
        10: {"wristband.fall": 1, "device.low_battery": 1},
        12: {"door.duress": 1},
        23: {"wristband.sos": 1},
    }

    t = scenario.tickets
    assert report.tickets_registered == 4  # T1, T2, T3, T6 (not T7: Tuesday local time)
    assert report.tickets_closed == 2  # T1, and T2 from its log (closed_at is NULL)
    assert report.time_to_close.count == 2
    assert report.time_to_close.mean_s == (54 + 120) / 2 * 60
    assert report.time_to_close.max_s == 120 * 60
    # Open at midnight: T3 dispatched, T4 in progress (closed only on Thursday), T6 registered.
    assert report.tickets_open == 3
    assert [(s.status, s.count) for s in report.open_by_state] == [
        ("registered", 1),
        ("dispatched", 1),
        ("in_progress", 1),
    ]
    assert report.confidential_tickets == 1

    overdue = {o.id: o for o in report.overdue}
    assert [o.id for o in report.overdue] == [t["T3"], t["T4"], t["T2"]]  # latest first
    t3 = overdue[t["T3"]]
    assert t3.confidential and t3.status == "dispatched" and t3.assignee_name == "陈杰"
    assert t3.grid_name == "第一网格"
    assert t3.response_ongoing and t3.response_late_s == (11 * 60 + 54) * 60
    assert t3.resolve_ongoing and t3.resolve_late_s == (10 * 60 + 59) * 60
    assert t3.late_s == (11 * 60 + 54) * 60
    t4 = overdue[t["T4"]]
    assert t4.response_late_s is None and t4.resolve_late_s == 4 * 3600 and t4.resolve_ongoing
    assert t4.status == "in_progress"
    t2 = overdue[t["T2"]]
    assert t2.response_late_s == 9 * 60 and not t2.response_ongoing
    assert t2.resolve_late_s == 60 * 60 and not t2.resolve_ongoing
    assert t2.closed_at is not None

    assert [b.id for b in report.community_level] == [t["T3"], t["T4"]]


async def test_tuesday_sees_monday_night_tickets(db: Database, scenario: Scenario) -> None:
    async with db.read() as conn:
        report = await build_daily(conn, scenario.community_id, MONDAY + timedelta(days=1), AFTER)
    assert report.alerts_total == 1  # 00:30 local, Monday 16:30 UTC
    assert report.tickets_registered == 1  # T7
    # T6 (Monday 23:50) closes only on Wednesday; nothing closes on Tuesday.
    assert report.tickets_closed == 0 and report.time_to_close.mean_s is None
    # At midnight T6 (resolved, not yet closed) is late on both deadlines; T7 is due
    # at 00:30 on Wednesday, so not late yet.
    overdue = {o.id for o in report.overdue}
    t = scenario.tickets
    assert overdue == {t["T3"], t["T4"], t["T6"]}


async def test_a_day_not_over_yet_is_reported_so_far(db: Database, scenario: Scenario) -> None:
    now = at(0, 11).astimezone(UTC)
    async with db.read() as conn:
        report = await build_daily(conn, scenario.community_id, MONDAY, now)
    assert report.window.partial and report.window.as_of == now
    assert report.alerts_total == 3  # 07:00, 10:15, 10:40
    assert report.tickets_registered == 2 and report.tickets_closed == 1
    # By 11:00 T2 had been accepted, 9 min late; T4 is not due until 20:00.
    assert [(o.id, o.response_late_s, o.resolve_late_s) for o in report.overdue] == [
        (scenario.tickets["T2"], 9 * 60, None)
    ]


async def test_the_digest_windows_by_the_communitys_own_zone(db: Database) -> None:
    """In New York, Monday 23:30 is Tuesday 04:30 UTC, yet it is Monday's alert."""
    async with db.write() as conn:
        street = (await conn.execute(sa.select(communities.c.street_id))).scalars().first()
        ny = (
            await conn.execute(
                communities.insert().values(
                    street_id=street, name="Hudson Yards", timezone="America/New_York"
                )
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        grid = (
            await conn.execute(grids.insert().values(community_id=ny, name="Hudson 1"))
        ).inserted_primary_key[0]  # type: ignore[index]
        await _alert(conn, "wristband.sos", "critical", at(0, 23, 30, NEW_YORK), grid)
        await _alert(conn, "wristband.fall", "critical", at(0, 0, 30, NEW_YORK), grid)
        await _alert(conn, "wristband.sos", "critical", at(-1, 23, 30, NEW_YORK), grid)
        await _alert(conn, "wristband.sos", "critical", at(1, 0, 0, NEW_YORK), grid)
    assert at(0, 23, 30, NEW_YORK).astimezone(UTC).date() == MONDAY + timedelta(days=1)
    async with db.read() as conn:
        monday = await build_daily(conn, ny, MONDAY, AFTER)
        week = await build_weekly(conn, ny, parse_week(WEEK), AFTER)
    assert monday.window.timezone == "America/New_York"
    assert monday.alerts_total == 2
    assert {h.hour for h in monday.alerts_by_hour if h.alerts_by_kind} == {0, 23}
    assert [d.alerts_total for d in week.days] == [2, 1, 0, 0, 0, 0, 0]


async def test_unknown_community_and_future_dates(db: Database) -> None:
    async with db.read() as conn:
        with pytest.raises(CommunityNotFound):
            await build_daily(conn, 999, MONDAY, AFTER)
        with pytest.raises(BadReportInput) as caught:
            await build_daily(conn, 1, date(2027, 1, 1), AFTER)
        assert caught.value.field == "date" and "has not begun" in caught.value.message
        with pytest.raises(BadReportInput):
            await build_weekly(conn, 1, (2026, 50), AFTER)


# --- The weekly bulletin.


async def test_weekly_bulletin(db: Database, scenario: Scenario) -> None:
    async with db.read() as conn:
        report = await build_weekly(conn, scenario.community_id, parse_week(WEEK), AFTER)
    assert report.window.label == WEEK and report.window.first_day == MONDAY
    assert [d.day for d in report.days] == [MONDAY + timedelta(days=n) for n in range(7)]
    assert [d.alerts_total for d in report.days] == [5, 1, 1, 0, 0, 0, 1]
    assert report.days[0].alerts_by_kind == {
        "wristband.sos": 2,
        "wristband.fall": 1,
        "device.low_battery": 1,
        "door.duress": 1,
    }
    assert report.days[0].alerts_silent == 1 and report.alerts_silent == 1
    assert report.alert_kinds == [
        "wristband.sos",
        "device.low_battery",
        "door.duress",
        "wristband.fall",
    ]
    assert report.alerts_total == 8 and report.silent_kinds == ["door.duress"]

    assert [d.tickets_opened for d in report.days] == [4, 1, 0, 0, 0, 0, 0]
    assert [d.tickets_closed for d in report.days] == [2, 0, 1, 1, 0, 0, 0]
    assert report.tickets_opened == 5 and report.tickets_closed == 4
    assert report.confidential_tickets == 1
    # Of the five opened (T1 T2 T3 T6 T7), T1 T2 T6 were closed by Sunday night.
    assert (report.closure_rate.numerator, report.closure_rate.denominator) == (3, 5)
    assert report.closure_rate.rate == 0.6
    # Of the four closed (T1 T2 T6 T4), only T1 by its resolve-by time.
    assert (report.on_time_rate.numerator, report.on_time_rate.denominator) == (1, 4)
    # Accepted this week: T1 3 min, T2 14 min, T6 8 h 20 min, T7 3 min (T4: the week before).
    assert report.time_to_accept.count == 4
    assert report.time_to_accept.mean_s == (3 + 14 + 500 + 3) / 4 * 60
    assert report.time_to_accept.max_s == 500 * 60
    # Closed: T1 54 min, T2 2 h, T6 34 h 10 min, T4 3 d 15 h (Sunday 20:00 to Thursday 11:00).
    assert report.time_to_close.count == 4
    assert report.time_to_close.mean_s == (54 + 120 + 2050 + 5220) / 4 * 60
    assert report.time_to_close.max_s == 5220 * 60

    assert report.overdue_total == 5  # T2 T3 T4 T6 T7
    assert [(g.grid_name, g.opened, g.closed, g.overdue) for g in report.grids] == [
        ("第一网格", 3, 2, 2),
        ("第二网格", 2, 2, 3),
    ]
    assert [(p.full_name, p.points, p.awards) for p in report.top_points] == [
        ("李娜", 22, 3),
        ("王芳", 20, 2),
        ("陈杰", 5, 1),
    ]
    # T5 (closed the week before, rated Tuesday) and T6 (rated Wednesday).
    assert report.rating.count == 2 and report.rating.mean == 4.0


async def test_the_weekly_bulletin_lists_at_most_ten_earners(db: Database) -> None:
    async with db.write() as conn:
        for n in range(12):
            user_id = (
                await conn.execute(
                    users.insert().values(
                        username=f"vol.extra{n}",
                        password_hash="not-a-hash: cannot log in",
                        full_name=f"Extra {n:02d}",
                        role=Role.VOLUNTEER.value,
                        community_id=1,
                        created_at=AFTER,
                    )
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            await conn.execute(
                points_ledger.insert().values(
                    user_id=user_id, points=n + 1, reason="adjustment", at=at(2, 12)
                )
            )
    async with db.read() as conn:
        report = await build_weekly(conn, 1, parse_week(WEEK), AFTER)
    # The scenario's 李娜 (22) and 王芳 (20) lead; 陈杰's 5 ties Extra 04's, which
    # comes first by name (the name's characters in order), so 陈杰 is left out, and
    # so are Extra 00 to 03 (1 to 4 points).
    assert [p.points for p in report.top_points] == [22, 20, 12, 11, 10, 9, 8, 7, 6, 5]
    assert report.top_points[-1].full_name == "Extra 04"
    assert "陈杰" not in {p.full_name for p in report.top_points}


# --- The pages.


def test_nice_ticks() -> None:
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(3) == [0, 1, 2, 3]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(47) == [0, 10, 20, 30, 40, 50]


def test_charts_draw_one_bar_per_nonzero_value_and_escape_labels() -> None:
    svg = bar_chart(
        "a <b> & c",
        ["Mon", "Tue", "<Wed>"],
        [Series("x&y", [1, 0, 2], "#000"), Series('q"', [0, 0, 3], "#111")],
        stacked=True,
        y_label="n",
    )
    assert bars(svg) == [
        ("x&amp;y", "Mon", 1),
        ("x&amp;y", "&lt;Wed&gt;", 2),
        ("q&quot;", "&lt;Wed&gt;", 3),
    ]
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert svg.count('class="legend-item"') == 2
    with pytest.raises(ValueError, match="3 categories"):
        bar_chart("t", ["a", "b", "c"], [Series("s", [1], "#000")], stacked=False, y_label="n")


def test_durations_read_well() -> None:
    assert duration(None) == "–"
    assert duration(40, "en") == "40 s"
    assert duration(12 * 60, "en") == "12 min"
    assert duration(3600 + 5 * 60, "en") == "1 h 05 min"
    assert duration(4 * 86400 + 15 * 3600, "en") == "4 d 15 h"
    assert duration(40, "zh-CN") == "40秒"
    assert duration(3600 + 5 * 60, "zh-CN") == "1小时05分"
    assert duration(4 * 86400 + 15 * 3600, "zh-CN") == "4天15小时"


def _self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert '<meta name="viewport"' in page
    lowered = page.lower()
    assert "<script" not in lowered and "src=" not in lowered and "href=" not in lowered
    assert "@import" not in lowered and "url(" not in lowered


async def test_daily_page(db: Database, scenario: Scenario) -> None:
    async with db.read() as conn:
        report = await build_daily(conn, scenario.community_id, MONDAY, AFTER)
    page = render_daily(report, stylesheet=stylesheet(), language="en")
    _self_contained(page)
    charts = svgs(page)
    assert len(charts) == 1
    # Stacked per hour: 07 sos; 10 fall + low battery; 12 duress; 23 sos.
    drawn = bars(charts[0])
    assert len(drawn) == 5 and sum(v for _, _, v in drawn) == 5
    assert {c for _, c, _ in drawn} == {"07", "10", "12", "23"}
    assert TRICKY_TITLE not in page and "Duress at the &lt;gate&gt; &amp; &#34;north&#34;" in page
    assert 'class="tag confidential"' in page and 'class="tag silent"' in page
    assert "朝阳花园社区" in page
    assert "陈杰" in page  # the assignee of a late ticket
    assert "3 open at the end of the day" in page
    # Made at AFTER, 2026-12-01 00:00 UTC: 08:00 in Shanghai.
    # The zone as people name it, not its database name.
    assert "Generated Dec 1, 2026 08:00 (China Standard Time)" in page
    assert "times in China Standard Time" in page and "Asia/Shanghai" not in page
    assert "Daily digest · 朝阳花园社区" in page
    assert "Nov 2, 2026 (Monday)" in page


async def test_daily_page_in_chinese(db: Database, scenario: Scenario) -> None:
    """The community's language by default: Chinese words, dates and times, the chart too."""
    async with db.read() as conn:
        page = render_daily(await build_daily(conn, scenario.community_id, MONDAY, AFTER))
    assert '<html lang="zh-CN"' in page
    assert "日报 · 朝阳花园社区" in page
    assert "2026年11月2日 (星期一)" in page
    assert "由社区中枢于 2026年12月1日 08:00（北京时间）生成。" in page
    assert "时间均为北京时间" in page and "Asia/Shanghai" not in page
    assert "每小时新增告警（按类型）" in page  # the chart's title
    assert "一键求助" in page and "跌倒报警" in page  # event kinds in words
    assert "3 open" not in page and "日终未结 3 件" in page


async def test_weekly_page(db: Database, scenario: Scenario) -> None:
    async with db.read() as conn:
        report = await build_weekly(conn, 1, parse_week(WEEK), AFTER)
    page = render_weekly(report, stylesheet=stylesheet(), language="en")
    chinese = render_weekly(report)
    _self_contained(page)
    alerts_chart, tickets_chart = svgs(page)
    # Alerts stacked by kind: four kinds on Monday, one on each of Tue, Wed and Sun.
    assert len(bars(alerts_chart)) == 7
    assert sum(v for _, _, v in bars(alerts_chart)) == 8
    # Opened vs closed side by side: opened Mon, Tue; closed Mon, Wed, Thu.
    assert sorted((s, c, v) for s, c, v in bars(tickets_chart)) == [
        ("closed", "Mon 2", 2),
        ("closed", "Thu 5", 1),
        ("closed", "Wed 4", 1),
        ("opened", "Mon 2", 4),
        ("opened", "Tue 3", 1),
    ]
    assert "李娜" in page and "60%" in page and "25%" in page and "4.0 / 5" in page
    assert 'door.duress<span class="tag silent">silent</span>' in page
    assert "2026-W45: Nov 2, 2026 (Mon) to Nov 8, 2026 (Sun)" in page
    assert "2026-W45：2026年11月2日（周一）至 2026年11月8日（周日）" in chinese
    assert 'door.duress<span class="tag silent">静默</span>' in chinese
    assert "志愿者积分前10名" in chinese and "每日新增与结单工单" in chinese


async def test_pages_for_an_empty_period_still_draw_axes(db: Database) -> None:
    async with db.read() as conn:
        daily = render_daily(await build_daily(conn, 1, date(2026, 1, 5), AFTER), language="en")
        weekly = render_weekly(await build_weekly(conn, 1, (2026, 2), AFTER))
    assert "nothing to show" in daily and "暂无数据" in weekly
    for page in (daily, weekly):
        assert bars(page) == []
        assert all("<line" in svg for svg in svgs(page))


# --- The command.


def test_report_command_writes_a_page(
    template: tuple[Path, Scenario], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)

    copy_database(template[0], tmp_path)
    out = tmp_path / "out" / "weekly.html"
    common = ["--community", "1", "--data-dir", str(tmp_path)]
    code = main(["report", "weekly", *common, "--week", WEEK, "--out", str(out)])
    assert code == 0
    written = out.read_text(encoding="utf-8")
    assert len(bars(written)) == 12
    _self_contained(written)  # the file carries the pages' stylesheet: it reads on its own
    assert "<style>" in written
    assert "周报 · " in written  # in the community's language (zh-CN)
    daily = tmp_path / "daily.json"
    code = main(
        [
            "report",
            "daily",
            *common,
            "--date",
            "2026-11-02",
            "--format",
            "json",
            "--out",
            str(daily),
        ]
    )
    assert code == 0
    assert '"alerts_total": 5' in daily.read_text(encoding="utf-8")


def test_report_command_refuses_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    args = build_parser().parse_args(
        ["report", "daily", "--community", "3", "--date", "2026-11-02"]
    )
    assert (args.which, args.community, args.date, args.format) == (
        "daily",
        3,
        "2026-11-02",
        "html",
    )
    for argv, message in (
        (["report", "daily", "--community", "1", "--date", "2026-02-30"], "--date"),
        (["report", "weekly", "--community", "1", "--week", "2026-47"], "--week"),
        (["report", "weekly", "--community", "1", "--date", "2026-11-02"], "takes --week"),
        (["report", "daily", "--community", "1"], "no database"),
    ):
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--data-dir", str(tmp_path / "empty")])
        assert exited.value.code == 2
        assert message in capsys.readouterr().err
