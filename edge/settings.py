"""The edge gateway's settings, read from ``EDGE_*`` environment variables.

An edge gateway is its own process on its own machine (``community-hub edge``): it
reads only what it needs, under its own names. The attribute names are the ones the
edge's modules read (``settings.mqtt_host``, ``settings.watch_port``, ...); the
environment name of each is ``EDGE_`` and the attribute without a leading ``edge_``
(``gateway_id``: EDGE_GATEWAY_ID, ``edge_max_in_flight``: EDGE_MAX_IN_FLIGHT).

Until this release the edge read the hub's ``HUB_*`` names (``HUB_GATEWAY_ID``,
``HUB_EDGE_MAX_IN_FLIGHT``: ``HUB_`` and the attribute). They still work for one
release, each logged as deprecated with the name that replaces it; an ``EDGE_*``
name set beside it wins.

The pieces both faces share (secret strength, renamed names, list values) live here
because the edge cannot import the hub; hub/settings.py uses them too.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

log = logging.getLogger(__name__)

# Device-facing servers an edge gateway can run; all of them unless told otherwise.
# Device-facing servers an edge gateway runs unless told otherwise. A server is named
# after its stream adapter, or after its transport (edge/hosting.py): an installed
# adapter package adds a name the edge knows, so the names are checked there.
EDGE_SERVERS = ("watch", "iw", "ebike", "ocpp", "http_push", "local_mqtt")
# The port settings before EDGE_PORTS, kept for one release: field -> server.
LEGACY_EDGE_PORTS = {
    "watch_port": "watch",
    "iw_port": "iw",
    "ebike_port": "ebike",
    "ocpp_port": "ocpp",
    "http_push_port": "http_push",
}

DEMO_JWT_SECRET = "demo-only-secret-change-me-in-any-real-deployment"


class InsecureSettingsError(ValueError):
    """A non-demo deployment kept a default secret, chose a weak one, or left a door open."""


# A production secret must look random. Whitespace is usually a copy-and-paste slip (a
# line break from a file, a space from a document); a repeated pattern ("abcabc…") or a
# handful of symbols ("abbaab…") is guessable however long it is. A random value of the
# advised kind has about 30 distinct characters in 48 (hex: about 14 in 32).
SECRET_MIN_DISTINCT = 10
SECRET_ADVICE = "python3 -c 'import secrets; print(secrets.token_urlsafe(36))'"


def _repeats(text: str) -> bool:
    """``text`` is a shorter piece said at least twice (the last time perhaps cut short)."""
    return any(text[p:] == text[:-p] for p in range(1, len(text) // 2 + 1))


def secret_weakness(secret: str, min_length: int) -> str | None:
    """Why ``secret`` is unsafe, None if it is not. The reason never quotes the secret."""
    if secret == DEMO_JWT_SECRET:
        return "still has the demo value, which is published"
    if len(secret) < min_length:
        return f"must be at least {min_length} characters"
    if any(c.isspace() for c in secret):
        return "contains whitespace (a space, tab or line break: a copy-and-paste slip?)"
    if _repeats(secret):
        return "repeats a shorter pattern"
    distinct = len(set(secret))
    if distinct < SECRET_MIN_DISTINCT:
        return f"has only {distinct} distinct characters (at least {SECRET_MIN_DISTINCT})"
    return None


def refuse_weak_secrets(checked: tuple[tuple[str, SecretStr | None, int], ...]) -> None:
    """Raise for the first (name, secret, min_length) that is set and weak (named, never quoted)."""
    for name, secret, min_length in checked:
        if secret is None:
            continue
        reason = secret_weakness(secret.get_secret_value(), min_length)
        if reason is not None:
            raise InsecureSettingsError(
                f"{name} {reason}; outside demo mode set a long random value, e.g. {SECRET_ADVICE}"
            )


def split_list(value: object) -> object:
    """A list from the environment: comma-separated (``watch,ocpp``) or a JSON list."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EnvNamesSource(PydanticBaseSettingsSource):
    """Values under environment names of our choosing, renamed ones among them.

    ``names`` maps each environment name to where its value goes (a field, or a
    section and its field). A name in ``renamed`` (old name -> new name) is read only
    when the new one is not set, and each use is logged as deprecated, naming the new
    one. Names are case-insensitive, as pydantic-settings reads them.
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        names: Mapping[str, tuple[str, ...]],
        renamed: Mapping[str, str],
        logger: logging.Logger = log,
    ) -> None:
        super().__init__(settings_cls)
        self._names = names
        self._renamed = renamed
        self._log = logger

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # all of it is read in __call__

    def __call__(self) -> dict[str, Any]:
        env = {key.upper(): value for key, value in os.environ.items()}
        values: dict[str, Any] = {}
        for name, path in self._names.items():
            if name not in env:
                continue
            new = self._renamed.get(name)
            if new is not None:
                if new in env:
                    continue  # the new name is set: it wins
                self._log.warning(
                    "%s is deprecated and will stop working: set %s instead", name, new
                )
            target = values
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = env[name]
        return values


def _env_name(field: str) -> str:
    return "EDGE_" + field.removeprefix("edge_").upper()


class EdgeSettings(BaseSettings):
    """Everything an edge gateway reads: its id, the broker, its servers and their bounds."""

    # Errors never repeat the input: it holds the secrets (EDGE_MQTT_PASSWORD, ...).
    model_config = SettingsConfigDict(extra="forbid", hide_input_in_errors=True)

    # "demo" only for `community-hub demo` and code; `community-hub edge` runs in
    # production whatever is set here (hub.cli, docs/deployment.md).
    mode: Literal["demo", "production"] = "demo"
    data_dir: Path = Path(".hub-data")
    gateway_id: str = Field(default="edge-1", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")

    # The MQTT broker the edge forwards to (the hub's broker).
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=3600)
    # The MQTT version the uplink tries first. With "5" it falls back to 3.1.1 by
    # itself on a broker without MQTT 5 (after a refused CONNECT or 3 s without a
    # CONNACK); "3.1.1" starts there (the demo's embedded amqtt broker).
    mqtt_protocol: Literal["5", "3.1.1"] = "5"

    edge_host: str = "0.0.0.0"
    edge_servers: Annotated[list[str], NoDecode] = Field(
        default=list(EDGE_SERVERS), description="which device servers the edge runs"
    )
    # Server name -> port, where a server is not to listen on its adapter's default
    # port: EDGE_PORTS=watch=5088,iw=6000, or a JSON object.
    edge_ports: Annotated[dict[str, Annotated[int, Field(ge=1, le=65535)]], NoDecode] = Field(
        default_factory=dict, description="device server ports other than the adapters' own"
    )
    # Deprecated (one release): EDGE_PORTS names these ports now. Each reads back the
    # port in force, for readers not yet moved over.
    watch_port: int = Field(default=5088, ge=1, le=65535)
    iw_port: int = Field(default=5089, ge=1, le=65535)
    ebike_port: int = Field(default=5090, ge=1, le=65535)
    ocpp_port: int = Field(default=9000, ge=1, le=65535)
    http_push_port: int = Field(default=8090, ge=1, le=65535)
    edge_publish_timeout_s: float = Field(default=10.0, gt=0)
    edge_max_in_flight: int = Field(default=1000, ge=1, le=60_000)
    # Durable outbox (edge/outbox.py): None puts it in data_dir. When the rows
    # exceed max_bytes, old telemetry is thinned; alarms are never dropped.
    edge_outbox_path: Path | None = None
    edge_outbox_max_bytes: int = Field(default=256 * 1024 * 1024, ge=4096)
    # The outbox's report to the hub (chub/v1/edge/<id>/outbox, edge/outbox_report.py):
    # every this many seconds; "filling" when the outbox holds this share of its bound
    # or the disk under it has less than this many bytes free (the hub then alerts).
    edge_outbox_report_s: float = Field(default=60.0, gt=0, le=3600)
    edge_outbox_warn_ratio: float = Field(default=0.5, gt=0, le=1)
    edge_disk_free_warn_bytes: int = Field(default=512 * 1024 * 1024, ge=0)
    # End-to-end acknowledgement (docs/delivery.md): an item the broker acknowledged
    # stays in the outbox until the hub confirms it has committed it; one not confirmed
    # this long after it was sent goes out again (once a hub has been online as long).
    edge_resend_after_s: float = Field(default=60.0, ge=1, le=86_400)
    watch_idle_timeout_s: float = Field(default=900.0, gt=0)
    # Bounds of every device-facing server (edge/limits.py, docs/adapters.md): open
    # connections, connections per remote address (many devices share a carrier NAT
    # address), connections not yet identified (no device id known), which must
    # identify within edge_unidentified_timeout_s. Over a bound: closed and counted.
    edge_max_connections: int = Field(default=10_000, ge=1)
    edge_max_connections_per_address: int = Field(default=200, ge=1)
    edge_max_unidentified: int = Field(default=500, ge=1)
    edge_unidentified_timeout_s: float = Field(default=30.0, gt=0)
    # Dead letters made at the edge, per window: this many (and bytes) per connection
    # (per remote address for HTTP push) and per server; past that only counted. Raw
    # bytes in one dead letter are cut to edge_dead_letter_raw_max_bytes.
    edge_dead_letter_window_s: float = Field(default=60.0, gt=0)
    edge_dead_letters_per_connection: int = Field(default=20, ge=1)
    edge_dead_letter_bytes_per_connection: int = Field(default=256 * 1024, ge=1024)
    edge_dead_letters_per_server: int = Field(default=600, ge=1)
    edge_dead_letter_bytes_per_server: int = Field(default=4 * 1024 * 1024, ge=1024)
    edge_dead_letter_raw_max_bytes: int = Field(default=64 * 1024, ge=256)
    # Per-device passwords (device id -> password), JSON in the environment, e.g.
    # EDGE_OCPP_CREDENTIALS='{"CP-P1-01": "…"}'. None: no authentication (demo only).
    ocpp_credentials: dict[str, SecretStr] | None = None
    gate_credentials: dict[str, SecretStr] | None = None
    # Zigbee2MQTT and Tuya bridges publish on a broker local to the community;
    # by default the same broker the edge forwards to.
    local_mqtt_host: str | None = None
    local_mqtt_port: int | None = Field(default=None, ge=1, le=65535)
    z2m_base_topic: str = "zigbee2mqtt"
    tuya_base_topic: str = "tuya"
    # Device availability: a device silent for longer than its family's limit is
    # reported offline ("heartbeat_timeout") even if its connection looks open;
    # 0 turns the check off for that family. Mains-powered devices keep their link
    # up and report often (chargers: OCPP Heartbeat every 300 s, so 900 s is three
    # missed; door controllers push a heartbeat every minute or so), so a short
    # silence already means trouble. Battery devices sleep between reports to save
    # power (wristbands stretch their LK interval when idle; Zigbee and Tuya locks
    # report on use and a periodic battery reading), so they get longer limits.
    offline_after_s_wristband: float = Field(default=1200.0, ge=0)
    offline_after_s_charger: float = Field(default=900.0, ge=0)
    offline_after_s_door: float = Field(default=300.0, ge=0)
    offline_after_s_lock: float = Field(default=7200.0, ge=0)
    # Commands from the hub: how long the edge waits for a device's answer.
    edge_command_timeout_s: float = Field(default=30.0, gt=0)
    # The edge's own Prometheus endpoint (outbox backlog, uplink), off unless a port
    # is set. It asks for EDGE_METRICS_TOKEN when set (required outside the demo if it
    # listens beyond this machine; docs/deployment.md).
    edge_metrics_host: str = "127.0.0.1"
    edge_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_token: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The names are not prefix + attribute (EDGE_MAX_IN_FLIGHT, not
        # EDGE_EDGE_MAX_IN_FLIGHT), so this source reads the environment.
        return (init_settings, EnvNamesSource(settings_cls, *edge_env_names()))

    @field_validator("edge_servers", mode="before")
    @classmethod
    def _split_servers(cls, value: object) -> object:
        return split_list(value)

    @field_validator("edge_servers")
    @classmethod
    def _unique_servers(cls, value: list[str]) -> list[str]:
        # Whether each names a server is known to the edge, with the installed adapters.
        return list(dict.fromkeys(value))

    @field_validator("edge_ports", mode="before")
    @classmethod
    def _split_ports(cls, value: object) -> object:
        # EDGE_PORTS=watch=5088,iw=6000, or a JSON object.
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("{"):
            return json.loads(value)
        ports: dict[str, str] = {}
        for item in filter(None, (v.strip() for v in value.split(","))):
            name, equals, port = item.partition("=")
            if not equals or not name.strip():
                raise ValueError(f"{item!r} is not server=port (e.g. watch=5088)")
            ports[name.strip()] = port.strip()
        return ports

    @model_validator(mode="after")
    def _legacy_edge_ports(self) -> EdgeSettings:
        # EDGE_WATCH_PORT (HUB_WATCH_PORT) and the like still set a port where EDGE_PORTS
        # does not, and each old field reads back the port in force.
        ports = dict(self.edge_ports)
        for field, server in LEGACY_EDGE_PORTS.items():
            if field not in self.model_fields_set:
                continue
            value = getattr(self, field)
            variables = {_env_name(field), "HUB_" + field.upper()}
            if variables & {k.upper() for k in os.environ}:
                ignored = (
                    f"; EDGE_PORTS names {server}, so it is ignored" if server in ports else ""
                )
                logging.getLogger(__name__).warning(
                    "%s is deprecated and goes in the next release: use EDGE_PORTS=%s=%s%s",
                    "/".join(sorted(variables)),
                    server,
                    value,
                    ignored,
                )
            ports.setdefault(server, value)
        if ports != self.edge_ports:
            self.edge_ports = ports
        for field, server in LEGACY_EDGE_PORTS.items():
            if server in ports and getattr(self, field) != ports[server]:
                setattr(self, field, ports[server])
        return self

    @field_validator("ocpp_credentials", "gate_credentials", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> EdgeSettings:
        """Outside the demo: no weak secret (named, never quoted)."""
        if self.mode != "demo":
            refuse_weak_secrets(
                (
                    ("EDGE_MQTT_PASSWORD", self.mqtt_password, 16),
                    ("EDGE_METRICS_TOKEN", self.metrics_token, 16),
                )
            )
        return self

    def check_broker_credentials(self) -> None:
        """Refuse an MQTT connection without an account outside the demo.

        A broker that lets anyone in lets anyone forge a device's events or an alarm;
        each edge gateway has its own account (docker/mosquitto/acl). Checked when
        `community-hub edge` starts.
        """
        if self.mode == "demo":
            return
        if not self.mqtt_username:
            raise InsecureSettingsError(
                "EDGE_MQTT_USERNAME and EDGE_MQTT_PASSWORD must be set outside demo mode: "
                "a broker that lets anyone in lets anyone forge an alarm"
            )
        if self.mqtt_password is None:
            raise InsecureSettingsError(
                "EDGE_MQTT_PASSWORD must be set outside demo mode (the password of the "
                "broker account EDGE_MQTT_USERNAME)"
            )

    def check_edge_credentials(self) -> None:
        """Refuse to run charger or gate servers without per-device passwords outside the demo.

        A charger or gate that anyone can impersonate is a way in. Checked when an
        edge gateway starts.
        """
        if self.mode == "demo":
            return
        for server, creds, name in (
            ("ocpp", self.ocpp_credentials, "EDGE_OCPP_CREDENTIALS"),
            ("http_push", self.gate_credentials, "EDGE_GATE_CREDENTIALS"),
        ):
            if server in self.edge_servers and creds is None:
                raise InsecureSettingsError(
                    f"{name} must list each device's password outside demo mode "
                    f"(or leave {server} out of EDGE_SERVERS)"
                )
        if (
            self.edge_metrics_port is not None
            and self.metrics_token is None
            and not loopback(self.edge_metrics_host)
        ):
            raise InsecureSettingsError(
                "EDGE_METRICS_TOKEN must be set outside demo mode when the edge's metrics "
                f"listen beyond this machine (EDGE_METRICS_HOST={self.edge_metrics_host})"
            )

    @property
    def resolved_outbox_path(self) -> Path:
        return (self.edge_outbox_path or self.data_dir / "edge-outbox.sqlite3").resolve()


def edge_env_names() -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Every environment name EdgeSettings reads (name -> attribute), and old -> new names."""
    names: dict[str, tuple[str, ...]] = {}
    renamed: dict[str, str] = {}
    for field in EdgeSettings.model_fields:
        new, old = _env_name(field), "HUB_" + field.upper()
        names[new] = names[old] = (field,)
        renamed[old] = new
    return names, renamed


def requested_edge_mode() -> Literal["demo", "production"] | None:
    """The mode the environment asks the edge for (EDGE_MODE, or HUB_MODE as before)."""
    names, renamed = edge_env_names()
    mode_names = {k: v for k, v in names.items() if v == ("mode",)}
    value = EnvNamesSource(EdgeSettings, mode_names, renamed)().get("mode")
    if value is None:
        return None
    if value not in ("demo", "production"):
        raise InsecureSettingsError(f"EDGE_MODE must be demo or production, not {value!r}")
    return "demo" if value == "demo" else "production"
