"""Where the domains meet for incoming device data: store, update state, alert, ticket.

One call is one transaction: the caller commits it and only then acknowledges
the MQTT messages, so an acknowledged event is always stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import CommandResult, DeadLetter, DeviceAvailability, DeviceEvent
from hub.alerts.rules import ALERT_RULES
from hub.alerts.service import open_or_attach
from hub.commands.service import apply_results
from hub.deadletters import service as dead_letter_service
from hub.devices.service import apply_availability, apply_events
from hub.events.tables import events
from hub.gateways.service import record_status
from hub.residents.service import who_and_where
from hub.storage.upsert import insert_ignoring_duplicates
from hub.tickets.service import open_for_alert

# Keep IN (...) lists well under SQLite's bound-parameter limit.
_ID_CHUNK = 500


@dataclass(frozen=True)
class TicketOpened:
    ticket_id: int
    alert_id: int
    kind: str
    device_id: str
    assignee_id: int | None
    title: str


@dataclass
class Parsed:
    """One MQTT batch, sorted by what it carries."""

    events: list[DeviceEvent] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    availability: list[DeviceAvailability] = field(default_factory=list)
    results: list[CommandResult] = field(default_factory=list)
    gateways: list[tuple[str, bool, datetime]] = field(default_factory=list)


@dataclass
class BatchOutcome:
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    alerts_opened: list[int] = field(default_factory=list)
    alerts_attached: list[int] = field(default_factory=list)
    tickets_opened: list[TicketOpened] = field(default_factory=list)
    availability_changes: int = 0
    command_results: int = 0


async def _existing_ids(conn: AsyncConnection, ids: list[object]) -> set[object]:
    found: set[object] = set()
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        rows = await conn.execute(sa.select(events.c.event_id).where(events.c.event_id.in_(chunk)))
        found.update(row.event_id for row in rows)
    return found


async def store_batch(
    conn: AsyncConnection,
    batch: Sequence[DeviceEvent],
    letters: Sequence[DeadLetter],
    now: datetime,
) -> BatchOutcome:
    outcome = BatchOutcome(dead_letters=len(letters))
    unique: dict[object, DeviceEvent] = {}
    for event in batch:
        unique.setdefault(event.event_id, event)
    existing = await _existing_ids(conn, list(unique))
    fresh = [e for e in unique.values() if e.event_id not in existing]
    outcome.duplicates = len(batch) - len(fresh)
    outcome.stored = len(fresh)

    contexts = await apply_events(conn, fresh)
    alert_of_event: dict[object, int] = {}
    for event in fresh:
        rule = ALERT_RULES.get(event.kind)
        if rule is None:
            continue
        ctx = contexts[event.device_id]
        who, where = await who_and_where(conn, ctx)
        title = rule.title.format(who=who, where=where)
        alert = await open_or_attach(conn, event, ctx, title)
        alert_of_event[event.event_id] = alert.alert_id
        if not alert.opened:
            outcome.alerts_attached.append(alert.alert_id)
            continue
        outcome.alerts_opened.append(alert.alert_id)
        if rule.opens_ticket:
            ticket_id, assignee = await open_for_alert(
                conn,
                alert_id=alert.alert_id,
                rule=rule,
                title=title,
                severity=event.severity,
                ctx=ctx,
                now=now,
            )
            outcome.tickets_opened.append(
                TicketOpened(
                    ticket_id, alert.alert_id, event.kind, event.device_id, assignee, title
                )
            )

    await insert_ignoring_duplicates(
        conn,
        events,
        [
            {
                "event_id": e.event_id,
                "device_id": e.device_id,
                "family": e.family.value,
                "protocol": e.protocol,
                "kind": e.kind,
                "severity": e.severity.value,
                "lane": e.lane.value,
                "device_time": e.device_time,
                "received_at": e.received_at,
                "stored_at": now,
                "gateway_id": e.gateway_id,
                "values": e.values,
                "raw": e.raw,
                "alert_id": alert_of_event.get(e.event_id),
            }
            for e in fresh
        ],
    )
    await dead_letter_service.store(conn, letters, now)
    return outcome


async def store_parsed(conn: AsyncConnection, parsed: Parsed, now: datetime) -> BatchOutcome:
    """Everything one MQTT batch carried, in one transaction."""
    outcome = await store_batch(conn, parsed.events, parsed.letters, now)
    outcome.availability_changes = await apply_availability(conn, parsed.availability)
    outcome.command_results = await apply_results(conn, parsed.results)
    for gateway_id, online, at in parsed.gateways:
        await record_status(conn, gateway_id, online, at)
    return outcome
