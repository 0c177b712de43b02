"""What the API needs from the running hub, handed over at app creation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import Request, Response

from hub.commands.models import CommandPublic
from hub.health import HealthMonitor
from hub.metrics import HubMetrics
from hub.notifications.base import NotificationHub
from hub.notifications.outbox import OutboxRelay
from hub.runtime import HubRuntime
from hub.settings import Settings
from hub.storage.db import Database


class CommandSender(Protocol):
    async def send(self, command: CommandPublic) -> bool:
        """Publish a stored command; True once the broker has it."""
        ...


class HubProcess(Protocol):
    """An API worker's line to the hub process (api/hub_link.py)."""

    async def forward(self, request: Request) -> Response:
        """Answer a GET only the hub process can (its health, its metrics)."""
        ...


@dataclass
class ApiContext:
    db: Database
    settings: Settings
    # Sends commands to gateways; None where the API runs without a broker (tests).
    dispatcher: CommandSender | None = None
    # Live figures for /healthz (MQTT connection, ingest counters); empty when not wired.
    health_probes: dict[str, Callable[[], Any]] = field(default_factory=dict)
    # The hub's health verdict (hub/health.py). None where not wired (tests): the
    # routes then judge the database alone.
    health: HealthMonitor | None = None
    # The plugins (live push, webhooks, ...); the SSE route finds the live push here.
    # None where not wired (tests).
    notifier: NotificationHub | None = None
    # Delivers what routes store with outbox.enqueue; poked after their commit so it
    # goes out at once. None where not wired (tests): the rows wait in the outbox.
    outbox: OutboxRelay | None = None
    # Prometheus figures for GET /metrics; None where not wired (tests): /metrics answers 404.
    metrics: HubMetrics | None = None
    # Set in an API worker process: health, metrics and commands are the hub process's,
    # asked over its local socket. None where the API runs in the hub process.
    hub: HubProcess | None = None


def context_of(hub: HubRuntime) -> ApiContext:
    """What the API needs of a running hub process."""
    return ApiContext(
        db=hub.db,
        settings=hub.settings,
        dispatcher=hub.dispatcher,
        notifier=hub.notifier,
        outbox=hub.outbox,
        metrics=hub.metrics,
        health=hub.health,
        health_probes={
            "mqtt_connected": lambda: hub.bridge.connected,
            "ingest": lambda: {
                "received": hub.bridge.received,
                "pending": hub.bridge.pending(),
                "stored": hub.worker.stats.stored,
                "duplicates": hub.worker.stats.duplicates,
                "dead_letters": hub.worker.stats.dead_letters,
                "store_failures": hub.worker.stats.store_failures,
                "set_aside": hub.worker.stats.isolated,
                "batch_limit": hub.worker.stats.batch_limit,
                "reading_paused": hub.bridge.reading_paused,
            },
            "timers": lambda: {
                "fired": hub.scheduler.stats.fired,
                "failed": hub.scheduler.stats.failed,
            },
            "dead_letter_bounds": hub.dead_letter_bounds.stats.as_dict,
            "telemetry": hub.telemetry.stats,
            "notifications": hub.outbox.status,
        },
    )
