"""Signs of life of residents, from what their devices report.

* a door pass with a card or person number registered to them;
* their household's lock opened from inside or outside;
* their wristband's step counter moving (a restart at midnight also counts
  once it moves again).

The welfare check for elderly residents living alone watches these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeviceEvent
from hub.devices.models import DeviceContext
from hub.schema.residents import access_credentials, resident_activity, residents
from hub.storage.upsert import upsert_many

_DOOR_KINDS = frozenset({"door.access_granted"})
_LOCK_KINDS = frozenset({"lock.unlocked"})


@dataclass(frozen=True)
class SignOfLife:
    resident_id: int
    at: datetime
    source: str  # door | lock | movement


async def _credential_owners(
    conn: AsyncConnection, events: Sequence[DeviceEvent]
) -> dict[tuple[str, str], int]:
    wanted = {
        (kind, str(e.values[kind]))
        for e in events
        if e.kind in _DOOR_KINDS
        for kind in ("card_no", "employee_no")
        if e.values.get(kind) not in (None, "")
    }
    if not wanted:
        return {}
    rows = await conn.execute(
        sa.select(access_credentials).where(
            access_credentials.c.value.in_(sorted({v for _, v in wanted}))
        )
    )
    return {(r.kind, r.value): int(r.resident_id) for r in rows if (r.kind, r.value) in wanted}


async def _household_members(
    conn: AsyncConnection, household_ids: set[int]
) -> dict[int, list[int]]:
    if not household_ids:
        return {}
    rows = await conn.execute(
        sa.select(residents.c.id, residents.c.household_id).where(
            residents.c.household_id.in_(sorted(household_ids))
        )
    )
    members: dict[int, list[int]] = {}
    for r in rows:
        members.setdefault(int(r.household_id), []).append(int(r.id))
    return members


async def _activity_rows(
    conn: AsyncConnection, resident_ids: set[int]
) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    ids = sorted(resident_ids)
    for start in range(0, len(ids), 500):
        rows = await conn.execute(
            sa.select(resident_activity).where(
                resident_activity.c.resident_id.in_(ids[start : start + 500])
            )
        )
        found.update({int(r.resident_id): dict(r._mapping) for r in rows})
    return found


def _steps(event: DeviceEvent) -> int | None:
    steps = event.values.get("steps")
    return steps if isinstance(steps, int) and not isinstance(steps, bool) else None


async def record_signs_of_life(
    conn: AsyncConnection, events: Sequence[DeviceEvent], contexts: dict[str, DeviceContext]
) -> list[SignOfLife]:
    """Update each resident's last activity from a batch; returns the signs found.

    Reads and writes each resident's row once per batch, whatever the number of
    events: step counts come with every wristband heartbeat.
    """
    owners = await _credential_owners(conn, events)
    lock_households = {
        ctx.household_id
        for e in events
        if e.kind in _LOCK_KINDS
        and (ctx := contexts.get(e.device_id)) is not None
        and ctx.household_id is not None
    }
    members = await _household_members(conn, lock_households)
    counters = {
        ctx.resident_id
        for e in events
        if _steps(e) is not None
        and (ctx := contexts.get(e.device_id)) is not None
        and ctx.resident_id is not None
    }
    signs: list[SignOfLife] = []
    for event in sorted(events, key=lambda e: e.received_at):
        at = event.received_at
        if event.kind in _DOOR_KINDS:
            for kind in ("card_no", "employee_no"):
                owner = owners.get((kind, str(event.values.get(kind))))
                if owner is not None:
                    signs.append(SignOfLife(owner, at, "door"))
                    break
        elif event.kind in _LOCK_KINDS:
            ctx = contexts.get(event.device_id)
            if ctx is not None and ctx.household_id is not None:
                signs += [SignOfLife(r, at, "lock") for r in members.get(ctx.household_id, [])]
    rows = await _activity_rows(conn, counters | {s.resident_id for s in signs})
    changed: set[int] = set()

    def row_of(resident_id: int) -> dict[str, Any]:
        return rows.setdefault(
            resident_id,
            {
                "resident_id": resident_id,
                "last_door_at": None,
                "last_movement_at": None,
                "last_steps": None,
                "last_steps_device": None,
            },
        )

    for event in sorted(events, key=lambda e: e.received_at):
        steps = _steps(event)
        ctx = contexts.get(event.device_id)
        if steps is None or ctx is None or ctx.resident_id is None:
            continue
        row = row_of(ctx.resident_id)
        previous = row["last_steps"] if row["last_steps_device"] == event.device_id else None
        # The first count seen is a baseline; a lower one is the daily reset and
        # counts once it is above zero again.
        if previous is not None and steps != previous and steps > 0:
            signs.append(SignOfLife(ctx.resident_id, event.received_at, "movement"))
        if (row["last_steps"], row["last_steps_device"]) != (steps, event.device_id):
            row["last_steps"], row["last_steps_device"] = steps, event.device_id
            changed.add(ctx.resident_id)
    for sign in signs:
        column = "last_movement_at" if sign.source == "movement" else "last_door_at"
        row = row_of(sign.resident_id)
        if row[column] is None or row[column] < sign.at:
            row[column] = sign.at
            changed.add(sign.resident_id)
    await upsert_many(conn, resident_activity, [rows[r] for r in sorted(changed)], ["resident_id"])
    return signs


async def last_sign_of_life(conn: AsyncConnection, resident_id: int) -> datetime | None:
    row = (
        await conn.execute(
            sa.select(resident_activity.c.last_door_at, resident_activity.c.last_movement_at).where(
                resident_activity.c.resident_id == resident_id
            )
        )
    ).first()
    if row is None:
        return None
    seen = [t for t in (row.last_door_at, row.last_movement_at) if t is not None]
    return max(seen) if seen else None
