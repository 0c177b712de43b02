"""One validated settings object, read from ``HUB_*`` environment variables.

The defaults run the demo on one machine. A deployment that is not the demo
must set its own secrets: the hub refuses to start with the demo's, or with a
weak one. The console commands decide the mode (hub.cli): ``community-hub demo``
is always the demo, ``community-hub hub`` and ``edge`` always production. The
class default stays ``demo`` for whoever builds Settings in code (tests, the
demo, benchmarks' helpers); a deployment runs the commands.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Device-facing servers an edge gateway runs unless told otherwise. A server is named
# after its stream adapter, or after its transport (edge/hosting.py): an installed
# adapter package adds a name the edge knows, so the names are checked there.
EDGE_SERVERS = ("watch", "iw", "ebike", "ocpp", "http_push", "local_mqtt")
# The port settings before HUB_EDGE_PORTS, kept for one release: field -> server.
LEGACY_EDGE_PORTS = {
    "watch_port": "watch",
    "iw_port": "iw",
    "ebike_port": "ebike",
    "ocpp_port": "ocpp",
    "http_push_port": "http_push",
}

log = logging.getLogger(__name__)

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


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    # Errors never repeat the input: it holds the secrets (HUB_JWT_SECRET, ...).
    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore", hide_input_in_errors=True)

    # "demo" only for `community-hub demo` and code; the hub and edge commands run in
    # production whatever is set here (hub.cli, docs/deployment.md).
    mode: Literal["demo", "production"] = "demo"
    data_dir: Path = Path(".hub-data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default is a SQLite file in data_dir",
    )

    # MQTT broker the hub and the edge talk through.
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=3600)
    # The MQTT version the hub's connections and the edge's uplink try first. With
    # "5" each falls back to 3.1.1 by itself on a broker without MQTT 5, after a
    # refused CONNECT or 3 s without a CONNACK; "3.1.1" starts there (the demo's
    # embedded amqtt broker, which drops an MQTT 5 CONNECT).
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    hub_client_id: str = Field(default="community-hub-1", min_length=1, max_length=64)
    # The main MQTT connection (telemetry, device state, command results) runs in a
    # child process, so paho's parsing of every message does not hold the hub's GIL
    # (hub/bridge/receiver.py). False keeps it in the hub's process.
    mqtt_receiver_process: bool = True
    # Several hubs sharing the ingest (docs/scale-out.md): every hub sets the same
    # group and its own hub_client_id; each device message then goes to one of
    # them ($share/<group>/...). None: plain subscriptions, one hub.
    shared_group: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$"
    )

    # Ingest batching: commit every N events or T milliseconds, whichever first.
    ingest_batch_size: int = Field(default=500, ge=1, le=10_000)
    ingest_batch_ms: int = Field(default=20, ge=0, le=5_000)
    # Telemetry batches are sized to take about this long to store, because an
    # alarm waits for the transaction in progress (0: always full batches).
    ingest_batch_target_ms: int = Field(default=50, ge=0, le=10_000)

    # Edge gateway.
    gateway_id: str = Field(default="edge-1", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    edge_host: str = "0.0.0.0"
    # Deprecated (one release): HUB_EDGE_PORTS=watch=5088. Reads back the port in force.
    watch_port: int = Field(default=5088, ge=1, le=65535)
    edge_publish_timeout_s: float = Field(default=10.0, gt=0)
    edge_max_in_flight: int = Field(default=1000, ge=1, le=60_000)
    # Durable outbox (edge/outbox.py): None puts it in data_dir. When the rows
    # exceed max_bytes, old telemetry is thinned; alarms are never dropped.
    edge_outbox_path: Path | None = None
    edge_outbox_max_bytes: int = Field(default=256 * 1024 * 1024, ge=4096)
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
    edge_servers: Annotated[list[str], NoDecode] = Field(
        default=list(EDGE_SERVERS), description="which device servers the edge runs"
    )
    # Server name -> port, where a server is not to listen on its adapter's default
    # port: HUB_EDGE_PORTS=watch=5088,iw=6000, or a JSON object.
    edge_ports: Annotated[dict[str, Annotated[int, Field(ge=1, le=65535)]], NoDecode] = Field(
        default_factory=dict, description="device server ports other than the adapters' own"
    )
    # Deprecated (one release), as watch_port: HUB_EDGE_PORTS names these ports now.
    iw_port: int = Field(default=5089, ge=1, le=65535)
    ebike_port: int = Field(default=5090, ge=1, le=65535)
    ocpp_port: int = Field(default=9000, ge=1, le=65535)
    http_push_port: int = Field(default=8090, ge=1, le=65535)
    # Per-device passwords (device id -> password), JSON in the environment, e.g.
    # HUB_OCPP_CREDENTIALS='{"CP-P1-01": "…"}'. None: no authentication (demo only).
    ocpp_credentials: dict[str, SecretStr] | None = None
    gate_credentials: dict[str, SecretStr] | None = None
    # Notification webhooks (an SMS gateway, a messaging bot, the street office's
    # system): HUB_WEBHOOK_URLS=https://a/hook,https://b/hook, each POST signed
    # with HUB_WEBHOOK_SECRET (HMAC-SHA256, see hub/notifications/webhook.py).
    webhook_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webhook_secret: SecretStr | None = None
    # The notification outbox (hub/notifications/outbox.py). A hub that claimed a
    # notification for the webhooks and other channels holds it this long before
    # another hub may send it again (a hub restarted under its client id takes its
    # own back at once); each channel gets two thirds of it. Rows are purged this
    # many days after they were made.
    notification_claim_s: float = Field(default=30.0, ge=3, le=3600)
    notification_keep_days: float = Field(default=3.0, gt=0, le=365)
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
    # is set. It asks for HUB_METRICS_TOKEN when set (required outside the demo if it
    # listens beyond this machine; docs/deployment.md).
    edge_metrics_host: str = "127.0.0.1"
    edge_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    # Prometheus GET /metrics on the API port: with a token, only "Authorization:
    # Bearer <token>" may read it; without one it is open in demo mode and answers
    # 403 outside it (docs/deployment.md).
    metrics_token: SecretStr | None = None

    # Dead letters (hub/deadletters/bounds.py): per gateway and per window (an hour),
    # this many letters and bytes are stored; past that 1 in dead_letter_sample_every
    # is, the rest only counted. All gateways together stop at the total bound. Raw
    # bytes are cut to dead_letter_raw_max_bytes. Kept dead_letter_keep_days.
    dead_letters_per_gateway: int = Field(default=1000, ge=1)
    dead_letter_bytes_per_gateway: int = Field(default=10 * 1024 * 1024, ge=1024)
    dead_letters_total: int = Field(default=10_000, ge=1)
    dead_letter_bytes_total: int = Field(default=100 * 1024 * 1024, ge=1024)
    dead_letter_raw_max_bytes: int = Field(default=64 * 1024, ge=64)
    dead_letter_sample_every: int = Field(default=100, ge=1)
    dead_letter_window_s: float = Field(default=3600.0, ge=1)
    dead_letter_keep_days: float = Field(default=14.0, gt=0, le=3650)

    # Health (/healthz, /readyz; docs/deployment.md). Failing commits make the hub
    # degraded at once and failing after health_commits_failing_s; messages waiting
    # with no commit for health_ingest_stall_s make it failing, and for
    # health_restart_after_s (database answering) fail liveness too. Events set
    # aside keep it degraded for health_set_aside_s.
    health_commits_failing_s: float = Field(default=10.0, ge=0)
    health_ingest_stall_s: float = Field(default=30.0, gt=0)
    health_restart_after_s: float = Field(default=300.0, gt=0)
    health_set_aside_s: float = Field(default=900.0, ge=0)
    health_database_timeout_s: float = Field(default=2.0, gt=0, le=60)

    # HTTP API.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    # What one request may cost (api/request_limits.py): its body's size, the wait for
    # each chunk of it, and live-push streams per account (the oldest is closed).
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    api_body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    api_streams_per_user: int = Field(default=8, ge=1, le=1000)
    # Connections in progress at once, live-push streams included; more are answered
    # 503 at once (uvicorn's limit_concurrency).
    api_max_concurrency: int = Field(default=1000, ge=1, le=100_000)
    # API worker processes beside the hub process (docs/architecture.md): HTTP parsing
    # and queries never take the event loop that stores alarms. 0: the API in the hub
    # process (the demo, tests). None: one per CPU core for `community-hub hub`.
    api_workers: int | None = Field(default=None, ge=0, le=64)
    # How much the workers yield the CPU to the hub process (nice increment): when the
    # cores are busy with requests, an SOS still gets the CPU it needs first.
    api_worker_nice: int = Field(default=5, ge=0, le=19)
    # How soon an API worker looks at the outbox for another process's notifications
    # without a wake-up (SQLite has none; PostgreSQL wakes it at once).
    api_live_poll_s: float = Field(default=0.1, gt=0, le=5)
    jwt_secret: SecretStr = SecretStr(DEMO_JWT_SECRET)
    # The key of the grids' printed QR codes (the report form). Unset: the JWT secret, as
    # before, so codes already up keep working. Set it to change either key on its own;
    # codes signed with a key in HUB_QR_PREVIOUS_SECRETS are accepted while new ones are
    # put up (docs/deployment.md).
    qr_secret: SecretStr | None = None
    qr_previous_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=14, ge=1, le=365)
    # Failed logins (docs/auth.md), counted in the database for every API process.
    # Per account and address: login_free_failures, then each try waits 2, 4, 8 ... s
    # after the last failure, at most login_max_delay_s. Per address across accounts:
    # login_address_failures per login_window_s. Per account from all addresses (last
    # resort; addresses it logged in from within login_known_address_days pass):
    # login_account_failures per login_window_s.
    login_free_failures: int = Field(default=5, ge=1, le=1000)
    login_max_delay_s: int = Field(default=900, ge=1, le=86400)
    login_address_failures: int = Field(default=50, ge=1, le=1_000_000)
    login_account_failures: int = Field(default=100, ge=1, le=1_000_000)
    login_window_s: int = Field(default=3600, ge=1, le=86400)
    login_known_address_days: int = Field(default=30, ge=0, le=365)
    # Reverse proxies whose X-Forwarded-For/-Proto the API believes (addresses or
    # networks, "*" for any); empty: none, the peer's own address is the client's.
    api_trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Swagger UI at /docs and /openapi.json; None: on in demo mode, off otherwise.
    api_docs: bool | None = None

    # Community defaults.
    timezone: str = "Asia/Shanghai"

    # Telemetry export to InfluxDB (docs/telemetry.md); influx_url None: export off.
    influx_url: str | None = None
    influx_token: SecretStr | None = None
    influx_org: str = "community-hub"
    influx_bucket: str = "telemetry"
    influx_batch_size: int = Field(default=500, ge=1, le=50_000)
    influx_flush_interval_ms: int = Field(default=1000, ge=10, le=600_000)
    influx_retry_interval_ms: int = Field(default=2000, ge=10, le=600_000)
    influx_max_retries: int = Field(default=5, ge=0, le=100)
    influx_exponential_base: int = Field(default=2, ge=1, le=10)
    influx_max_retry_delay_ms: int = Field(default=60_000, ge=10, le=3_600_000)
    # Points waiting for export (queued and in flight); when full the oldest are dropped.
    telemetry_buffer_points: int = Field(default=50_000, ge=10, le=10_000_000)
    # Embedded history (SQLite or PostgreSQL) feeding the dashboard's charts.
    telemetry_history: bool = True
    telemetry_history_raw_days: float = Field(default=2.0, gt=0)
    telemetry_history_5m_days: float = Field(default=30.0, gt=0)
    telemetry_history_1h_days: float = Field(default=400.0, gt=0)
    telemetry_maintenance_interval_s: float = Field(default=300.0, gt=0)
    # Raw points stored this long ago or less are rolled up (late readings included).
    telemetry_rollup_lookback_s: float = Field(default=3600.0, gt=0)

    @field_validator("edge_servers", mode="before")
    @classmethod
    def _split_servers(cls, value: object) -> object:
        # HUB_EDGE_SERVERS=watch,ocpp, or a JSON list.
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("edge_ports", mode="before")
    @classmethod
    def _split_ports(cls, value: object) -> object:
        # HUB_EDGE_PORTS=watch=5088,iw=6000, or a JSON object.
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

    @field_validator("webhook_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        return cls._split_servers(value)

    @field_validator("qr_previous_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        return cls._split_servers(value)

    @field_validator("api_trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        return cls._split_servers(value)

    @field_validator("api_trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        # A typo would otherwise trust nobody (or the wrong host) without a word, and
        # uvicorn ignores a network written with host bits (10.0.0.5/24) or "*" in a list.
        if "*" in value and len(value) > 1:
            raise ValueError('"*" trusts every address: give it alone, or list addresses')
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=True)
                except ValueError:
                    raise ValueError(
                        f"not an address or network (by its first address): {entry!r}"
                    ) from None
        return value

    @field_validator("webhook_urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        bad = [u for u in value if not u.startswith(("http://", "https://"))]
        if bad:
            raise ValueError(f"webhook URLs must be http(s): {bad}")
        return value

    @field_validator("edge_servers")
    @classmethod
    def _unique_servers(cls, value: list[str]) -> list[str]:
        # Whether each names a server is known to the edge, with the installed adapters.
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _legacy_edge_ports(self) -> Settings:
        # HUB_WATCH_PORT and the like still set a port where HUB_EDGE_PORTS does not, and
        # each old field reads back the port in force, for readers not yet moved over.
        ports = dict(self.edge_ports)
        for field, server in LEGACY_EDGE_PORTS.items():
            if field not in self.model_fields_set:
                continue
            value = getattr(self, field)
            variable = f"HUB_{field.upper()}"
            if variable in {k.upper() for k in os.environ}:
                ignored = (
                    f"; HUB_EDGE_PORTS names {server}, so it is ignored" if server in ports else ""
                )
                log.warning(
                    "%s is deprecated and goes in the next release: use HUB_EDGE_PORTS=%s=%s%s",
                    variable,
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

    @model_validator(mode="after")
    def _shared_group_needs_postgres(self) -> Settings:
        # Hubs of a group rely on PostgreSQL's row and advisory locks (docs/scale-out.md).
        if self.shared_group and not (self.database_url or "").startswith("postgresql"):
            raise ValueError(
                "HUB_SHARED_GROUP (several hubs) needs a PostgreSQL HUB_DATABASE_URL, "
                "e.g. postgresql+asyncpg://hub@db/hub"
            )
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        """Outside the demo: no demo secret, no weak one (named, never quoted)."""
        if self.mode == "demo":
            return self
        checked: tuple[tuple[str, SecretStr | None, int], ...] = (
            ("HUB_JWT_SECRET", self.jwt_secret, 32),
            ("HUB_MQTT_PASSWORD", self.mqtt_password, 16),
            ("HUB_METRICS_TOKEN", self.metrics_token, 16),
            ("HUB_WEBHOOK_SECRET", self.webhook_secret, 16),
            ("HUB_QR_SECRET", self.qr_secret, 32),
        )
        for name, secret, min_length in checked:
            if secret is None:
                continue
            reason = secret_weakness(secret.get_secret_value(), min_length)
            if reason is not None:
                raise InsecureSettingsError(
                    f"{name} {reason}; outside demo mode set a long random value, "
                    f"e.g. {SECRET_ADVICE}"
                )
        return self

    def check_broker_credentials(self) -> None:
        """Refuse an MQTT connection without an account outside the demo.

        A broker that lets anyone in lets anyone forge a device's events or an alarm;
        each hub and edge gateway has its own account (docker/mosquitto/acl). Checked
        when `community-hub hub` or `edge` starts, not for every process.
        """
        if self.mode == "demo":
            return
        if not self.mqtt_username:
            raise InsecureSettingsError(
                "HUB_MQTT_USERNAME and HUB_MQTT_PASSWORD must be set outside demo mode: "
                "a broker that lets anyone in lets anyone forge an alarm"
            )
        if self.mqtt_password is None:
            raise InsecureSettingsError(
                "HUB_MQTT_PASSWORD must be set outside demo mode (the password of the "
                "broker account HUB_MQTT_USERNAME)"
            )

    def check_edge_credentials(self) -> None:
        """Refuse to run charger or gate servers without per-device passwords outside the demo.

        A charger or gate that anyone can impersonate is a way in. Checked when an
        edge gateway starts, not for every process: a hub runs no device servers.
        """
        if self.mode == "demo":
            return
        for server, creds, name in (
            ("ocpp", self.ocpp_credentials, "HUB_OCPP_CREDENTIALS"),
            ("http_push", self.gate_credentials, "HUB_GATE_CREDENTIALS"),
        ):
            if server in self.edge_servers and creds is None:
                raise InsecureSettingsError(
                    f"{name} must list each device's password outside demo mode "
                    f"(or leave {server} out of HUB_EDGE_SERVERS)"
                )
        if (
            self.edge_metrics_port is not None
            and self.metrics_token is None
            and not _loopback(self.edge_metrics_host)
        ):
            raise InsecureSettingsError(
                "HUB_METRICS_TOKEN must be set outside demo mode when the edge's metrics "
                f"listen beyond this machine (HUB_EDGE_METRICS_HOST={self.edge_metrics_host})"
            )

    def qr_signing_secret(self) -> str:
        """The key new grid QR codes are signed with."""
        return (self.qr_secret or self.jwt_secret).get_secret_value()

    def qr_accepted_secrets(self) -> list[str]:
        """The keys a grid QR code may be signed with: the current one, then earlier ones."""
        return [self.qr_signing_secret(), *(s.get_secret_value() for s in self.qr_previous_secrets)]

    @property
    def resolved_api_workers(self) -> int:
        if self.api_workers is not None:
            return self.api_workers
        return 0 if self.mode == "demo" else max(1, os.cpu_count() or 1)

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.sqlite_path}"

    @property
    def sqlite_path(self) -> Path:
        return (self.data_dir / "hub.sqlite3").resolve()

    @property
    def resolved_outbox_path(self) -> Path:
        return (self.edge_outbox_path or self.data_dir / "edge-outbox.sqlite3").resolve()


class _RequestedMode(BaseSettings):
    """HUB_MODE alone, read as Settings reads it; None when it is not set."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    mode: Literal["demo", "production"] | None = None


def requested_mode() -> Literal["demo", "production"] | None:
    """The mode the environment asks for (HUB_MODE), None if it asks for none."""
    return _RequestedMode().mode


def local_production_env() -> dict[str, str]:
    """HUB_* variables for a throwaway `community-hub hub` or `edge` on this machine.

    Production mode with fresh random secrets and an MQTT account, for tests and
    benchmarks that run the real commands against a broker that checks no passwords.
    Never for a deployment: the secrets die with the caller, and a deployment's broker
    must check passwords (docs/deployment.md).
    """
    return {
        "HUB_MODE": "production",
        "HUB_JWT_SECRET": secrets.token_urlsafe(36),
        "HUB_MQTT_USERNAME": "local",
        "HUB_MQTT_PASSWORD": secrets.token_urlsafe(24),
        "HUB_METRICS_TOKEN": _LOCAL_METRICS_TOKEN,
    }


# One per process that starts local hubs: it reads their figures with local_metrics_headers().
_LOCAL_METRICS_TOKEN = secrets.token_urlsafe(24)


def local_metrics_headers() -> dict[str, str]:
    """What reads /healthz's figures and /metrics of a hub started with local_production_env."""
    return {"Authorization": f"Bearer {_LOCAL_METRICS_TOKEN}"}
