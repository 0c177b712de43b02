"""Notifications: who hears about a ticket or an alarm, through which channels.

See :mod:`hub.notifications.base` for the plugin interface and
:mod:`hub.notifications.outbox` for how a notification is stored with the
transaction that produced it and delivered from there (on every hub).
"""

from hub.notifications.base import (
    Delivery,
    Notification,
    NotificationHub,
    Notifier,
    Recipients,
)
from hub.notifications.live import LiveNotifier
from hub.notifications.outbox import OutboxRelay, enqueue
from hub.notifications.service import residents_in
from hub.notifications.webhook import WebhookNotifier, sign

__all__ = [
    "Delivery",
    "LiveNotifier",
    "Notification",
    "NotificationHub",
    "Notifier",
    "OutboxRelay",
    "Recipients",
    "WebhookNotifier",
    "enqueue",
    "residents_in",
    "sign",
]
