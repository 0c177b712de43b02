"""Repeats of active alerts within one ingest batch, counted in memory, written once.

A device in trouble keeps saying so: a charger reports its fault with every
status frame, a lock its low battery with every heartbeat. Each such event is a
repeat of the alert already active, and counting it cost a SELECT and an
UPDATE per event: most of the statements of a telemetry batch, measured. Here
the first repeat of an alert in a batch finds it, later ones only count, and
``flush`` writes each alert's count and latest time once, before the batch's
transaction commits. The batch holds its devices' row locks meanwhile, so no
other hub counts on the same alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.schema.alerts import alerts


@dataclass
class _Counted:
    repeats: int
    latest: datetime


@dataclass
class AlertRepeats:
    # (device, kind) → the alert active for it, as found or opened in this batch.
    _active: dict[tuple[str, str], int] = field(default_factory=dict)
    _counted: dict[int, _Counted] = field(default_factory=dict)

    def active(self, device_id: str, kind: str) -> int | None:
        return self._active.get((device_id, kind))

    def remember(self, device_id: str, kind: str, alert_id: int) -> None:
        self._active[(device_id, kind)] = alert_id

    def forget(self, device_id: str, kind: str) -> None:
        """The alert was cleared: the next trouble opens a new one."""
        self._active.pop((device_id, kind), None)

    def count(self, alert_id: int, at: datetime) -> None:
        counted = self._counted.get(alert_id)
        if counted is None:
            self._counted[alert_id] = _Counted(1, at)
        else:
            counted.repeats += 1
            counted.latest = max(counted.latest, at)

    async def flush(self, conn: AsyncConnection) -> None:
        """Write every alert's repeats in one statement; the count starts again."""
        if not self._counted:
            return
        latest = sa.bindparam("latest", type_=alerts.c.last_event_at.type)
        await conn.execute(
            alerts.update()
            .where(alerts.c.id == sa.bindparam("alert_id"))
            .values(
                event_count=alerts.c.event_count + sa.bindparam("repeats"),
                # Never back in time: a later repeat may already be written.
                last_event_at=sa.case(
                    (alerts.c.last_event_at < latest, latest), else_=alerts.c.last_event_at
                ),
            ),
            [
                {"alert_id": alert_id, "repeats": c.repeats, "latest": c.latest}
                for alert_id, c in sorted(self._counted.items())
            ],
        )
        self._counted.clear()
