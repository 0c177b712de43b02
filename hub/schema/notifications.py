"""The notification outbox: every notification, stored in the transaction that produced it.

A row exists exactly when its producer's transaction committed. ``id`` orders
rows for the live feed each hub tails; ``delivered_at`` is set once the external
channels (webhooks, SMS, ...) took the notification. ``claimed_until`` is the end
of a hub's claim while it delivers, or, after a failure, the time of the next try;
NULL means never tried. ``delivered_to`` names the channels that already took it,
so a retry after one channel failed does not repeat the others.

``sqlite_autoincrement``: without it SQLite may hand out an id again once the
newest rows are purged, and a hub tailing by id would never see the new row.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

notification_outbox = sa.Table(
    "notification_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("notification_id", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("delivered_at", UtcDateTime),
    sa.Column("delivered_to", sa.JSON, nullable=False, default=list),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claimed_by", sa.String(80)),
    sa.Column("claimed_until", UtcDateTime),
    sa.Column("last_error", sa.String(500)),
    # What the senders look for: undelivered rows whose claim (or back-off) is over.
    sa.Index(
        "ix_notification_outbox_due",
        "claimed_until",
        sqlite_where=sa.text("delivered_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL"),
    ),
    sa.Index("ix_notification_outbox_created_at", "created_at"),
    sqlite_autoincrement=True,
)


# What each outside channel (WeCom, DingTalk, Feishu robots; SMS) did for each person or
# group it was to reach with a notification: ``sent``, ``failed`` (tried again) or
# ``refused`` (for good, e.g. a bad number), with the vendor's reason. One row per
# (notification, channel, recipient), updated on each try, so a retry of the channel
# skips whoever already has it and an operator can see who did not.
# ``permanent``: retrying cannot help (a phone number the vendor refuses, bad credentials).
notification_deliveries = sa.Table(
    "notification_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("notification_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    # "user:12", "contact:+8613800000000", "group:wecom" (a robot's chat group).
    sa.Column("recipient", sa.String(128), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("permanent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reason", sa.String(500)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("at", UtcDateTime, nullable=False),
    # The ticket the notification was about, if any: its page shows who was reached.
    sa.Column("ticket_id", sa.Integer),
    sa.UniqueConstraint("notification_id", "channel", "recipient"),
    sa.Index("ix_notification_deliveries_at", "at"),
    sa.Index("ix_notification_deliveries_ticket_id", "ticket_id"),
)


# How each person wants to be reached outside the open page (docs/channels.md): which
# channels may carry their notifications and their quiet hours (local "HH:MM", in their
# community's zone; an end before the start runs past midnight). No row: every channel,
# no quiet hours. Critical alarms ignore both (hub/notifications/preferences.py).
notification_preferences = sa.Table(
    "notification_preferences",
    metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # Channels switched off, e.g. ["sms"]; what is not listed is on.
    sa.Column("channels_off", sa.JSON, nullable=False, default=list),
    sa.Column("quiet_start", sa.String(5)),
    sa.Column("quiet_end", sa.String(5)),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)


# Web Push subscriptions (hub/notifications/push/): one per browser or installed app on a
# device, as its push service handed it to the page (PushSubscription.toJSON()). It belongs
# to the user logged in when it was made; a new login on the device takes it over. The
# push service answering 404/410 (the person revoked permission, the app was removed)
# deletes the row. ``endpoint`` is a capability URL: whoever has it can push to the device.
push_subscriptions = sa.Table(
    "push_subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("endpoint", sa.String(1024), nullable=False, unique=True),
    sa.Column("p256dh", sa.String(128), nullable=False),  # the device's P-256 key, base64url
    sa.Column("auth", sa.String(64), nullable=False),  # its 16-byte auth secret, base64url
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_push_subscriptions_user_id", "user_id"),
)
