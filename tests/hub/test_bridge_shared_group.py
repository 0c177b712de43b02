"""Two hubs in one shared-subscription group on a real Mosquitto.

Telemetry is shared out (each message to one hub); device availability and
gateway status are read in full by every hub: the retained copies (which an
MQTT 5 broker need not send to a shared subscription, 4.8.2; Mosquitto 2.0
does anyway) and every live report, so each hub applies them all in order.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chub_mqtt.topics import availability_topic, event_topic, gateway_status_topic
from device_adapters.model import DeviceAvailability, Lane
from hub.bridge.mqtt_bridge import MqttBridge
from tests.support.bridges import publish, take_until_quiet
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import wristband_event
from tests.support.stack import stack_settings

pytestmark = pytest.mark.e2e


async def test_retained_state_reaches_every_hub_and_telemetry_is_shared(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    offline = DeviceAvailability(
        device_id="watch:8800000777",
        gateway_id="edge-7",
        online=False,
        reason="heartbeat_timeout",
        at=wristband_event("8800000777", "wristband.heartbeat").received_at,
    )
    # Published (retained) before any hub of the group has ever subscribed.
    await asyncio.to_thread(
        publish,
        mosquitto.host,
        mosquitto.port,
        [
            (
                availability_topic("edge-7", offline.device_id),
                offline.model_dump_json().encode(),
                True,
            ),
            (gateway_status_topic("edge-7"), b"online", True),
        ],
    )
    # Bridges only: a group needs a PostgreSQL URL in the settings, none is opened here.
    unused_store = "postgresql+asyncpg://hub@127.0.0.1:5432/unused"
    bridges = [
        MqttBridge(
            stack_settings(
                tmp_path / f"hub-{n}",
                mosquitto.host,
                mosquitto.port,
                mqtt={"shared_group": "hubs"},
                database={"url": unused_store},
            )
        )
        for n in range(2)
    ]
    for bridge in bridges:
        await bridge.start()
    try:
        for bridge in bridges:
            assert await bridge.wait_connected(10)
        telemetry = []
        for i in range(40):
            event = wristband_event("8800000777", "wristband.heartbeat", values={"steps": i})
            topic = event_topic("edge-7", Lane.TELEMETRY, event.device_id)
            telemetry.append((topic, event.model_dump_json().encode(), False))
        back = offline.model_copy(update={"online": True, "reason": "connected"})
        # Live state, not retained: every hub must still get it, in order.
        telemetry.append(
            (availability_topic("edge-7", back.device_id), back.model_dump_json().encode(), False)
        )
        await asyncio.to_thread(publish, mosquitto.host, mosquitto.port, telemetry)

        got = [await take_until_quiet(bridge, ack=True) for bridge in bridges]
        for items in got:
            topics = [i.topic for i in items]
            assert topics.count(availability_topic("edge-7", offline.device_id)) == 2
            assert gateway_status_topic("edge-7") in topics
        shares = [sum(1 for i in items if i.lane is Lane.TELEMETRY) for items in got]
        assert sum(shares) == 40, f"each telemetry message once in the group, got {shares}"
        assert all(share > 0 for share in shares), f"both hubs took a share: {shares}"
    finally:
        for bridge in bridges:
            await bridge.stop()
