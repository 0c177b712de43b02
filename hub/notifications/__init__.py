"""Notifications: who hears about a ticket or an alarm, through which channels.

See :mod:`hub.notifications.base` for the plugin interface.
"""

from hub.notifications.base import (
    Notification,
    NotificationHub,
    Notifier,
    Recipients,
)
from hub.notifications.live import LiveNotifier
from hub.notifications.service import TicketNotifications, residents_in
from hub.notifications.webhook import WebhookNotifier, sign

__all__ = [
    "LiveNotifier",
    "Notification",
    "NotificationHub",
    "Notifier",
    "Recipients",
    "TicketNotifications",
    "WebhookNotifier",
    "residents_in",
    "sign",
]
