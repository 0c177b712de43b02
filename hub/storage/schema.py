"""Import every domain's tables so the shared MetaData is complete (Alembic and tests use it)."""

from __future__ import annotations

from hub.schema.alerts import alerts
from hub.schema.base import metadata
from hub.schema.chargers import charger_reservations
from hub.schema.commands import device_commands
from hub.schema.deadletters import dead_letters
from hub.schema.devices import devices
from hub.schema.duty import duty_rota
from hub.schema.events import events
from hub.schema.gateways import gateways
from hub.schema.grid import buildings, communities, grids, households, streets
from hub.schema.notifications import notification_outbox
from hub.schema.points import points_ledger
from hub.schema.residents import access_credentials, family_contacts, resident_activity, residents
from hub.schema.rules import community_rules
from hub.schema.telemetry import telemetry_points, telemetry_rollups
from hub.schema.tickets import escalations, ticket_handlers, ticket_log, tickets
from hub.schema.timers import timers
from hub.schema.users import login_failures, login_known_addresses, refresh_tokens, users

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
