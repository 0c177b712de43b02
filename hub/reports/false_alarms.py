"""False-alarm rates: of the alarms whose tickets were resolved in a period, how many
were false alarms or pressed by mistake, per device and per resident.

A device or a wearer that cries wolf wears out the volunteers who answer it; the
rate tells staff which wristband to check or whom to show the button again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.access.scope import property_ticket_category
from hub.reports.bulletin import rate
from hub.reports.models import FalseAlarmRow, FalseAlarms
from hub.schema.alerts import alerts
from hub.schema.devices import devices
from hub.schema.grid import grids
from hub.schema.residents import residents
from hub.schema.tickets import tickets
from hub.tickets.models import FALSE_DISPOSITIONS, Disposition


@dataclass(frozen=True)
class Disposed:
    disposition: str
    device_id: str
    device_name: str
    resident_id: int | None
    resident_name: str | None

    @property
    def false(self) -> bool:
        return self.disposition in FALSE_DISPOSITIONS


async def load_disposed(
    conn: AsyncConnection,
    community_id: int,
    start: datetime,
    end: datetime,
    *,
    property_only: bool = False,
) -> list[Disposed]:
    """The community's alarm tickets disposed in [start, end), with device and wearer."""
    in_community = sa.or_(
        tickets.c.community_id == community_id,
        sa.and_(
            tickets.c.community_id.is_(None),
            tickets.c.grid_id.in_(
                sa.select(grids.c.id).where(grids.c.community_id == community_id)
            ),
        ),
    )
    only = (property_ticket_category(tickets.c.category),) if property_only else ()
    resident_id = sa.func.coalesce(tickets.c.resident_id, alerts.c.resident_id)
    rows = await conn.execute(
        sa.select(
            tickets.c.disposition,
            alerts.c.device_id,
            devices.c.name.label("device_name"),
            residents.c.id.label("resident_id"),
            residents.c.full_name.label("resident_name"),
        )
        .select_from(
            tickets.join(alerts, alerts.c.id == tickets.c.alert_id)
            .join(devices, devices.c.id == alerts.c.device_id)
            .outerjoin(residents, residents.c.id == resident_id)
        )
        .where(
            in_community,
            tickets.c.disposition.is_not(None),
            tickets.c.disposed_at >= start,
            tickets.c.disposed_at < end,
            *only,
        )
        .order_by(tickets.c.id)
    )
    return [
        Disposed(r.disposition, r.device_id, r.device_name, r.resident_id, r.resident_name)
        for r in rows
    ]


def _rows(keyed: Iterable[tuple[str, str, bool]]) -> list[FalseAlarmRow]:
    names: dict[str, str] = {}
    disposed: Counter[str] = Counter()
    false: Counter[str] = Counter()
    for key, name, is_false in keyed:
        names[key] = name
        disposed[key] += 1
        false[key] += is_false
    rows = [
        FalseAlarmRow(
            id=key,
            name=names[key],
            false_alarms=false[key],
            disposed=disposed[key],
            rate=false[key] / disposed[key],
        )
        for key in disposed
    ]
    rows.sort(key=lambda r: (-(r.rate or 0), -r.false_alarms, r.name, r.id))
    return rows


def false_alarms(disposed: list[Disposed]) -> FalseAlarms:
    """The period's figures (``disposed``: its alarm tickets, :func:`load_disposed`)."""
    counts = Counter(d.disposition for d in disposed)
    return FalseAlarms(
        total=rate(sum(1 for d in disposed if d.false), len(disposed)),
        by_disposition={d.value: counts[d.value] for d in Disposition if counts[d.value]},
        by_device=_rows((d.device_id, d.device_name, d.false) for d in disposed),
        by_resident=_rows(
            (str(d.resident_id), d.resident_name or "", d.false)
            for d in disposed
            if d.resident_id is not None
        ),
    )
