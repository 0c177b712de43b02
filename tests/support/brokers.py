"""Real MQTT brokers for tests: a Mosquitto process and free ports.

The Mosquitto configuration is derived from the one we ship,
``docker/mosquitto/mosquitto.conf``: every tuning line is kept as it is, and
only what cannot work in a test is rewritten (listener on 127.0.0.1 and a free
port, persistence in a temporary directory, anonymous clients without password
or ACL files). A test against this broker therefore tests the production
tuning too.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from community_hub_tools.broker.mosquitto import (
    INSTALL_HINT,
    MOSQUITTO_CONF,
    REQUIRED_TUNING,
    MosquittoProcess,
    derive_test_config,
    find_mosquitto,
    free_port,
)
from tests.support.missing import missing

__all__ = [
    "MOSQUITTO_CONF",
    "REQUIRED_TUNING",
    "MosquittoProcess",
    "MqttRecorder",
    "derive_test_config",
    "find_mosquitto",
    "free_port",
    "start_mosquitto",
]


def _require_mosquitto() -> str:
    binary = find_mosquitto()
    if binary is not None:
        return binary
    missing(INSTALL_HINT)


def start_mosquitto(tmp_dir: Path, port: int) -> MosquittoProcess:
    """Start a test Mosquitto on 127.0.0.1:``port`` with its files under ``tmp_dir``.

    Skips the test if Mosquitto is not installed, unless ``CI=true``, where
    that is an error.
    """
    broker = MosquittoProcess(_require_mosquitto(), tmp_dir, port)
    broker.write_config()
    broker.start()
    return broker


class MqttRecorder:
    """A paho-mqtt 2 client that records what it receives, with blocking waits.

    Every method blocks (with a timeout), so a test whose broker runs on its
    own event loop (the embedded broker) must call them through
    ``asyncio.to_thread``.
    """

    def __init__(
        self, client_id: str, *, clean_session: bool = True, manual_ack: bool = False
    ) -> None:
        self.client_id = client_id
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            manual_ack=manual_ack,
        )
        self.messages: list[mqtt.MQTTMessage] = []
        self.session_present: bool | None = None
        self.granted_qos: list[int] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(
        self, _client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if not reason.is_failure:
            self.session_present = bool(flags.session_present)
            self._connected.set()

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any
    ) -> None:
        self.granted_qos = [int(reason.value) for reason in reasons]
        self._subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def connect(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            raise TimeoutError(f"{self.client_id}: no CONNACK from {host}:{port}")

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 5.0) -> list[int]:
        self._subscribed.clear()
        self.client.subscribe(topic, qos=qos)
        if not self._subscribed.wait(timeout):
            raise TimeoutError(f"{self.client_id}: no SUBACK for {topic}")
        return self.granted_qos

    def publish_many(
        self, topic: str, payloads: list[bytes], qos: int = 1, timeout: float = 30.0
    ) -> None:
        """Publish all, then wait until the broker acknowledged every one."""
        infos = [self.client.publish(topic, payload, qos=qos) for payload in payloads]
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            if not info.is_published():
                raise TimeoutError(f"{self.client_id}: message {info.mid} not acknowledged")

    def wait_for_count(self, count: int, timeout: float) -> int:
        """Wait until ``count`` messages arrived or ``timeout`` passed; return how many did."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return len(self.messages)

    def settle(self, quiet_s: float = 0.5, timeout: float = 10.0) -> int:
        """Wait until no message arrived for ``quiet_s``; return how many arrived in all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while time.monotonic() < deadline:
                before = len(self.messages)
                self._changed.wait(quiet_s)
                if len(self.messages) == before:
                    break
            return len(self.messages)

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [bytes(message.payload) for message in self.messages]

    def ack_all(self) -> None:
        with self._lock:
            pending = list(self.messages)
        for message in pending:
            self.client.ack(message.mid, message.qos)

    def close(self) -> None:
        """Disconnect cleanly (a persistent session stays on the broker) and stop the loop."""
        self.client.disconnect()
        self.client.loop_stop()
