"""From ingest outcomes to notifications.

Who hears of what is decided inside the batch's transaction (hub.alerts.flows,
hub.tickets.opening, hub.escalation), with the data as it was committed; this
listener only hands the result to the notification hub after the commit:

* a ticket opened for an alarm: ``ticket.assigned`` to the volunteer on duty
  (its escalation chain's first step), or ``ticket.unassigned`` to staff;
* an alarm's fan-out (``alert.opened``): a rule's ``notify`` targets (fire: the
  property manager and everyone on duty in the grid), and for a critical one
  the community's staff and property managers;
* silent (duress) kinds are flagged ``silent``; the hub keeps them from residents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from hub.notifications.base import NotificationHub, ResidentLookup
from hub.storage.db import Database
from hub.users.models import Role
from hub.users.tables import users

if TYPE_CHECKING:
    from hub.ingest.flows import BatchOutcome


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


class TicketNotifications:
    """An ingest listener (``IngestWorker.add_listener``) that publishes through the hub."""

    def __init__(self, hub: NotificationHub) -> None:
        self._hub = hub

    async def __call__(self, outcome: BatchOutcome) -> None:
        for notification in outcome.notifications:
            self._hub.submit(notification)
