"""Where the domains meet for incoming device data: store, update state, alert, ticket.

One call is one transaction: the caller commits it and only then acknowledges
the MQTT messages, so an acknowledged event is always stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import (
    CommandResult,
    DeadLetter,
    DeviceAvailability,
    DeviceEvent,
    OutboxReport,
)
from hub.alerts.gateways import gateway_changed, outbox_reported
from hub.commands.service import apply_results
from hub.deadletters import service as dead_letter_service
from hub.devices.models import DeviceContext
from hub.devices.service import apply_availability, apply_events
from hub.devices.sources import Refused, admit_availability, admit_events
from hub.gateways.service import record_status
from hub.notifications import outbox
from hub.notifications.base import Notification
from hub.residents.activity import SignOfLife, record_signs_of_life
from hub.rules.engine import RulesEngine
from hub.schema.devices import devices
from hub.schema.events import events
from hub.schema.grid import buildings, grids, households
from hub.schema.residents import residents
from hub.storage.locks import lock_event_ids, lock_rows
from hub.storage.upsert import insert_ignoring_duplicates
from hub.tickets import watch_commands

# Keep IN (...) lists well under SQLite's bound-parameter limit.
_ID_CHUNK = 500


@dataclass(frozen=True)
class TicketOpened:
    ticket_id: int
    alert_id: int
    kind: str
    device_id: str
    assignee_id: int | None
    title: str  # in the community's language
    titles: dict[str, str] = field(default_factory=dict)  # language → title


@dataclass
class Parsed:
    """One MQTT batch, sorted by what it carries."""

    events: list[DeviceEvent] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    availability: list[DeviceAvailability] = field(default_factory=list)
    # Each result with the gateway whose topic it came on.
    results: list[tuple[str, CommandResult]] = field(default_factory=list)
    gateways: list[tuple[str, bool, datetime]] = field(default_factory=list)
    outbox_reports: list[OutboxReport] = field(default_factory=list)
    # Messages the ingest could not store, set aside with the error: never sampled away
    # by the dead-letter bounds (one may be an alarm).
    set_aside: list[DeadLetter] = field(default_factory=list)
    # Event and dead-letter ids to confirm to each sending gateway after the commit.
    confirm: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class BatchOutcome:
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    alerts_opened: list[int] = field(default_factory=list)
    # (severity, opened_at) of each alert opened, in the order of alerts_opened.
    opened_alerts: list[tuple[str, datetime]] = field(default_factory=list)
    alerts_attached: list[int] = field(default_factory=list)
    tickets_opened: list[TicketOpened] = field(default_factory=list)
    availability_changes: int = 0
    command_results: int = 0
    alerts_cleared: list[int] = field(default_factory=list)
    # Everyone to tell, once the batch's transaction has committed.
    notifications: list[Notification] = field(default_factory=list)
    # The events this batch stored and their devices' places (telemetry export reads them).
    events: list[DeviceEvent] = field(default_factory=list)
    contexts: dict[str, DeviceContext] = field(default_factory=dict)


async def _existing_ids(conn: AsyncConnection, ids: list[object]) -> set[object]:
    found: set[object] = set()
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        rows = await conn.execute(sa.select(events.c.event_id).where(events.c.event_id.in_(chunk)))
        found.update(row.event_id for row in rows)
    return found


# Ids of dead letters for refused reports: one per report, so a redelivery maps onto it.
_REFUSED_NAMESPACE = uuid.UUID("0b7d7c55-51a4-4d8e-9d0b-3f1c6a0e2b77")


def refused_letter(refusal: Refused, now: datetime) -> DeadLetter:
    """The dead letter that keeps a report the hub did not believe, with the reason."""
    item = refusal.item
    key = str(item.event_id) if isinstance(item, DeviceEvent) else item.model_dump_json()
    return DeadLetter(
        dead_letter_id=uuid.uuid5(_REFUSED_NAMESPACE, key),
        gateway_id=item.gateway_id,
        source=f"mqtt gateway {item.gateway_id}",
        protocol=item.protocol if isinstance(item, DeviceEvent) else "mqtt",
        device_id=item.device_id,
        received_at=now,
        reason=f"refused: {refusal.reason}"[:1000],
        raw=item.model_dump_json().encode(),
    )


async def store_batch(
    conn: AsyncConnection,
    batch: Sequence[DeviceEvent],
    letters: Sequence[DeadLetter],
    now: datetime,
) -> BatchOutcome:
    letters = list(letters)
    unique: dict[object, DeviceEvent] = {}
    for event in batch:
        unique.setdefault(event.event_id, event)
    # Several hubs on one PostgreSQL: a hub holding an event id waits for any
    # other transaction with the same id, so the check below sees its commit and
    # only one hub ever stores the event and raises its alert, ticket and notes.
    await lock_event_ids(conn, (e.event_id for e in unique.values()))
    existing = await _existing_ids(conn, list(unique))
    fresh = [e for e in unique.values() if e.event_id not in existing]
    duplicates = len(batch) - len(fresh)

    # A device's state is read, folded and written back: one hub at a time.
    await lock_rows(conn, devices, {e.device_id for e in fresh})
    # Only the gateway a device is registered behind may speak for it.
    fresh, refused = await admit_events(conn, fresh)
    letters += [refused_letter(r, now) for r in refused]
    outcome = BatchOutcome(stored=len(fresh), duplicates=duplicates, dead_letters=len(letters))
    contexts = await apply_events(conn, fresh)
    outcome.events, outcome.contexts = fresh, contexts
    engine = RulesEngine(conn, now)
    await engine.prepare(fresh, contexts)
    alert_of_event: dict[object, int] = {}
    for event in fresh:
        alert_id = await engine.on_event(event, contexts[event.device_id])
        if alert_id is not None:
            alert_of_event[event.event_id] = alert_id
    signs = await record_signs_of_life(conn, fresh, contexts)
    if signs:
        await engine.on_signs_of_life(signs, await _welfare_residents(conn, signs))
    await engine.finish()
    _collect(outcome, engine)
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


def _collect(outcome: BatchOutcome, engine: RulesEngine) -> None:
    for raised in engine.outcome.raised:
        if not raised.opened:
            outcome.alerts_attached.append(raised.alert_id)
            outcome.notifications += raised.notifications  # an alarm pressed again
            continue
        outcome.alerts_opened.append(raised.alert_id)
        outcome.opened_alerts.append((raised.severity.value, raised.opened_at))
        outcome.notifications += raised.notifications
        if raised.ticket is not None:
            outcome.tickets_opened.append(
                TicketOpened(
                    raised.ticket.ticket_id,
                    raised.alert_id,
                    raised.kind,
                    raised.device_id,
                    raised.ticket.assignee_id,
                    raised.title,
                    raised.titles,
                )
            )
    outcome.alerts_cleared += engine.outcome.cleared


async def _welfare_residents(
    conn: AsyncConnection, signs: Sequence[SignOfLife]
) -> dict[int, int | None]:
    """Residents with a sign of life whom the welfare check watches, with their community."""
    ids = sorted({s.resident_id for s in signs})
    rows = await conn.execute(
        sa.select(residents.c.id, grids.c.community_id)
        .select_from(
            residents.outerjoin(households, households.c.id == residents.c.household_id)
            .outerjoin(buildings, buildings.c.id == households.c.building_id)
            .outerjoin(grids, grids.c.id == buildings.c.grid_id)
        )
        .where(
            residents.c.id.in_(ids),
            residents.c.is_elderly.is_(True),
            residents.c.lives_alone.is_(True),
        )
    )
    return {int(row.id): row.community_id for row in rows}


async def store_parsed(conn: AsyncConnection, parsed: Parsed, now: datetime) -> BatchOutcome:
    """Everything one MQTT batch carried, in one transaction."""
    reports, refused = await admit_availability(conn, parsed.availability)
    refused_letters = [refused_letter(r, now) for r in refused]
    # Watch commands from a ticket: what became of them goes on the ticket's log.
    result_ids = [result.command_id for _, result in parsed.results]
    awaiting = await watch_commands.awaiting_outcome(conn, result_ids)
    results, foreign = await apply_results(conn, parsed.results)
    await watch_commands.log_outcomes(conn, awaiting, now)
    refused_letters += [
        DeadLetter(
            dead_letter_id=uuid.uuid5(_REFUSED_NAMESPACE, result.model_dump_json() + gateway),
            gateway_id=gateway,
            source=f"mqtt gateway {gateway}",
            protocol="mqtt",
            device_id=result.device_id,
            received_at=now,
            reason=f"refused: {reason}"[:1000],
            raw=result.model_dump_json().encode(),
        )
        for gateway, result, reason in foreign
    ]
    outcome = await store_batch(conn, parsed.events, [*parsed.letters, *refused_letters], now)
    if parsed.set_aside:
        await dead_letter_service.store(conn, parsed.set_aside, now, bounded=False)
        outcome.dead_letters += len(parsed.set_aside)
    changed = await apply_availability(conn, reports)
    outcome.availability_changes = len(changed)
    if changed:
        engine = RulesEngine(conn, now)
        await engine.on_availability(changed)
        _collect(outcome, engine)
    outcome.command_results = results
    for gateway_id, online, at in parsed.gateways:
        if await record_status(conn, gateway_id, online, at):
            outcome.notifications += await gateway_changed(conn, gateway_id, online, at)
    for report in parsed.outbox_reports:
        outcome.notifications += await outbox_reported(conn, report)
    await outbox.enqueue(conn, outcome.notifications)
    return outcome
