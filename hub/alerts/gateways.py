"""A gateway going offline reaches people: one alert, and its devices said unknown.

When an edge gateway's status turns offline (its last will, or a clean stop), the
devices last heard through it cannot be reached, but nothing says they are down:
they are marked unknown with the reason ``gateway_offline`` (not online, and not
each an alarm of its own), and one alert of :data:`KIND` opens for the property
managers and staff of the communities it serves. When the gateway is back the
alert clears, and its devices wait, still unknown, for their own next report
(reason ``gateway_back``): the hub does not guess what happened meanwhile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import OutboxReport, Severity
from hub.access.visibility import device_places
from hub.alerts.service import clear_active, open_or_attach_kind
from hub.devices.models import DeviceContext
from hub.i18n.catalogs import N_, gettext
from hub.i18n.locales import DEFAULT, SUPPORTED
from hub.notifications.base import Notification, Recipients
from hub.schema.devices import devices
from hub.users.models import Role

KIND = "gateway.offline"
FILLING = "gateway.outbox_filling"
SEVERITY = Severity.HIGH
GATEWAY_OFFLINE = "gateway_offline"  # a device's availability reason (hub.devices.reasons)
GATEWAY_BACK = "gateway_back"
_TOLD = (Role.PROPERTY_MANAGER, Role.COMMUNITY_STAFF)


def alert_device_id(gateway_id: str) -> str:
    """The alert's device: the gateway itself (one alert per gateway and kind)."""
    return f"gateway:{gateway_id}"


async def _behind(conn: AsyncConnection, gateway_id: str) -> list[Any]:
    places = device_places().subquery()
    rows = await conn.execute(
        sa.select(places.c.id, places.c.grid_id, places.c.community_id)
        .select_from(places.join(devices, devices.c.id == places.c.id))
        .where(devices.c.last_gateway_id == gateway_id)
        .order_by(places.c.community_id, places.c.grid_id, places.c.id)
    )
    return list(rows.all())


async def gateway_changed(
    conn: AsyncConnection, gateway_id: str, online: bool, at: datetime
) -> list[Notification]:
    """What a change of a gateway's status means (the caller recorded it as a change)."""
    if online:
        return await _back(conn, gateway_id, at)
    return await _gone(conn, gateway_id, at)


async def _open_for_gateway(
    conn: AsyncConnection,
    gateway_id: str,
    kind: str,
    titles: dict[str, str],
    at: datetime,
    placed: list[Any],
) -> list[Notification]:
    """One alert of ``kind`` for the gateway, placed in the grid of its first device (staff
    and managers of that community see it in their lists); every community it serves is
    told when it opens. ``placed``: its devices with a community (:func:`_behind`)."""
    first = placed[0]
    ctx = DeviceContext(
        device_id=alert_device_id(gateway_id),
        family="gateway",
        name=gateway_id,
        resident_id=None,
        household_id=None,
        building_id=None,
        grid_id=first.grid_id,
        community_id=first.community_id,
    )
    outcome = await open_or_attach_kind(
        conn,
        device_id=ctx.device_id,
        kind=kind,
        severity=SEVERITY,
        at=at,
        ctx=ctx,
        summary=titles[DEFAULT],
        titles=titles,
    )
    if not outcome.opened:
        return []  # still open: counted as a repeat, nobody told twice
    communities = sorted({int(r.community_id) for r in placed})
    return [
        Notification(
            kind="alert.opened",
            title=titles[DEFAULT],
            titles=titles,
            alert_id=outcome.alert_id,
            device_kind=kind,
            recipients=Recipients(roles=_TOLD, community_id=community),
            severity=SEVERITY,
        )
        for community in communities
    ]


async def outbox_reported(conn: AsyncConnection, report: OutboxReport) -> list[Notification]:
    """A gateway's outbox report (edge/outbox_report.py): an alert while it is filling,
    cleared once a report says it is not."""
    gateway_id = report.gateway_id
    if not report.filling:
        await clear_active(
            conn, alert_device_id(gateway_id), FILLING, report.at, "the outbox is draining"
        )
        return []
    placed = [r for r in await _behind(conn, gateway_id) if r.community_id is not None]
    if not placed:
        return []
    used = round(100 * report.bytes / report.max_bytes) if report.max_bytes else 0
    free = "?" if report.disk_free_bytes is None else str(report.disk_free_bytes // 2**20)
    titles = {
        language: gettext(
            language,
            N_(
                "Gateway %(gateway)s is filling up: %(items)s items waiting to be sent, "
                "%(used)s%% of its store, %(free)s MB free on its disk"
            ),
            gateway=gateway_id,
            items=report.items,
            used=used,
            free=free,
        )
        for language in SUPPORTED
    }
    return await _open_for_gateway(conn, gateway_id, FILLING, titles, report.at, placed)


async def _gone(conn: AsyncConnection, gateway_id: str, at: datetime) -> list[Notification]:
    behind = await _behind(conn, gateway_id)
    # Only what the gateway last said: a device heard since (through another gateway,
    # or reported after ``at``) keeps its newer state.
    await conn.execute(
        devices.update()
        .where(
            devices.c.last_gateway_id == gateway_id,
            sa.or_(
                devices.c.availability_changed_at.is_(None),
                devices.c.availability_changed_at < at,
            ),
        )
        .values(online=None, availability_reason=GATEWAY_OFFLINE, availability_changed_at=at)
    )
    placed = [r for r in behind if r.community_id is not None]
    if not placed:
        return []  # no community to tell (a gateway nothing registered speaks through)
    titles = {
        language: gettext(
            language,
            N_("Gateway %(gateway)s is offline: %(n)s devices behind it cannot be reached"),
            gateway=gateway_id,
            n=len(behind),
        )
        for language in SUPPORTED
    }
    return await _open_for_gateway(conn, gateway_id, KIND, titles, at, placed)


async def _back(conn: AsyncConnection, gateway_id: str, at: datetime) -> list[Notification]:
    await conn.execute(
        devices.update()
        .where(
            devices.c.last_gateway_id == gateway_id,
            devices.c.availability_reason == GATEWAY_OFFLINE,
        )
        # The time stays the outage's: a device's own report from after it still applies.
        .values(availability_reason=GATEWAY_BACK)
    )
    await clear_active(conn, alert_device_id(gateway_id), KIND, at, "the gateway is back online")
    return []
