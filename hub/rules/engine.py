"""Evaluating a community's rules against a batch of events and availability changes.

Immediate rules (``event``, ``count``, a zero-minute ``threshold``) raise their
alarms here; conditions over time (``threshold``, ``held``, ``offline``,
``welfare``) start, restart or cancel a stored timer here and are decided by
:mod:`hub.rules.conditions` when it fires. Recoveries clear alerts by themselves.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeviceAvailability, DeviceEvent
from hub.alerts.flows import Raised, is_silent, raise_alert
from hub.alerts.repeats import AlertRepeats
from hub.alerts.service import active_alert_keys, clear_active
from hub.devices.models import DeviceContext
from hub.devices.service import device_context
from hub.devices.state import CHARGER_FAULT_KINDS
from hub.policy.document import (
    CountRule,
    EventRule,
    HeldRule,
    OfflineRule,
    Rule,
    RulesDocument,
    ThresholdRule,
    WelfareRule,
)
from hub.policy.service import rules_for
from hub.residents.activity import SignOfLife
from hub.rules.conditions import (
    TIMER_KIND,
    condition_key,
    welfare_key,
    welfare_payload,
)
from hub.schema.events import events as events_table
from hub.timers import service as timers


@dataclass
class EngineOutcome:
    raised: list[Raised] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)


class RulesEngine:
    """One batch's evaluation; documents are looked up once per community."""

    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.outcome = EngineOutcome()
        self._docs: dict[int | None, RulesDocument] = {}
        # The rules each event kind concerns, per community: looked up once a batch.
        self._by_kind: dict[tuple[int | None, str], tuple[Rule, ...]] = {}
        self._counted: dict[tuple[str, str], list[datetime]] = {}
        # Per (count rule, device): when its kind was stored before this batch, the
        # newest rule.count of them, sorted, read once a batch (the batch's own events
        # are stored after the rules).
        self._stored_times: dict[tuple[str, str], list[datetime]] = {}
        self._stored_from: dict[tuple[str, str], datetime] = {}
        # After prepare(): what is pending or active for the batch's devices, so
        # that a normal reading costs no query (most readings change nothing).
        self._prepared = False
        self._pending: set[str] = set()
        self._active: set[tuple[str, str]] = set()
        # The devices _active covers: a welfare check's subject ("resident:N") is
        # not one of the batch's devices, and its alerts must still be looked up.
        self._known_devices: frozenset[str] = frozenset()
        # Repeats of active alerts, written once by finish().
        self._repeats = AlertRepeats()

    async def prepare(
        self, events: Sequence[DeviceEvent], contexts: dict[str, DeviceContext]
    ) -> None:
        """Look up, for the whole batch at once, the condition timers and active alerts.

        Only what on_event can touch is looked up: the timers of threshold and
        held rules an event of the batch fits, and the active alerts of devices
        with an event that may clear one. A batch of plain telemetry costs no
        query here; this ran per transaction and was most of a small batch's cost.
        """
        keys: set[str] = set()
        clearing: set[str] = set()
        for event in events:
            device_id = event.device_id
            values: dict[str, Any] | None = None
            for rule in await self._concerning(contexts[device_id].community_id, event.kind):
                if isinstance(rule, ThresholdRule):
                    if rule.kind == event.kind:
                        keys.add(condition_key(rule.id, device_id))
                        clearing.add(device_id)
                elif isinstance(rule, HeldRule):
                    values = dict(event.values) if values is None else values
                    if rule.start.matches(event.kind, values):
                        keys.add(condition_key(rule.id, device_id))
                    elif any(m.matches(event.kind, values) for m in rule.until):
                        keys.add(condition_key(rule.id, device_id))
                        clearing.add(device_id)
                elif isinstance(rule, EventRule) and rule.kind != event.kind and rule.clears_on:
                    values = dict(event.values) if values is None else values
                    if any(m.matches(event.kind, values) for m in rule.clears_on):
                        clearing.add(device_id)
        self._pending = await timers.pending_keys(self.conn, sorted(keys)) if keys else set()
        device_ids = sorted(clearing)
        self._active = await active_alert_keys(self.conn, device_ids) if device_ids else set()
        # Devices left out here are looked up when needed (_clear): never wrongly skipped.
        self._known_devices = frozenset(device_ids)
        self._prepared = True

    async def finish(self) -> None:
        """Write what on_event only counted; call it before the batch commits."""
        await self._repeats.flush(self.conn)

    async def _cancel(self, key: str, why: str) -> None:
        if self._prepared and key not in self._pending:
            return
        await timers.cancel(self.conn, key, self.now, why)
        self._pending.discard(key)

    async def _start(self, key: str, due_at: datetime, payload: dict[str, Any]) -> None:
        if self._prepared and key in self._pending:
            return
        await timers.start_once(self.conn, key, TIMER_KIND, due_at, payload, self.now)
        self._pending.add(key)

    async def rules(self, community_id: int | None) -> RulesDocument:
        if community_id not in self._docs:
            self._docs[community_id] = await rules_for(self.conn, community_id)
        return self._docs[community_id]

    async def _concerning(self, community_id: int | None, kind: str) -> tuple[Rule, ...]:
        """What the rules of ``community_id`` do with ``kind``: most telemetry, nothing."""
        key = (community_id, kind)
        found = self._by_kind.get(key)
        if found is None:
            found = (await self.rules(community_id)).concerning(kind)
            self._by_kind[key] = found
        return found

    async def on_event(self, event: DeviceEvent, ctx: DeviceContext) -> int | None:
        """Apply every rule to one event; returns the alert it raised or attached to."""
        doc = await self.rules(ctx.community_id)
        alert_id: int | None = None
        for rule in await self._concerning(ctx.community_id, event.kind):
            if isinstance(rule, EventRule):
                if rule.kind == event.kind:
                    alert_id = await self._raise_for_event(doc, rule, event, ctx)
                elif any(m.matches(event.kind, event.values) for m in rule.clears_on):
                    if rule.kind in CHARGER_FAULT_KINDS and ctx.faulted_parts:
                        continue  # one port is back, another is still out of order
                    await self._clear(ctx.device_id, rule.kind, f"device reported {event.kind}")
            elif isinstance(rule, ThresholdRule) and rule.kind == event.kind:
                await self._threshold(doc, rule, event, ctx)
            elif isinstance(rule, CountRule) and rule.kind == event.kind:
                found = await self._count(doc, rule, event, ctx)
                alert_id = alert_id or found
            elif isinstance(rule, HeldRule):
                await self._held(rule, event, ctx)
        return alert_id

    async def _raise_for_event(
        self, doc: RulesDocument, rule: EventRule, event: DeviceEvent, ctx: DeviceContext
    ) -> int:
        lat, lon = event.values.get("latitude"), event.values.get("longitude")
        raised = await raise_alert(
            self.conn,
            rules=doc,
            rule=rule,
            ctx=ctx,
            kind=event.kind,
            severity=rule.severity or event.severity,
            at=event.received_at,
            now=self.now,
            silent=is_silent(event.kind),
            latitude=float(lat) if isinstance(lat, int | float) else None,
            longitude=float(lon) if isinstance(lon, int | float) else None,
            repeats=self._repeats,
        )
        self._raised(raised)
        return raised.alert_id

    async def _clear(self, device_id: str, kind: str, reason: str) -> None:
        if device_id in self._known_devices and (device_id, kind) not in self._active:
            return
        cleared = await clear_active(self.conn, device_id, kind, self.now, reason)
        self._active.discard((device_id, kind))
        self._repeats.forget(device_id, kind)
        if cleared is not None:
            self.outcome.cleared.append(cleared)

    async def _raise_derived(
        self,
        doc: RulesDocument,
        rule: ThresholdRule | CountRule,
        event: DeviceEvent,
        ctx: DeviceContext,
        detail: dict[str, Any],
    ) -> Raised:
        """An alert of the rule's own kind, raised by this event."""
        raised = await raise_alert(
            self.conn,
            rules=doc,
            rule=rule,
            ctx=ctx,
            kind=rule.alert_kind,
            severity=rule.severity or event.severity,
            at=event.received_at,
            now=self.now,
            detail=detail,
            repeats=self._repeats,
        )
        self._raised(raised)
        return raised

    def _raised(self, raised: Raised) -> None:
        self.outcome.raised.append(raised)
        self._active.add((raised.device_id, raised.kind))

    async def _threshold(
        self, doc: RulesDocument, rule: ThresholdRule, event: DeviceEvent, ctx: DeviceContext
    ) -> None:
        value = event.values.get(rule.field)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return
        key = condition_key(rule.id, ctx.device_id)
        if not rule.beyond(float(value)):
            await self._cancel(key, f"back in range: {value}")
            await self._clear(ctx.device_id, rule.alert_kind, f"{rule.field} back in range")
            return
        if rule.for_minutes == 0:
            await self._raise_derived(doc, rule, event, ctx, {"value": value})
            return
        # The first reading beyond the limit starts the clock; later ones leave it running.
        await self._start(
            key,
            event.received_at + timedelta(minutes=rule.for_minutes),
            {
                "rule_id": rule.id,
                "device_id": ctx.device_id,
                "community_id": ctx.community_id,
                "value": value,
            },
        )

    async def _count(
        self, doc: RulesDocument, rule: CountRule, event: DeviceEvent, ctx: DeviceContext
    ) -> int | None:
        since = event.received_at - timedelta(minutes=rule.within_minutes)
        stored = await self._stored_in(rule, ctx.device_id, since, event.received_at)
        seen = self._counted.setdefault((rule.id, ctx.device_id), [])
        insort(seen, event.received_at)
        in_batch = bisect_right(seen, event.received_at) - bisect_right(seen, since)
        if stored is not None and stored + in_batch < rule.count:
            return None
        if stored is None:  # at least rule.count: enough to attach to the open alert
            if (ctx.device_id, rule.alert_kind) in self._active:
                stored = rule.count
            else:  # opening one: its text says how many
                stored = await self._count_stored(rule, ctx.device_id, since, event.received_at)
        raised = await self._raise_derived(doc, rule, event, ctx, {"count": stored + in_batch})
        return raised.alert_id

    async def _stored_in(
        self, rule: CountRule, device_id: str, since: datetime, until: datetime
    ) -> int | None:
        """How many of ``rule.kind`` from ``device_id`` are stored in (since, until].

        None for "at least ``rule.count``", which is all the rule needs to know
        while its alert is open. One query per rule and device a batch reads the
        newest ``rule.count`` stored after the batch's first window start: a gate
        refusing cards all day is read a few rows a batch, not the day's. An event
        older than one of those (out of order) is counted with a query of its own.
        """
        key = (rule.id, device_id)
        newest = self._stored_times.get(key)
        if newest is None or since < self._stored_from[key]:
            rows = await self.conn.execute(
                sa.select(events_table.c.received_at)
                .where(
                    events_table.c.device_id == device_id,
                    events_table.c.kind == rule.kind,
                    events_table.c.received_at > since,
                )
                .order_by(events_table.c.received_at.desc())
                .limit(rule.count)
            )
            newest = sorted(row.received_at for row in rows)
            self._stored_times[key], self._stored_from[key] = newest, since
        if newest and newest[-1] > until:
            return await self._count_stored(rule, device_id, since, until)
        if len(newest) == rule.count and since < newest[0]:
            return None  # the newest alone fill the window; older ones may too
        return len(newest) - bisect_right(newest, since)

    async def _count_stored(
        self, rule: CountRule, device_id: str, since: datetime, until: datetime
    ) -> int:
        found = await self.conn.execute(
            sa.select(sa.func.count())
            .select_from(events_table)
            .where(
                events_table.c.device_id == device_id,
                events_table.c.kind == rule.kind,
                events_table.c.received_at > since,
                events_table.c.received_at <= until,
            )
        )
        return int(found.scalar_one())

    async def _held(self, rule: HeldRule, event: DeviceEvent, ctx: DeviceContext) -> None:
        key = condition_key(rule.id, ctx.device_id)
        if rule.start.matches(event.kind, dict(event.values)):
            await self._start(
                key,
                event.received_at + timedelta(minutes=rule.minutes),
                {"rule_id": rule.id, "device_id": ctx.device_id, "community_id": ctx.community_id},
            )
        elif any(m.matches(event.kind, dict(event.values)) for m in rule.until):
            await self._cancel(key, f"device reported {event.kind}")
            await self._clear(ctx.device_id, rule.alert_kind, f"device reported {event.kind}")

    async def on_availability(self, reports: Sequence[DeviceAvailability]) -> None:
        """Offline rules: going offline starts the clock, coming back stops it and clears."""
        for report in reports:
            ctx = await device_context(self.conn, report.device_id)
            if ctx is None:
                continue
            doc = await self.rules(ctx.community_id)
            for rule in doc.active():
                if not isinstance(rule, OfflineRule) or rule.family.value != ctx.family:
                    continue
                key = condition_key(rule.id, ctx.device_id)
                if report.online:
                    await timers.cancel(self.conn, key, self.now, "back online")
                    await self._clear(ctx.device_id, rule.alert_kind, "device back online")
                else:
                    await timers.start_once(
                        self.conn,
                        key,
                        TIMER_KIND,
                        report.at + timedelta(minutes=rule.minutes),
                        {
                            "rule_id": rule.id,
                            "device_id": ctx.device_id,
                            "community_id": ctx.community_id,
                            "reason": report.reason,
                        },
                        self.now,
                    )

    async def on_signs_of_life(
        self, signs: Sequence[SignOfLife], communities: dict[int, int | None]
    ) -> None:
        """Welfare: each sign of life restarts the resident's clock and clears an open check.

        ``communities`` maps the residents the check applies to (elderly, living
        alone) to their community.
        """
        latest: dict[int, datetime] = {}
        for sign in signs:
            latest[sign.resident_id] = max(sign.at, latest.get(sign.resident_id, sign.at))
        for resident_id, at in latest.items():
            if resident_id not in communities:
                continue  # not an elderly resident living alone: no welfare check
            community_id = communities[resident_id]
            doc = await self.rules(community_id)
            for rule in doc.active():
                if isinstance(rule, WelfareRule):
                    if at + timedelta(hours=rule.hours) <= self.now:
                        # Delivered late and older than the window: still no sign of
                        # life within it. Moving the clock back would raise a second
                        # check (and ticket) for the same silence.
                        continue
                    await timers.reschedule(
                        self.conn,
                        welfare_key(rule.id, resident_id),
                        TIMER_KIND,
                        at + timedelta(hours=rule.hours),
                        welfare_payload(rule.id, resident_id, community_id),
                        self.now,
                    )
                    await self._clear(
                        f"resident:{resident_id}", rule.alert_kind, "sign of life seen"
                    )
