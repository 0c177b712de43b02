"""Where and as whom a client connects: the typed connection object of :class:`Client`.

Callers build it from their own settings (the hub from ``HUB_MQTT_*``, the edge from
its own), so this package needs no settings of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal


@dataclass(frozen=True)
class Tls:
    """TLS to the broker. Without ``ca_file`` the system's certificate authorities."""

    ca_file: str | None = None
    cert_file: str | None = None  # a client certificate, for brokers that ask for one
    key_file: str | None = None


@dataclass(frozen=True)
class MqttConnection:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive_s: int = 30
    # The version tried first: "5" falls back to "3.1.1" once if the broker refuses it.
    protocol: Literal["5", "3.1.1"] = "5"
    tls: Tls | None = None
    # paho's reconnect backoff: from the first, doubling up to the second.
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30

    def with_client_id(self, client_id: str) -> MqttConnection:
        return replace(self, client_id=client_id)
