"""Each channel's outcome per recipient: sent, failed (retried) or refused (for good), with
the vendor's reason.

Kept in ``notification_deliveries`` (hub/schema/notifications.py). A channel that is
tried again by the outbox asks :func:`already_sent` first, so a person who has the
message is not sent it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from hub.schema.notifications import notification_deliveries as deliveries
from hub.storage.db import Database
from hub.storage.upsert import upsert

SENT = "sent"
FAILED = "failed"  # tried again by the outbox
REFUSED = "refused"  # the vendor refuses this recipient for good (a bad number): not retried


@dataclass(frozen=True)
class Outcome:
    recipient: str
    outcome: str  # SENT, FAILED or REFUSED
    reason: str | None = None
    permanent: bool = False


async def record(
    db: Database,
    notification_id: str,
    channel: str,
    outcomes: list[Outcome],
    ticket_id: int | None = None,
) -> None:
    """Store outcomes; a recipient already recorded has its row updated (one more attempt).
    ``ticket_id``: the ticket the notification is about, whose page lists them."""
    if not outcomes:
        return
    now = datetime.now(UTC)
    async with db.write() as conn:
        for o in outcomes:
            found = await conn.execute(
                sa.select(deliveries.c.attempts).where(
                    deliveries.c.notification_id == notification_id,
                    deliveries.c.channel == channel,
                    deliveries.c.recipient == o.recipient,
                )
            )
            attempts = (found.scalar() or 0) + 1
            await upsert(
                conn,
                deliveries,
                {
                    "notification_id": notification_id,
                    "channel": channel,
                    "recipient": o.recipient[:128],
                    "outcome": o.outcome,
                    "permanent": o.permanent,
                    "reason": (o.reason or None) and o.reason[:500],
                    "attempts": attempts,
                    "at": now,
                    "ticket_id": ticket_id,
                },
                ("notification_id", "channel", "recipient"),
            )


async def already_done(db: Database, notification_id: str, channel: str) -> set[str]:
    """Recipients this channel need not try again: sent, or refused for good."""
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(deliveries.c.recipient).where(
                deliveries.c.notification_id == notification_id,
                deliveries.c.channel == channel,
                deliveries.c.outcome.in_([SENT, REFUSED]),
            )
        )
        return {str(r) for r in rows.scalars()}


async def outcomes_of(db: Database, notification_id: str) -> list[dict[str, object]]:
    """Every channel's outcome for one notification (operators, tests)."""
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(deliveries)
            .where(deliveries.c.notification_id == notification_id)
            .order_by(deliveries.c.channel, deliveries.c.recipient)
        )
        return [dict(r._mapping) for r in rows]
