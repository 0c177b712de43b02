"""Where a ticket's wearer is: their wristband's latest fix, for the person sent to help.

Who may see it (docs/positions.md): admins and community staff on any ticket they may
see; the ticket's assignee and co-handlers only while it is theirs and open (dispatched,
accepted, in progress, extension asked), so a volunteer's phone does not keep telling
where an elderly person is once the work is done. Everyone else who may see the ticket
(a resident of the household, a property manager on their own tickets) is refused with
the reason; who may not see the ticket gets the ticket's 404.

The map links name no one: they go to third parties (AMap, Baidu, OpenStreetMap), so
their marker says "the wearer's last position" in the reader's language, never a name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeviceFamily
from hub.access.scope import Scope
from hub.errors import Forbidden, NotFound
from hub.geo.coords import LatLng, gcj02_to_bd09, map_links, wgs84_to_gcj02
from hub.i18n import times
from hub.i18n.catalogs import N_, gettext, pgettext
from hub.schema.alerts import alerts
from hub.schema.devices import devices
from hub.schema.tickets import ticket_handlers
from hub.tickets.models import TicketPublic, TicketStatus
from hub.tickets.service import load_visible
from hub.users.models import Role

# The ticket is the responder's work in these states; before (registered, returned) it is
# nobody's, after (resolved and on) the work is done.
OPEN_FOR_RESPONDER: Final = frozenset(
    {
        TicketStatus.DISPATCHED,
        TicketStatus.ACCEPTED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.EXTENSION_REQUESTED,
    }
)
_CARE_PREFIX: Final = "elderly_"
_STAFF: Final = frozenset({Role.ADMIN, Role.COMMUNITY_STAFF})
Source = Literal["gps", "wifi", "lbs"]
_SOURCES: Final[tuple[Source, ...]] = ("gps", "wifi", "lbs")


class Coordinates(BaseModel):
    latitude: float
    longitude: float


class MapLinks(BaseModel):
    amap: str = Field(description="AMap (高德) marker, GCJ-02")
    baidu: str = Field(description="Baidu Maps marker, BD-09 (coord_type=bd09ll)")
    osm: str = Field(description="OpenStreetMap, WGS-84")


class WearerFix(BaseModel):
    wgs84: Coordinates = Field(description="as the watch reported it")
    gcj02: Coordinates = Field(description="for AMap and most Chinese maps")
    bd09: Coordinates = Field(description="for Baidu Maps")
    source: Source = Field(description="gps; wifi or lbs (cell towers): the watch's estimate")
    source_label: str = Field(description="the source in the reader's language")
    accuracy_m: float | None = Field(description="radius in metres; null when not said")
    at: str = Field(description="the fix's time, ISO 8601 with the community's offset")
    time_label: str = Field(description="the fix's time in the reader's language and zone")
    age_s: int = Field(description="seconds since the fix")
    age_label: str = Field(description="how long ago, in the reader's language")
    links: MapLinks


class WearerPosition(BaseModel):
    ticket_id: int
    device_id: str
    resident_id: int | None
    position: WearerFix | None = Field(description="the latest fix; null: none yet")
    no_fix_at: str | None = Field(
        None, description="the watch reported without a fix after the latest fix (ISO 8601)"
    )
    note: str | None = Field(
        None, description="for a person: no fix yet, or reports since without one"
    )


class TicketHasNoWearer(NotFound):
    """The ticket concerns no wristband (a repair, a resident's report)."""


class PositionForbidden(Forbidden):
    """The caller may see the ticket but not where its wearer is; the message says why."""


async def _is_co_handler(conn: AsyncConnection, ticket_id: int, user_id: int) -> bool:
    found = await conn.execute(
        sa.select(ticket_handlers.c.ticket_id).where(
            ticket_handlers.c.ticket_id == ticket_id, ticket_handlers.c.user_id == user_id
        )
    )
    return found.first() is not None


async def check_responder(
    conn: AsyncConnection,
    scope: Scope,
    ticket: TicketPublic,
    *,
    not_responder: str,
    not_open: str,
) -> None:
    """Staff, or the ticket's assignee or a co-handler while it is open; else Forbidden
    with ``not_responder`` or ``not_open`` (a message id with ``%(id)s``, the ticket)."""
    if scope.role in _STAFF:
        return
    responder = ticket.assignee_id == scope.user_id or await _is_co_handler(
        conn, ticket.id, scope.user_id
    )
    if not responder:
        raise PositionForbidden(not_responder)
    if ticket.status not in OPEN_FOR_RESPONDER:
        raise PositionForbidden(not_open, id=ticket.id)


async def _check_reader(conn: AsyncConnection, scope: Scope, ticket: TicketPublic) -> None:
    await check_responder(
        conn,
        scope,
        ticket,
        not_responder=N_("only the ticket's responder and community staff see where the wearer is"),
        not_open=N_(
            "the wearer's position is shown to the responder only while ticket %(id)s is open"
        ),
    )


async def wristband_of(
    conn: AsyncConnection, ticket: TicketPublic
) -> tuple[str, int | None, dict[str, Any]] | None:
    """The alarm's wristband, else (elderly care) the resident's most recently heard one."""
    band = devices.c.family == DeviceFamily.WRISTBAND.value
    columns = (devices.c.id, devices.c.resident_id, devices.c.state)
    if ticket.alert_id is not None:
        row = (
            await conn.execute(
                sa.select(*columns)
                .join(alerts, alerts.c.device_id == devices.c.id)
                .where(alerts.c.id == ticket.alert_id, band)
            )
        ).first()
        if row is not None:
            return row.id, row.resident_id, dict(row.state or {})
    # Without an alarm's device, only elderly care is about where the resident is: a
    # resident's report of a broken lamp must not tell where they are.
    if ticket.resident_id is not None and ticket.category.startswith(_CARE_PREFIX):
        row = (
            await conn.execute(
                sa.select(*columns)
                .where(devices.c.resident_id == ticket.resident_id, band)
                .order_by(devices.c.last_seen_at.desc().nulls_last(), devices.c.id)
                .limit(1)
            )
        ).first()
        if row is not None:
            return row.id, row.resident_id, dict(row.state or {})
    return None


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def source_label(source: Source, tag: str) -> str:
    if source == "gps":
        return pgettext(tag, "position source", "GPS")
    if source == "wifi":
        return pgettext(tag, "position source", "Wi-Fi (estimate)")
    return pgettext(tag, "position source", "Cell towers (rough estimate)")


def _fix(stored: object, tag: str, zone: ZoneInfo, now: datetime) -> WearerFix | None:
    """The state's ``position`` (hub/devices/state.py) for a reader; None if unusable."""
    if not isinstance(stored, dict):
        return None
    lat, lng = _number(stored.get("latitude")), _number(stored.get("longitude"))
    at = _when(stored.get("at"))
    if lat is None or lng is None or at is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    source = stored.get("source")
    src: Source = source if source in _SOURCES else "lbs"
    wgs = LatLng(lat, lng)
    gcj = wgs84_to_gcj02(wgs)
    bd = gcj02_to_bd09(gcj)
    links = map_links(wgs, label=gettext(tag, "The wearer's last position"))
    accuracy = _number(stored.get("accuracy_m"))
    age = now - at
    return WearerFix(
        wgs84=Coordinates(latitude=lat, longitude=lng),
        gcj02=Coordinates(latitude=round(gcj.latitude, 7), longitude=round(gcj.longitude, 7)),
        bd09=Coordinates(latitude=round(bd.latitude, 7), longitude=round(bd.longitude, 7)),
        source=src,
        source_label=source_label(src, tag),
        accuracy_m=accuracy if accuracy is not None and accuracy > 0 else None,
        at=times.iso_local(at, zone),
        time_label=times.local_time(at, zone, tag, now=now),
        age_s=max(0, int(age.total_seconds())),
        age_label=times.relative(-age, tag),
        links=MapLinks(amap=links.amap, baidu=links.baidu, osm=links.osm),
    )


async def wearer_position(
    conn: AsyncConnection,
    scope: Scope,
    ticket_id: int,
    *,
    tag: str,
    zone: ZoneInfo,
    now: datetime,
) -> WearerPosition:
    """The latest fix of the wearer behind ``ticket_id``, for a reader of ``tag`` in ``zone``.

    Raises TicketNotVisible (404) for a ticket the caller may not see, PositionForbidden
    (403, the reason said) for one they see but whose wearer's place is not for them, and
    TicketHasNoWearer (404) when no wristband is behind it.
    """
    ticket = await load_visible(conn, scope, ticket_id)
    await _check_reader(conn, scope, ticket)
    band = await wristband_of(conn, ticket)
    if band is None:
        raise TicketHasNoWearer(N_("ticket %(id)s concerns no wristband wearer"), id=ticket_id)
    device_id, resident_id, state = band
    fix = _fix(state.get("position"), tag, zone, now)
    no_fix = _when(state.get("no_fix_at"))
    note = None
    if fix is None:
        note = gettext(tag, "The wristband has not reported a position fix yet.")
    elif no_fix is not None:
        note = gettext(
            tag,
            "The wristband reported without a position fix %(time)s: "
            "the wearer may have moved since this fix.",
            time=times.time_in_sentence(no_fix, zone, tag, now=now),
        )
    return WearerPosition(
        ticket_id=ticket_id,
        device_id=device_id,
        resident_id=resident_id,
        position=fix,
        no_fix_at=times.iso_local(no_fix, zone) if no_fix is not None else None,
        note=note,
    )
