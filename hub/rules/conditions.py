"""Conditions over time, decided when their stored timer fires.

The engine starts a condition's timer at the first observation (a reading
beyond a limit, a door opened, a device gone offline, a resident's last sign
of life) and cancels it when the condition ends. A timer that fires therefore
means the condition held for the whole time; the handler still checks what it
can see now (the rule still active, the device still offline, no newer sign
of life) before raising the alarm.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.kinds import KINDS
from device_adapters.model import Severity
from hub.alerts.flows import Raised, raise_alert
from hub.devices.models import DeviceContext
from hub.devices.service import device_context
from hub.policy.document import HeldRule, OfflineRule, RulesDocument, ThresholdRule, WelfareRule
from hub.policy.service import rules_for
from hub.policy.titles import NEVER_SEEN
from hub.residents.activity import last_sign_of_life
from hub.schema.devices import devices
from hub.schema.grid import buildings, grids, households
from hub.schema.residents import residents
from hub.timers import service as timers

TIMER_KIND = "condition"


def condition_key(rule_id: str, device_id: str) -> str:
    return f"cond:{rule_id}:{device_id}"


def welfare_key(rule_id: str, resident_id: int) -> str:
    return f"welfare:{rule_id}:{resident_id}"


def welfare_payload(rule_id: str, resident_id: int, community_id: int | None) -> dict[str, Any]:
    return {"rule_id": rule_id, "resident_id": resident_id, "community_id": community_id}


def _severity(rule_severity: Severity | None, alert_kind: str) -> Severity:
    if rule_severity is not None:
        return rule_severity
    info = KINDS.get(alert_kind)
    return info.severity if info is not None else Severity.MEDIUM


async def on_timer(
    conn: AsyncConnection, payload: dict[str, Any], now: datetime
) -> tuple[str, Raised | None]:
    community_id = payload.get("community_id")
    doc = await rules_for(conn, int(community_id) if community_id is not None else None)
    rule = doc.rule(str(payload["rule_id"]))
    if rule is None or not rule.enabled:
        return "rule removed or disabled since", None
    if isinstance(rule, WelfareRule):
        return await _welfare(conn, rule, int(payload["resident_id"]), payload, now)
    if not isinstance(rule, ThresholdRule | HeldRule | OfflineRule):
        return f"rule {rule.id} is not a condition over time", None
    ctx = await device_context(conn, str(payload["device_id"]))
    if ctx is None:
        return "device gone", None
    if isinstance(rule, OfflineRule):
        online = (
            await conn.execute(sa.select(devices.c.online).where(devices.c.id == ctx.device_id))
        ).scalar()
        if online is not False:
            return "device back online", None
    detail = {k: v for k, v in payload.items() if k in ("value", "reason")}
    raised = await raise_alert(
        conn,
        rules=doc,
        rule=rule,
        ctx=ctx,
        kind=rule.alert_kind,
        severity=_severity(rule.severity, rule.alert_kind),
        at=now,
        now=now,
        detail=detail,
    )
    return f"alert {raised.alert_id} {'opened' if raised.opened else 'repeated'}", raised


async def resident_context(conn: AsyncConnection, resident_id: int) -> DeviceContext | None:
    """A resident as the subject of an alarm (the welfare check has no single device)."""
    row = (
        await conn.execute(
            sa.select(
                residents.c.full_name,
                residents.c.household_id,
                households.c.building_id,
                grids.c.id.label("grid_id"),
                grids.c.community_id,
            )
            .select_from(
                residents.join(households, households.c.id == residents.c.household_id)
                .join(buildings, buildings.c.id == households.c.building_id)
                .join(grids, grids.c.id == buildings.c.grid_id)
            )
            .where(residents.c.id == resident_id)
        )
    ).first()
    if row is None:
        return None
    return DeviceContext(
        device_id=f"resident:{resident_id}",
        family="resident",
        name=row.full_name,
        resident_id=resident_id,
        household_id=row.household_id,
        building_id=row.building_id,
        grid_id=row.grid_id,
        community_id=row.community_id,
    )


async def _welfare(
    conn: AsyncConnection,
    rule: WelfareRule,
    resident_id: int,
    payload: dict[str, Any],
    now: datetime,
) -> tuple[str, Raised | None]:
    eligible = (
        await conn.execute(
            sa.select(residents.c.id).where(
                residents.c.id == resident_id,
                residents.c.is_elderly.is_(True),
                residents.c.lives_alone.is_(True),
            )
        )
    ).first()
    if eligible is None:
        return "resident no longer elderly and living alone", None
    last = await last_sign_of_life(conn, resident_id)
    limit = timedelta(hours=rule.hours)
    if last is not None and last + limit > now:
        await timers.reschedule(
            conn, welfare_key(rule.id, resident_id), TIMER_KIND, last + limit, payload, now
        )
        return f"sign of life at {last.isoformat()}: check moved", None
    ctx = await resident_context(conn, resident_id)
    if ctx is None:
        return "resident has no household in the grid", None
    doc = await rules_for(conn, ctx.community_id)
    since = last if last is not None else NEVER_SEEN  # a time: titled in each language
    raised = await raise_alert(
        conn,
        rules=doc,
        rule=rule,
        ctx=ctx,
        kind=rule.alert_kind,
        severity=_severity(rule.severity, rule.alert_kind),
        at=now,
        now=now,
        detail={"last_seen": since},
    )
    return f"alert {raised.alert_id} {'opened' if raised.opened else 'repeated'}", raised


async def arm_welfare_checks(conn: AsyncConnection, now: datetime) -> int:
    """Make sure every elderly resident living alone has a welfare clock running.

    Run at start and periodically (new residents, changed rules). A clock that
    already exists, running or fired, is left alone: a fired one is re-armed
    by the resident's next sign of life. Returns how many clocks there are.
    """
    rows = await conn.execute(
        sa.select(residents.c.id, grids.c.community_id)
        .select_from(
            residents.join(households, households.c.id == residents.c.household_id)
            .join(buildings, buildings.c.id == households.c.building_id)
            .join(grids, grids.c.id == buildings.c.grid_id)
        )
        .where(residents.c.is_elderly.is_(True), residents.c.lives_alone.is_(True))
    )
    docs: dict[int | None, RulesDocument] = {}
    wanted: dict[str, tuple[WelfareRule, int, int | None]] = {}
    for row in rows.all():
        if row.community_id not in docs:
            docs[row.community_id] = await rules_for(conn, row.community_id)
        for rule in docs[row.community_id].active():
            if isinstance(rule, WelfareRule):
                wanted[welfare_key(rule.id, int(row.id))] = (rule, int(row.id), row.community_id)
    # One look-up for all clocks: this runs every few minutes over every such resident.
    missing = set(wanted) - await timers.existing_keys(conn, list(wanted))
    for key in sorted(missing):
        rule, resident_id, community_id = wanted[key]
        last = await last_sign_of_life(conn, resident_id)
        limit = timedelta(hours=rule.hours)
        start = last if last is not None and last + limit > now else now
        await timers.schedule(
            conn,
            key,
            TIMER_KIND,
            start + limit,
            welfare_payload(rule.id, resident_id, community_id),
            now,
        )
    armed = len(wanted)
    return armed
