"""A device whose alarms keep turning out false is flagged to staff.

When an alarm ticket is resolved as a false alarm or pressed by mistake, the
device's false alarms of the watched kinds (a fall detector that fires when she sits
down hard) are counted over the community's window (``false_alarms`` in its policy);
at the count, one alert opens for staff. Volunteers who are sent out for nothing
again and again stop hurrying; the device is what needs a visit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import Severity
from hub.alerts import words
from hub.alerts.service import open_or_attach_kind
from hub.devices.service import device_context
from hub.i18n.catalogs import N_, gettext, pgettext
from hub.i18n.locales import SUPPORTED
from hub.notifications.base import Notification, Recipients
from hub.policy.service import rules_for
from hub.residents.service import who_and_where
from hub.schema.alerts import alerts
from hub.schema.tickets import tickets
from hub.tickets.models import FALSE_DISPOSITIONS, TicketPublic
from hub.users.models import Role

SEVERITY = Severity.MEDIUM


async def false_alarms_of(
    conn: AsyncConnection, device_id: str, kinds: list[str], since: datetime
) -> int:
    """The device's alarms of ``kinds`` raised since ``since`` and resolved as false."""
    found = await conn.execute(
        sa.select(sa.func.count())
        .select_from(tickets.join(alerts, alerts.c.id == tickets.c.alert_id))
        .where(
            alerts.c.device_id == device_id,
            alerts.c.kind.in_(kinds),
            alerts.c.opened_at >= since,
            tickets.c.disposition.in_(sorted(FALSE_DISPOSITIONS)),
        )
    )
    return int(found.scalar_one())


async def flag_repeated(
    conn: AsyncConnection, ticket: TicketPublic, now: datetime
) -> list[Notification]:
    """After ``ticket`` was resolved: the alert for staff if its device has now had too
    many false alarms (its notifications, to be stored with the transaction)."""
    if ticket.alert_id is None or ticket.disposition not in FALSE_DISPOSITIONS:
        return []
    alarm = (
        await conn.execute(
            sa.select(alerts.c.device_id, alerts.c.kind).where(alerts.c.id == ticket.alert_id)
        )
    ).first()
    if alarm is None:
        return []
    watch = (await rules_for(conn, ticket.community_id)).false_alarms
    if not watch.enabled or alarm.kind not in watch.kinds:
        return []
    count = await false_alarms_of(
        conn, alarm.device_id, watch.kinds, now - timedelta(days=watch.within_days)
    )
    ctx = await device_context(conn, alarm.device_id)
    if count < watch.count or ctx is None:
        return []
    people = await who_and_where(conn, ctx)
    titles = {
        language: gettext(
            language,
            N_("%(device)s: %(count)s false alarms (%(what)s) in %(days)s days; check the device"),
            device=ctx.name,
            count=count,
            what=pgettext(language, "list separator", ", ").join(
                words.what(kind, language) for kind in watch.kinds
            ),
            days=watch.within_days,
        )
        for language in SUPPORTED
    }
    outcome = await open_or_attach_kind(
        conn,
        device_id=ctx.device_id,
        kind=watch.alert_kind,
        severity=SEVERITY,
        at=now,
        ctx=ctx,
        summary=titles[people.language],
        titles=titles,
    )
    if not outcome.opened or ctx.community_id is None:
        return []  # already flagged: the open alert counts this one as a repeat
    return [
        Notification(
            kind="alert.opened",
            title=titles[people.language],
            titles=titles,
            alert_id=outcome.alert_id,
            device_kind=watch.alert_kind,
            # Staff only: the alarms were elderly care, which property managers do not see.
            recipients=Recipients(roles=(Role.COMMUNITY_STAFF,), community_id=ctx.community_id),
            severity=SEVERITY,
        )
    ]
