"""The hub process: database, MQTT bridge and ingest worker, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hub.bridge.mqtt_bridge import MqttBridge
from hub.clock import Clock
from hub.commands.dispatcher import CommandDispatcher
from hub.deadletters.bounds import DeadLetterBounds, Limits, use_bounds
from hub.deadletters.service import DeadLetterRetention
from hub.health import HealthMonitor, Observed, Thresholds
from hub.ingest.worker import IngestWorker, OutcomeListener
from hub.metrics import HubMetrics
from hub.notifications import (
    LiveNotifier,
    NotificationHub,
    OutboxRelay,
    WebhookNotifier,
    residents_in,
)
from hub.notifications.channels import from_settings as channels_from_settings
from hub.notifications.push.keys import load_or_create as vapid_keys
from hub.notifications.push.notifier import WebPushNotifier
from hub.notifications.wakeup import listen_for_notifications, listens
from hub.settings import Settings
from hub.storage.db import Database
from hub.telemetry.wiring import Telemetry
from hub.timer_kinds import timer_kinds
from hub.timers.scheduler import Scheduler

log = logging.getLogger(__name__)


class HubRuntime:
    def __init__(
        self,
        settings: Settings,
        listeners: list[OutcomeListener] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.db = Database.open(settings.resolved_database_url)
        self.bridge = MqttBridge(settings)
        self.worker = IngestWorker(self.db, self.bridge, settings.ingest, listeners)
        # Dead letters: bounded as they are stored (inside the ingest's transaction),
        # purged after dead_letters.keep_days.
        self.dead_letter_bounds = DeadLetterBounds(Limits.from_settings(settings.dead_letters))
        use_bounds(self.db, self.dead_letter_bounds)
        self.dead_letter_retention = DeadLetterRetention(
            self.db, settings.dead_letters.keep_days, clock=clock
        )
        # Prometheus figures (GET /metrics). Its listener goes first, so the alert
        # latency it measures ends at the commit, not after the other listeners.
        self.metrics = HubMetrics(self.db, self)
        self.worker.add_listener(self.metrics.outcomes)
        self.dispatcher = CommandDispatcher(self.db, self.bridge)
        # Live push built in; webhooks when configured; more channels: self.notifier.register(...).
        # A channel must finish well within the outbox claim, or another hub sends it too.
        notifications = settings.notifications
        self.notifier = NotificationHub(
            [LiveNotifier()],
            residents=residents_in(self.db),
            plugin_timeout_s=notifications.plugin_timeout_s,
        )
        if notifications.webhook_urls:
            signing = notifications.webhook_secret
            secret = signing.get_secret_value() if signing else None
            self.notifier.register(WebhookNotifier(notifications.webhook_urls, secret=secret))
        # Group robots (WeCom, DingTalk, Feishu) and SMS, each when HUB_CHANNELS_* sets it.
        for channel in channels_from_settings(
            self.db, settings.channels, timezone=settings.timezone
        ):
            self.notifier.register(channel)
        # Web Push to the inboxes installed on phones (on unless HUB_PUSH_ENABLED=false).
        if settings.push.enabled:
            self.notifier.register(
                WebPushNotifier(
                    self.db,
                    vapid_keys(settings.push, settings.data_dir),
                    subject=settings.push.vapid_subject,
                    ttl_s=settings.push.ttl_s,
                )
            )
        # Notifications are stored with the transaction that made them (ingest, timers,
        # API); the relay delivers them from the outbox and feeds this hub's live push
        # with every hub's. A commit here pokes it, so nothing waits for its poll.
        self.outbox = OutboxRelay(
            self.db,
            self.notifier,
            name=settings.mqtt.client_id,
            claim_s=notifications.claim_s,
            keep_days=notifications.keep_days,
        )
        self.worker.add_listener(self.outbox.after_ingest)
        # Escalation steps, time limits and conditions over time: stored timers.
        self.scheduler = Scheduler(
            self.db,
            self.outbox.committed,
            kinds=timer_kinds(),
            clock=clock,
            name=settings.mqtt.client_id,
        )
        # Measurements to InfluxDB and the embedded history, from committed batches only.
        self.telemetry = Telemetry(self.db, settings.telemetry, settings.influx, clock=clock)
        if self.telemetry.feed is not None:
            self.worker.add_listener(self.telemetry.feed)
        # /healthz, /readyz, the dashboard and /metrics share one verdict (hub/health.py).
        self.health = HealthMonitor(
            self.db,
            Thresholds.from_settings(settings.health),
            self._observe_health,
            database_timeout_s=settings.health.database_timeout_s,
        )
        self._tasks: list[asyncio.Task[None]] = []

    def _observe_health(self) -> Observed:
        ingest, timers = self.worker.stats, self.scheduler.stats
        return Observed(
            broker_connected=self.bridge.connected,
            pending=self.bridge.pending(),
            last_commit_at=ingest.last_commit_at,
            commits_failing_since=ingest.failing_since,
            set_aside=ingest.isolated,
            timers_failing_since=timers.failing_since,
        )

    async def start(self) -> None:
        await self.db.migrate()
        await self.outbox.start()
        await self.bridge.start()
        self._tasks = [
            asyncio.create_task(self.worker.run(), name="hub-ingest"),
            asyncio.create_task(self.dispatcher.run(), name="hub-commands"),
            asyncio.create_task(self.scheduler.run(), name="hub-timers"),
            asyncio.create_task(self.outbox.run(), name="hub-notifications"),
            asyncio.create_task(self.dead_letter_retention.run(), name="hub-dead-letter-purge"),
        ]
        if listens(self.settings.resolved_database_url):
            # Notifications committed by API workers and other hubs: delivered at once.
            self._tasks.append(
                asyncio.create_task(
                    listen_for_notifications(self.settings.resolved_database_url, self.outbox.poke),
                    name="hub-notification-wakeup",
                )
            )
        for name, job in self.telemetry.jobs().items():
            self._tasks.append(asyncio.create_task(job, name=name))
        log.info("hub started: store %s", self.settings.resolved_database_url)

    async def stop(self) -> None:
        # The relay first, so it ends between transactions and records its deliveries.
        await self.outbox.aclose()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.bridge.stop()
        await self.telemetry.aclose()
        await self.notifier.aclose()
        await self.db.close()
