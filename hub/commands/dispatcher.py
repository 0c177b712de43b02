"""Sends stored commands to gateways; retries what the broker did not take; expires the rest."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from chub_mqtt.topics import command_topic
from hub.bridge.mqtt_bridge import MqttBridge
from hub.commands import service
from hub.commands.models import CommandPublic
from hub.storage.db import Database

log = logging.getLogger(__name__)


class CommandDispatcher:
    def __init__(self, db: Database, bridge: MqttBridge, retry_every_s: float = 5.0) -> None:
        self._db = db
        self._bridge = bridge
        self._retry_every_s = retry_every_s

    async def send(self, command: CommandPublic) -> bool:
        """Publish one stored command; True once the broker has it (then it is 'sent')."""
        payload = service.to_wire(command).model_dump_json().encode()
        topic = command_topic(command.gateway_id, command.device_id)
        if not await self._bridge.publish(topic, payload):
            log.warning("command %s not on the broker yet; will retry", command.id)
            return False
        async with self._db.write() as conn:
            await service.mark_sent(conn, command.id, datetime.now(UTC))
        return True

    async def sweep(self) -> None:
        """Expire what waited too long in the hub; resend what never reached the broker."""
        now = datetime.now(UTC)
        async with self._db.write() as conn:
            expired = await service.expire_unsent(conn, now)
            waiting = await service.unsent(conn, now)
        if expired:
            log.info("%d command(s) expired before reaching a gateway", expired)
        for command in waiting:
            if not await self.send(command):
                break  # the broker is away; try again next sweep

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._retry_every_s)
            try:
                await self.sweep()
            except Exception:  # keep sweeping: a failed sweep is retried next time
                log.exception("command sweep failed")
