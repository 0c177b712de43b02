"""Who hears of what, and the silent-alarm guard's lookup.

Who hears of what is decided inside the transaction that causes it
(hub.alerts.flows, hub.tickets.opening, hub.tickets.escalation), with the data as it is
committed, and stored there with it (hub.notifications.outbox):

* a ticket opened for an alarm: ``ticket.assigned`` to the volunteer on duty
  (its escalation chain's first step), or ``ticket.unassigned`` to staff;
* an alarm's fan-out (``alert.opened``): a rule's ``notify`` targets (fire: the
  property manager and everyone on duty in the grid), and for a critical one
  the community's staff and property managers;
* silent (duress) kinds are flagged ``silent``; the hub keeps them from residents.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from hub.notifications.base import ResidentLookup
from hub.schema.users import users
from hub.storage.db import Database
from hub.users.models import Role


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
