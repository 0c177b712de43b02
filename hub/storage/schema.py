"""Import every domain's tables so the shared MetaData is complete (Alembic and tests use it)."""

from __future__ import annotations

from hub.alerts.tables import alerts
from hub.commands.tables import device_commands
from hub.deadletters.tables import dead_letters
from hub.devices.tables import devices
from hub.duty.tables import duty_rota
from hub.events.tables import events
from hub.gateways.tables import gateways
from hub.grid.tables import buildings, communities, grids, households, streets
from hub.residents.tables import family_contacts, residents
from hub.storage.metadata import metadata
from hub.tickets.tables import ticket_log, tickets
from hub.users.tables import users

__all__ = [
    "alerts",
    "buildings",
    "communities",
    "dead_letters",
    "device_commands",
    "devices",
    "duty_rota",
    "events",
    "family_contacts",
    "gateways",
    "grids",
    "households",
    "metadata",
    "residents",
    "streets",
    "ticket_log",
    "tickets",
    "users",
]
