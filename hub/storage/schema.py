"""Import every domain's tables so the shared MetaData is complete (Alembic and tests use it)."""

from __future__ import annotations

from hub.alerts.tables import alerts
from hub.chargers.tables import charger_reservations
from hub.commands.tables import device_commands
from hub.deadletters.tables import dead_letters
from hub.devices.tables import devices
from hub.duty.tables import duty_rota
from hub.events.tables import events
from hub.gateways.tables import gateways
from hub.grid.tables import buildings, communities, grids, households, streets
from hub.notifications.tables import notification_outbox
from hub.points.tables import points_ledger
from hub.residents.tables import access_credentials, family_contacts, resident_activity, residents
from hub.rules.tables import community_rules
from hub.storage.metadata import metadata
from hub.telemetry.tables import telemetry_points, telemetry_rollups
from hub.tickets.tables import escalations, ticket_handlers, ticket_log, tickets
from hub.timers.tables import timers
from hub.users.tables import login_failures, login_known_addresses, refresh_tokens, users

__all__ = [
    "access_credentials",
    "alerts",
    "buildings",
    "charger_reservations",
    "communities",
    "community_rules",
    "dead_letters",
    "device_commands",
    "devices",
    "duty_rota",
    "escalations",
    "events",
    "family_contacts",
    "gateways",
    "grids",
    "households",
    "login_failures",
    "login_known_addresses",
    "metadata",
    "notification_outbox",
    "points_ledger",
    "refresh_tokens",
    "resident_activity",
    "residents",
    "streets",
    "telemetry_points",
    "telemetry_rollups",
    "ticket_handlers",
    "ticket_log",
    "tickets",
    "timers",
    "users",
]
