"""Reservations of a charging port by a resident, for a set time from now.

Rules (docs/reservations.md):

* only residents reserve, for themselves, a port of a charger in their own
  community that the device reports ``available`` right now;
* for ``MIN_MINUTES`` to ``MAX_MINUTES`` minutes from now;
* one active reservation per port (the database's partial unique index decides
  between two requests racing for it) and one per resident;
* it ends ``cancelled`` (by its owner), ``used`` (the port started charging while
  it was held) or ``expired`` (its time ran out). Expiry is a stored timer at
  ``ends_at`` that fires once, across restarts; reads never wait for it, they
  judge a stored active row by the clock and the port's events
  (:func:`hub.chargers.service.effective_status`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.access.scope import Scope
from hub.chargers.models import Availability, Reservation, ReservationStatus
from hub.chargers.service import effective_status, find_charger
from hub.chargers.words import port_label, reservation_label
from hub.errors import Conflict, Forbidden, NotFound
from hub.i18n.catalogs import N_
from hub.notifications.base import Notification
from hub.schema.chargers import charger_reservations
from hub.schema.devices import devices
from hub.schema.users import users
from hub.timers import service as timers
from hub.users.models import Role

TIMER_KIND = "charger_reservation"
MIN_MINUTES = 10  # shorter is not worth walking down to the pile for
MAX_MINUTES = 120  # longer would keep a shared port from everyone else for too long

_R = charger_reservations
_ACTIVE = ReservationStatus.ACTIVE.value


class ReservationError(Exception):
    """A reservation request the rules refuse; the message says why."""


class ReservationForbidden(ReservationError, Forbidden):
    """The caller's role may not reserve."""


class ReservationNotFound(ReservationError, NotFound):
    """No such charger, port or reservation for this caller."""


class ReservationConflict(ReservationError, Conflict):
    """The port or the resident is not free for this."""


def timer_key(reservation_id: int) -> str:
    return f"reservation:{reservation_id}:end"


def _query() -> sa.Select[Any]:
    return sa.select(_R, devices.c.name.label("charger_name")).select_from(
        _R.join(devices, devices.c.id == _R.c.device_id)
    )


def _public(row: Any, status: ReservationStatus, ended_at: datetime | None) -> Reservation:
    return Reservation(
        id=row.id,
        device_id=row.device_id,
        charger_name=row.charger_name,
        port=row.port,
        status=status,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_at=row.created_at,
        ended_at=ended_at,
    )


async def _settle(conn: AsyncConnection, row: Any, now: datetime) -> ReservationStatus:
    """Store what an active reservation has become by ``now`` (used, expired); returns it."""
    status, ended_at = await effective_status(conn, row, now)
    if row.status == _ACTIVE and status is not ReservationStatus.ACTIVE:
        await conn.execute(
            _R.update()
            .where(_R.c.id == row.id, _R.c.status == _ACTIVE)
            .values(status=status.value, ended_at=ended_at)
        )
        await timers.cancel(conn, timer_key(row.id), now, f"reservation {status.value}")
    return status


async def _active_rows(conn: AsyncConnection, condition: sa.ColumnElement[bool]) -> list[Any]:
    rows = await conn.execute(_query().where(_R.c.status == _ACTIVE, condition))
    return list(rows.all())


async def reserve(
    conn: AsyncConnection, user: Scope, device_id: str, port: int, minutes: int, now: datetime
) -> Reservation:
    """Hold a port for ``user`` (a resident's scope) from ``now`` for ``minutes``.

    Runs in the caller's write transaction; on a conflict the caller rolls back.
    """
    if user.role is not Role.RESIDENT:
        raise ReservationForbidden(
            N_("your role (%(role)s) may not reserve a charging port; only residents may"),
            role=user.role.value,
        )
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise ValueError(f"minutes must be between {MIN_MINUTES} and {MAX_MINUTES}")
    charger = await find_charger(conn, user, device_id)
    if charger is None:
        raise ReservationNotFound(N_("no charger %(id)s in your community"), id=repr(device_id))
    state = next((p for p in charger.ports if p.port == port), None)
    if state is None:
        raise ReservationNotFound(
            N_("charger %(id)s has no port %(port)s"), id=repr(device_id), port=port
        )

    # PostgreSQL: one reservation request per resident at a time (SQLite: ignored, and
    # the write lock plus the re-count after the insert do the same).
    await conn.execute(sa.select(users.c.id).where(users.c.id == user.user_id).with_for_update())
    # Reservations that ran out or were used but are still stored active would block both
    # rules below: bring them up to date first.
    held = await _active_rows(
        conn,
        sa.or_(
            _R.c.user_id == user.user_id, sa.and_(_R.c.device_id == device_id, _R.c.port == port)
        ),
    )
    still: list[Any] = [r for r in held if await _settle(conn, r, now) is ReservationStatus.ACTIVE]
    mine = next((r for r in still if r.user_id == user.user_id), None)
    if mine is not None:
        raise ReservationConflict(
            N_(
                "you already have an active reservation (port %(port)s of %(charger)s "
                "until %(until)s); cancel it first"
            ),
            port=mine.port,
            charger=mine.charger_name,
            until=mine.ends_at,
        )
    if still:
        raise ReservationConflict(
            N_("port %(port)s of %(charger)s is already reserved"), port=port, charger=charger.name
        )
    if state.availability is not Availability.AVAILABLE:
        raise ReservationConflict(
            N_("port %(port)s of %(charger)s is not free: %(state)s"),
            port=port,
            charger=charger.name,
            state=partial(port_label, state.availability),
        )

    ends_at = now + timedelta(minutes=minutes)
    try:
        inserted = await conn.execute(
            _R.insert().values(
                device_id=device_id,
                port=port,
                user_id=user.user_id,
                starts_at=now,
                ends_at=ends_at,
                status=_ACTIVE,
                created_at=now,
            )
        )
    except IntegrityError:
        # Another request reserved the port between our look and our insert.
        raise ReservationConflict(
            N_("port %(port)s of %(charger)s was just reserved by someone else"),
            port=port,
            charger=charger.name,
        ) from None
    assert inserted.inserted_primary_key is not None
    reservation_id = int(inserted.inserted_primary_key[0])
    count = (
        await conn.execute(
            sa.select(sa.func.count())
            .select_from(_R)
            .where(_R.c.user_id == user.user_id, _R.c.status == _ACTIVE)
        )
    ).scalar_one()
    if count > 1:  # a second request of the same resident got in first
        raise ReservationConflict(N_("you already have an active reservation; cancel it first"))
    await timers.schedule(
        conn,
        timer_key(reservation_id),
        TIMER_KIND,
        ends_at,
        {"reservation_id": reservation_id},
        now,
    )
    row = (await conn.execute(_query().where(_R.c.id == reservation_id))).one()
    return _public(row, ReservationStatus.ACTIVE, None)


async def cancel(
    conn: AsyncConnection, user: Scope, reservation_id: int, now: datetime
) -> Reservation:
    """The owner gives an active reservation up; the port is free at once."""
    row = (
        await conn.execute(_query().where(_R.c.id == reservation_id, _R.c.user_id == user.user_id))
    ).first()
    if row is None:
        raise ReservationNotFound(N_("no reservation %(id)s of yours"), id=reservation_id)
    status = await _settle(conn, row, now)
    if status is not ReservationStatus.ACTIVE:
        raise ReservationConflict(
            N_("reservation %(id)s has already ended (%(status)s)"),
            id=reservation_id,
            status=partial(reservation_label, status),
        )
    done = await conn.execute(
        _R.update()
        .where(_R.c.id == reservation_id, _R.c.status == _ACTIVE)
        .values(status=ReservationStatus.CANCELLED.value, ended_at=now)
    )
    if done.rowcount != 1:
        raise ReservationConflict(N_("reservation %(id)s is no longer active"), id=reservation_id)
    await timers.cancel(conn, timer_key(reservation_id), now, "reservation cancelled")
    return _public(row, ReservationStatus.CANCELLED, now)


async def list_mine(
    conn: AsyncConnection, user: Scope, now: datetime, *, limit: int = 50, offset: int = 0
) -> tuple[list[Reservation], int]:
    """The user's reservations: the one still active first, then the rest, newest first."""
    mine = _R.c.user_id == user.user_id
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(_R).where(mine))
    ).scalar_one()
    active_first = sa.case((sa.and_(_R.c.status == _ACTIVE, _R.c.ends_at > now), 0), else_=1)
    rows = await conn.execute(
        _query()
        .where(mine)
        .order_by(active_first, _R.c.starts_at.desc(), _R.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    items: list[Reservation] = []
    for row in rows.all():
        status, ended_at = await effective_status(conn, row, now)
        items.append(_public(row, status, ended_at))
    return items, int(total)


async def on_timer(
    conn: AsyncConnection, payload: dict[str, Any], now: datetime
) -> tuple[str, list[Notification]]:
    """The reservation's time is up: store it as expired (or used, if the port charged)."""
    reservation_id = int(payload["reservation_id"])
    row = (await conn.execute(_query().where(_R.c.id == reservation_id))).first()
    if row is None:
        return "reservation gone", []
    if row.status != _ACTIVE:
        return f"nothing to do: reservation {row.status}", []
    if row.ends_at > now:  # not due yet (a clock set back): look again at its end
        await timers.reschedule(
            conn, timer_key(reservation_id), TIMER_KIND, row.ends_at, payload, now
        )
        return f"not due until {row.ends_at.isoformat()}", []
    status = await _settle(conn, row, now)
    return f"reservation {status.value}", []
