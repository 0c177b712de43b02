"""From ingest outcomes to notifications: who hears about a new ticket or alarm.

* A ticket opened for an alarm: ``ticket.assigned`` to its assignee, or
  ``ticket.unassigned`` to the community's staff when nobody is on duty.
* A critical alarm: ``alert.opened`` to the community staff and property
  managers of that community.
* Silent (duress) kinds are flagged ``silent``; the hub keeps them from residents.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa

from device_adapters.kinds import KINDS
from device_adapters.model import Severity
from hub.alerts.tables import alerts
from hub.grid.tables import grids
from hub.ingest.flows import BatchOutcome
from hub.notifications.base import Notification, NotificationHub, Recipients, ResidentLookup
from hub.storage.db import Database
from hub.tickets.tables import tickets
from hub.users.models import Role
from hub.users.tables import users

log = logging.getLogger(__name__)

_SUPERVISORS = (Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER)


def residents_in(db: Database) -> ResidentLookup:
    """A lookup of which user ids are resident accounts, for the hub's silent-alarm guard."""

    async def lookup(user_ids: Sequence[int]) -> set[int]:
        async with db.read() as conn:
            rows = await conn.execute(
                sa.select(users.c.id).where(
                    users.c.id.in_(list(user_ids)), users.c.role == Role.RESIDENT.value
                )
            )
            return {int(row.id) for row in rows}

    return lookup


def _silent(kind: str) -> bool:
    info = KINDS.get(kind)
    return info.silent if info is not None else False


class TicketNotifications:
    """An ingest listener (``IngestWorker.add_listener``) that publishes through the hub."""

    def __init__(self, db: Database, hub: NotificationHub) -> None:
        self._db = db
        self._hub = hub

    async def __call__(self, outcome: BatchOutcome) -> None:
        for notification in await self.notifications_for(outcome):
            self._hub.submit(notification)

    async def notifications_for(self, outcome: BatchOutcome) -> list[Notification]:
        if not outcome.tickets_opened and not outcome.alerts_opened:
            return []
        alert_ids = set(outcome.alerts_opened) | {t.alert_id for t in outcome.tickets_opened}
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        alerts.c.id,
                        alerts.c.kind,
                        alerts.c.severity,
                        alerts.c.summary,
                        grids.c.community_id,
                    )
                    .select_from(alerts.outerjoin(grids, grids.c.id == alerts.c.grid_id))
                    .where(alerts.c.id.in_(sorted(alert_ids)))
                )
            ).all()
            ticket_rows = (
                await conn.execute(
                    sa.select(tickets.c.id, tickets.c.community_id).where(
                        tickets.c.id.in_([t.ticket_id for t in outcome.tickets_opened])
                    )
                )
            ).all()
        alert_info = {int(r.id): r for r in rows}
        ticket_community = {int(r.id): r.community_id for r in ticket_rows}

        out: list[Notification] = []
        ticket_of_alert: dict[int, int] = {}
        for t in outcome.tickets_opened:
            ticket_of_alert[t.alert_id] = t.ticket_id
            row = alert_info.get(t.alert_id)
            severity = Severity(row.severity) if row is not None else KINDS[t.kind].severity
            community = ticket_community.get(t.ticket_id)
            if t.assignee_id is not None:
                kind, recipients = "ticket.assigned", Recipients(user_ids=(t.assignee_id,))
            elif community is not None:
                kind = "ticket.unassigned"
                recipients = Recipients(roles=(Role.COMMUNITY_STAFF,), community_id=community)
            else:
                log.warning("ticket #%s has no assignee and no community to tell", t.ticket_id)
                continue
            out.append(
                Notification(
                    kind=kind,
                    title=t.title,
                    ticket_id=t.ticket_id,
                    alert_id=t.alert_id,
                    device_kind=t.kind,
                    recipients=recipients,
                    severity=severity,
                    silent=_silent(t.kind),
                )
            )

        for alert_id in sorted(alert_ids):
            row = alert_info.get(alert_id)
            if row is None or row.severity != Severity.CRITICAL.value:
                continue
            if row.community_id is None:
                log.warning("critical alert #%s has no community to tell", alert_id)
                continue
            out.append(
                Notification(
                    kind="alert.opened",
                    title=row.summary,
                    ticket_id=ticket_of_alert.get(alert_id),
                    alert_id=alert_id,
                    device_kind=row.kind,
                    recipients=Recipients(roles=_SUPERVISORS, community_id=int(row.community_id)),
                    severity=Severity.CRITICAL,
                    silent=_silent(row.kind),
                )
            )
        return out
