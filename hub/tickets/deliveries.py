"""Who a ticket's notifications reached, channel by channel (the group robots, SMS): what
staff look at when an alarm went unanswered, and where they see that a step ran.

Read from ``notification_deliveries`` (kept by the channels, hub/notifications/channels/
outcomes.py), in the reader's language and the community's zone. Staff only: it names
people and phone numbers of everyone told, which a volunteer has no need to see.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.access.scope import Scope
from hub.i18n import times
from hub.i18n.catalogs import N_, NP_, Label, label, pgettext
from hub.i18n.formats import phone_for_reading
from hub.schema.notifications import notification_deliveries as deliveries
from hub.schema.users import users
from hub.tickets.service import TicketForbidden, load_visible

CHANNEL_WORDS: Final[Mapping[str, Label]] = {
    "wecom": NP_("channel", "WeCom group robot"),
    "dingtalk": NP_("channel", "DingTalk robot"),
    "feishu": NP_("channel", "Feishu bot"),
    "sms": NP_("channel", "SMS"),
    "aliyun": NP_("channel", "SMS"),
    "tencent": NP_("channel", "SMS"),
    "webpush": NP_("channel", "Phone notification"),
}
OUTCOME_WORDS: Final[Mapping[str, Label]] = {
    "sent": NP_("delivery", "Sent"),
    "failed": NP_("delivery", "Failed, will be tried again"),
    "refused": NP_("delivery", "Refused for good"),
}


class Delivery(BaseModel):
    channel: str = Field(description="the channel's name: wecom, dingtalk, feishu, sms ...")
    channel_label: str
    recipient: str = Field(description='"user:12", "contact:+8613800000000" or "group:wecom"')
    recipient_label: str = Field(description="the person as written, a number grouped, a chat")
    outcome: str = Field(description="sent, failed (tried again) or refused (for good)")
    outcome_label: str
    reason: str | None = Field(description="the vendor's reason when it was not sent")
    attempts: int
    at: datetime = Field(description="the last attempt, ISO 8601")
    at_label: str = Field(description="the same in the community's zone, in words")


async def ticket_deliveries(
    conn: AsyncConnection, scope: Scope, ticket_id: int, tag: str, zone: ZoneInfo
) -> list[Delivery]:
    """Every channel's outcome for the notifications about one ticket, newest first; for
    admins, community staff and property managers who may see the ticket."""
    await load_visible(conn, scope, ticket_id)  # 404 for a ticket the caller cannot see
    if not (scope.sees_everything or scope.is_community_wide):
        raise TicketForbidden(N_("only staff see who a ticket's notifications reached"))
    rows = (
        await conn.execute(
            sa.select(deliveries, users.c.full_name)
            .select_from(
                deliveries.outerjoin(
                    users,
                    deliveries.c.recipient == sa.literal("user:") + sa.cast(users.c.id, sa.String),
                )
            )
            .where(deliveries.c.ticket_id == ticket_id)
            .order_by(deliveries.c.at.desc(), deliveries.c.id.desc())
        )
    ).all()
    return [
        Delivery(
            channel=r.channel,
            channel_label=label(CHANNEL_WORDS, r.channel, tag),
            recipient=r.recipient,
            recipient_label=_recipient(r.recipient, r.full_name, tag),
            outcome=r.outcome,
            outcome_label=label(OUTCOME_WORDS, r.outcome, tag),
            reason=r.reason,
            attempts=r.attempts,
            at=r.at,
            at_label=times.local_time(r.at, zone, tag),
        )
        for r in rows
    ]


def _recipient(recipient: str, full_name: str | None, tag: str) -> str:
    kind, _, value = recipient.partition(":")
    if kind == "user" and full_name:
        return full_name
    if kind == "contact":
        return phone_for_reading(value)
    if kind == "group":
        return pgettext(tag, "delivery", "the group chat")
    return recipient
