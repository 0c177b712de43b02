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

A notification carries its title in every language (``titles``) and in the
community's (``title``, for machines). Each recipient reads it in their language
(:func:`recipient_languages`): their profile's choice, else their community's.
The live push renders it per stream; an SMS or messaging plugin per person.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.i18n.locales import choose
from hub.notifications.base import ResidentLookup
from hub.schema.grid import communities
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


async def recipient_languages(conn: AsyncConnection, user_ids: Sequence[int]) -> dict[int, str]:
    """The language each user reads notifications in: their profile's (``users.locale``),
    else their community's default (``communities.locale``), else Simplified Chinese."""
    if not user_ids:
        return {}
    rows = await conn.execute(
        sa.select(users.c.id, users.c.locale, communities.c.locale.label("community_locale"))
        .select_from(users.outerjoin(communities, communities.c.id == users.c.community_id))
        .where(users.c.id.in_(list(user_ids)))
    )
    return {
        int(row.id): choose(
            profile=row.locale, accept_language=None, community=row.community_locale
        )
        for row in rows
    }
