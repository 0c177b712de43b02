"""The hub's settings, in sections, read from ``HUB_*`` environment variables.

Each section is a model of its own (``settings.mqtt``, ``settings.api``, ...) and a
component is handed the section it needs, not the whole. The environment name of a
field is ``HUB_``, its section and its name: ``HUB_MQTT_HOST`` is ``mqtt.host``,
``HUB_API_PORT`` is ``api.port``. In code: ``Settings(mqtt=MqttSettings(port=1884))``
(or a dict for a section). Names that did not read that way were renamed
(``RENAMED``); the old ones still work for one release, each use logged as
deprecated with its new name. The edge gateway has its own settings (edge/settings.py).

The defaults run the demo on one machine. A deployment that is not the demo
must set its own secrets: the hub refuses to start with the demo's, or with a
weak one. The console commands decide the mode (hub.cli): ``community-hub demo``
is always the demo, ``community-hub hub`` and ``edge`` always production. The
class default stays ``demo`` for whoever builds Settings in code (tests, the
demo, benchmarks' helpers); a deployment runs the commands.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from device_adapters.model import Severity
from edge.settings import (
    DEMO_JWT_SECRET,
    SECRET_ADVICE,
    SECRET_MIN_DISTINCT,
    EnvNamesSource,
    InsecureSettingsError,
    refuse_weak_secrets,
    secret_weakness,
    split_list,
)

__all__ = [
    "DEMO_JWT_SECRET",
    "RENAMED",
    "SECRET_ADVICE",
    "SECRET_MIN_DISTINCT",
    "ApiSettings",
    "DatabaseSettings",
    "DeadLetterSettings",
    "HealthSettings",
    "InfluxSettings",
    "IngestSettings",
    "InsecureSettingsError",
    "JwtSettings",
    "LoginSettings",
    "MetricsSettings",
    "MqttSettings",
    "NotificationSettings",
    "PushSettings",
    "QrSettings",
    "Settings",
    "TelemetrySettings",
    "env_names",
    "local_metrics_headers",
    "local_production_env",
    "requested_mode",
    "secret_weakness",
]

log = logging.getLogger(__name__)


class Section(BaseModel):
    # Errors never repeat the input: it holds the secrets (HUB_JWT_SECRET, ...). An
    # unknown HUB_<SECTION>_* variable is ignored, as unknown HUB_* variables always were.
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)


class DatabaseSettings(Section):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default is a SQLite file in data_dir",
    )


class MqttSettings(Section):
    """The MQTT broker the hub talks to the edges through."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    # The MQTT version the hub's connections try first. With "5" each falls back to
    # 3.1.1 by itself on a broker without MQTT 5, after a refused CONNECT or 3 s
    # without a CONNACK; "3.1.1" starts there (the demo's embedded amqtt broker,
    # which drops an MQTT 5 CONNECT).
    protocol: Literal["5", "3.1.1"] = "5"
    # This hub's name on the broker (and in the notification outbox's claims).
    client_id: str = Field(default="community-hub-1", min_length=1, max_length=64)
    # The main MQTT connection (telemetry, device state, command results) runs in a
    # child process, so paho's parsing of every message does not hold the hub's GIL
    # (hub/bridge/receiver.py). False keeps it in the hub's process.
    receiver_process: bool = True
    # Several hubs sharing the ingest (docs/scale-out.md): every hub sets the same
    # group and its own client_id; each device message then goes to one of
    # them ($share/<group>/...). None: plain subscriptions, one hub.
    shared_group: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$"
    )


class IngestSettings(Section):
    # Ingest batching: commit every N events or T milliseconds, whichever first.
    batch_size: int = Field(default=500, ge=1, le=10_000)
    batch_ms: int = Field(default=20, ge=0, le=5_000)
    # Telemetry batches are sized to take about this long to store, because an
    # alarm waits for the transaction in progress (0: always full batches).
    batch_target_ms: int = Field(default=50, ge=0, le=10_000)


class NotificationSettings(Section):
    # Notification webhooks (an SMS gateway, a messaging bot, the street office's
    # system): HUB_NOTIFICATIONS_WEBHOOK_URLS=https://a/hook,https://b/hook, each POST
    # signed with HUB_NOTIFICATIONS_WEBHOOK_SECRET (HMAC-SHA256, hub/notifications/webhook.py).
    webhook_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webhook_secret: SecretStr | None = None
    # The notification outbox (hub/notifications/outbox.py). A hub that claimed a
    # notification for the webhooks and other channels holds it this long before
    # another hub may send it again (a hub restarted under its client id takes its
    # own back at once); each channel gets two thirds of it. Rows are purged this
    # many days after they were made.
    claim_s: float = Field(default=30.0, ge=3, le=3600)
    keep_days: float = Field(default=3.0, gt=0, le=365)

    @field_validator("webhook_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        return split_list(value)

    @field_validator("webhook_urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        bad = [u for u in value if not u.startswith(("http://", "https://"))]
        if bad:
            raise ValueError(f"webhook URLs must be http(s): {bad}")
        return value

    @property
    def plugin_timeout_s(self) -> float:
        """What each channel gets of a claim."""
        return self.claim_s * 2 / 3


class ChannelSettings(Section):
    """Messaging channels (hub/notifications/channels/): HUB_CHANNELS_<FIELD>.

    Each is on when its credentials are set. Robots post into one group chat in
    ``language`` (the community's); they leave out duress alarms unless
    ``robots_include_silent`` (a staff-only group). Secrets are SecretStr: never in a
    log line, an error or ``repr``.
    """

    language: str = "zh-CN"
    robots_include_silent: bool = False
    robots_min_severity: Severity = Severity.INFORMATIONAL
    # WeCom group robot: the key of its webhook URL (…/webhook/send?key=KEY).
    wecom_key: SecretStr | None = None
    wecom_url: str = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
    # DingTalk custom robot: its access_token and, with "加签" on, the SEC… secret.
    dingtalk_access_token: SecretStr | None = None
    dingtalk_secret: SecretStr | None = None
    dingtalk_url: str = "https://oapi.dingtalk.com/robot/send"
    # Feishu custom bot: the hook id (…/bot/v2/hook/ID) and, with 签名校验 on, its secret.
    feishu_hook: SecretStr | None = None
    feishu_secret: SecretStr | None = None
    feishu_url: str = "https://open.feishu.cn/open-apis/bot/v2/hook/"
    # SMS: "aliyun" or "tencent", an approved template (its parameters: the title and the
    # body, cut to sms_param_max_chars) and signature (签名).
    sms_provider: Literal["aliyun", "tencent"] | None = None
    sms_access_key_id: str | None = None  # Aliyun AccessKeyId / Tencent SecretId
    sms_access_key_secret: SecretStr | None = None  # Aliyun AccessKeySecret / Tencent SecretKey
    sms_sign_name: str | None = None
    sms_template_id: str | None = None  # Aliyun TemplateCode / Tencent TemplateId
    sms_sdk_app_id: str | None = None  # Tencent only: SmsSdkAppId
    # Aliyun only: the template's variable names, in the order title, body.
    sms_param_names: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["title", "body"]
    )
    sms_region: str | None = None  # default cn-hangzhou (Aliyun), ap-guangzhou (Tencent)
    sms_url: str | None = None  # the vendor's endpoint (tests point it elsewhere)
    sms_min_severity: Severity = Severity.HIGH
    sms_param_max_chars: int = Field(default=35, ge=4, le=500)

    @field_validator("sms_param_names", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        return split_list(value)

    @model_validator(mode="after")
    def _sms_complete(self) -> ChannelSettings:
        if self.sms_provider is None:
            return self
        needed = {
            "HUB_CHANNELS_SMS_ACCESS_KEY_ID": self.sms_access_key_id,
            "HUB_CHANNELS_SMS_ACCESS_KEY_SECRET": self.sms_access_key_secret,
            "HUB_CHANNELS_SMS_SIGN_NAME": self.sms_sign_name,
            "HUB_CHANNELS_SMS_TEMPLATE_ID": self.sms_template_id,
        }
        if self.sms_provider == "tencent":
            needed["HUB_CHANNELS_SMS_SDK_APP_ID"] = self.sms_sdk_app_id
        missing = [name for name, value in needed.items() if not value]
        if missing:
            raise ValueError(f"SMS through {self.sms_provider} needs {', '.join(missing)}")
        return self


class PushSettings(Section):
    """Web Push to the inbox installed on a phone (hub/notifications/push/): HUB_PUSH_<FIELD>.

    On by default: it needs no vendor account, only a VAPID key pair, made once in
    ``data_dir`` (``vapid_private.pem``) unless ``vapid_private_key`` gives one (PEM, or
    the raw key in base64url). Several hubs on several machines must share one key.
    """

    enabled: bool = True
    vapid_private_key: SecretStr | None = None
    # Who runs this hub, for the push services to reach (the VAPID "sub" claim).
    vapid_subject: str = Field(
        default="mailto:admin@community-hub.invalid", pattern=r"^(mailto:|https:)"
    )
    # How long a push service keeps a message for a phone that is off (seconds).
    ttl_s: int = Field(default=3600, ge=0, le=28 * 24 * 3600)
    # Tests only: endpoints on http://127.0.0.1 (a local stand-in of a push service).
    allow_loopback_http: bool = False


class DeadLetterSettings(Section):
    # Dead letters (hub/deadletters/bounds.py): per gateway and per window (an hour),
    # this many letters and bytes are stored; past that 1 in sample_every is, the rest
    # only counted. All gateways together stop at the total bound. Raw bytes are cut
    # to raw_max_bytes. Kept keep_days.
    per_gateway: int = Field(default=1000, ge=1)
    bytes_per_gateway: int = Field(default=10 * 1024 * 1024, ge=1024)
    total: int = Field(default=10_000, ge=1)
    bytes_total: int = Field(default=100 * 1024 * 1024, ge=1024)
    raw_max_bytes: int = Field(default=64 * 1024, ge=64)
    sample_every: int = Field(default=100, ge=1)
    window_s: float = Field(default=3600.0, ge=1)
    keep_days: float = Field(default=14.0, gt=0, le=3650)


class HealthSettings(Section):
    # Health (/healthz, /readyz; docs/deployment.md). Failing commits make the hub
    # degraded at once and failing after commits_failing_s; messages waiting with no
    # commit for ingest_stall_s make it failing, and for restart_after_s (database
    # answering) fail liveness too. Events set aside keep it degraded for set_aside_s.
    commits_failing_s: float = Field(default=10.0, ge=0)
    ingest_stall_s: float = Field(default=30.0, gt=0)
    restart_after_s: float = Field(default=300.0, gt=0)
    set_aside_s: float = Field(default=900.0, ge=0)
    database_timeout_s: float = Field(default=2.0, gt=0, le=60)


class ApiSettings(Section):
    """The HTTP API."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # What one request may cost (api/request_limits.py): its body's size, the wait for
    # each chunk of it, and live-push streams per account (the oldest is closed).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    streams_per_user: int = Field(default=8, ge=1, le=1000)
    # Connections in progress at once, live-push streams included; more are answered
    # 503 at once (uvicorn's limit_concurrency).
    max_concurrency: int = Field(default=1000, ge=1, le=100_000)
    # API worker processes beside the hub process (docs/architecture.md): HTTP parsing
    # and queries never take the event loop that stores alarms. 0: the API in the hub
    # process (the demo, tests). None: one per CPU core for `community-hub hub`.
    workers: int | None = Field(default=None, ge=0, le=64)
    # How much the workers yield the CPU to the hub process (nice increment): when the
    # cores are busy with requests, an SOS still gets the CPU it needs first.
    worker_nice: int = Field(default=5, ge=0, le=19)
    # How soon an API worker looks at the outbox for another process's notifications
    # without a wake-up (SQLite has none; PostgreSQL wakes it at once).
    live_poll_s: float = Field(default=0.1, gt=0, le=5)
    # Reverse proxies whose X-Forwarded-For/-Proto the API believes (addresses or
    # networks, "*" for any); empty: none, the peer's own address is the client's.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Swagger UI at /docs and /openapi.json; None: on in demo mode, off otherwise.
    docs: bool | None = None

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        return split_list(value)

    @field_validator("trusted_proxies")
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


class JwtSettings(Section):
    """The API's access and refresh tokens."""

    secret: SecretStr = SecretStr(DEMO_JWT_SECRET)
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=14, ge=1, le=365)


class QrSettings(Section):
    """The key of the grids' printed QR codes (the report form).

    Unset: the JWT secret, as before, so codes already up keep working. Set it to
    change either key on its own; codes signed with a key in HUB_QR_PREVIOUS_SECRETS
    are accepted while new ones are put up (docs/deployment.md).
    """

    secret: SecretStr | None = None
    previous_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    @field_validator("previous_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        return split_list(value)


class MetricsSettings(Section):
    # Prometheus GET /metrics on the API port: with a token, only "Authorization:
    # Bearer <token>" may read it; without one it is open in demo mode and answers
    # 403 outside it (docs/deployment.md).
    token: SecretStr | None = None


class LoginSettings(Section):
    # Failed logins (docs/auth.md), counted in the database for every API process.
    # Per account and address: free_failures, then each try waits 2, 4, 8 ... s
    # after the last failure, at most max_delay_s. Per address across accounts:
    # address_failures per window_s. Per account from all addresses (last resort;
    # addresses it logged in from within known_address_days pass): account_failures
    # per window_s.
    free_failures: int = Field(default=5, ge=1, le=1000)
    max_delay_s: int = Field(default=900, ge=1, le=86400)
    address_failures: int = Field(default=50, ge=1, le=1_000_000)
    account_failures: int = Field(default=100, ge=1, le=1_000_000)
    window_s: int = Field(default=3600, ge=1, le=86400)
    known_address_days: int = Field(default=30, ge=0, le=365)


class TelemetrySettings(Section):
    # Points waiting for export (queued and in flight); when full the oldest are dropped.
    buffer_points: int = Field(default=50_000, ge=10, le=10_000_000)
    # Embedded history (SQLite or PostgreSQL) feeding the dashboard's charts.
    history: bool = True
    history_raw_days: float = Field(default=2.0, gt=0)
    history_5m_days: float = Field(default=30.0, gt=0)
    history_1h_days: float = Field(default=400.0, gt=0)
    maintenance_interval_s: float = Field(default=300.0, gt=0)
    # Raw points stored this long ago or less are rolled up (late readings included).
    rollup_lookback_s: float = Field(default=3600.0, gt=0)


class InfluxSettings(Section):
    # Telemetry export to InfluxDB (docs/telemetry.md); url None: export off.
    url: str | None = None
    token: SecretStr | None = None
    org: str = "community-hub"
    bucket: str = "telemetry"
    batch_size: int = Field(default=500, ge=1, le=50_000)
    flush_interval_ms: int = Field(default=1000, ge=10, le=600_000)
    retry_interval_ms: int = Field(default=2000, ge=10, le=600_000)
    max_retries: int = Field(default=5, ge=0, le=100)
    exponential_base: int = Field(default=2, ge=1, le=10)
    max_retry_delay_ms: int = Field(default=60_000, ge=10, le=3_600_000)


# Old environment name -> (new name, where it goes). Read for one release, logged.
RENAMED: dict[str, tuple[str, tuple[str, str]]] = {
    "HUB_HUB_CLIENT_ID": ("HUB_MQTT_CLIENT_ID", ("mqtt", "client_id")),
    "HUB_SHARED_GROUP": ("HUB_MQTT_SHARED_GROUP", ("mqtt", "shared_group")),
    "HUB_WEBHOOK_URLS": ("HUB_NOTIFICATIONS_WEBHOOK_URLS", ("notifications", "webhook_urls")),
    "HUB_WEBHOOK_SECRET": ("HUB_NOTIFICATIONS_WEBHOOK_SECRET", ("notifications", "webhook_secret")),
    "HUB_NOTIFICATION_CLAIM_S": ("HUB_NOTIFICATIONS_CLAIM_S", ("notifications", "claim_s")),
    "HUB_NOTIFICATION_KEEP_DAYS": ("HUB_NOTIFICATIONS_KEEP_DAYS", ("notifications", "keep_days")),
    "HUB_ACCESS_TOKEN_MINUTES": ("HUB_JWT_ACCESS_TOKEN_MINUTES", ("jwt", "access_token_minutes")),
    "HUB_REFRESH_TOKEN_DAYS": ("HUB_JWT_REFRESH_TOKEN_DAYS", ("jwt", "refresh_token_days")),
    **{
        f"HUB_DEAD_LETTER_{name.upper()}": (
            f"HUB_DEAD_LETTERS_{name.upper()}",
            ("dead_letters", name),
        )
        for name in (
            "bytes_per_gateway",
            "bytes_total",
            "raw_max_bytes",
            "sample_every",
            "window_s",
            "keep_days",
        )
    },
}


class Settings(BaseSettings):
    """The hub's settings: a few of its own, the rest in sections."""

    # HUB_<SECTION>_<FIELD>: the section is the part up to the first "_" after HUB_.
    model_config = SettingsConfigDict(
        env_prefix="HUB_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        # A keyword that is no field is a mistake (an old flat name, Settings(mqtt_port=...)).
        extra="forbid",
        hide_input_in_errors=True,
    )

    # "demo" only for `community-hub demo` and code; the hub and edge commands run in
    # production whatever is set here (hub.cli, docs/deployment.md).
    mode: Literal["demo", "production"] = "demo"
    data_dir: Path = Path(".hub-data")
    # Community defaults.
    timezone: str = "Asia/Shanghai"

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    channels: ChannelSettings = Field(default_factory=ChannelSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    dead_letters: DeadLetterSettings = Field(default_factory=DeadLetterSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    jwt: JwtSettings = Field(default_factory=JwtSettings)
    qr: QrSettings = Field(default_factory=QrSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    login: LoginSettings = Field(default_factory=LoginSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    influx: InfluxSettings = Field(default_factory=InfluxSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        renamed = EnvNamesSource(
            settings_cls,
            {old: path for old, (_new, path) in RENAMED.items()},
            {old: new for old, (new, _path) in RENAMED.items()},
            log,
        )
        return (init_settings, env_settings, renamed, dotenv_settings, file_secret_settings)

    @model_validator(mode="after")
    def _shared_group_needs_postgres(self) -> Settings:
        # Hubs of a group rely on PostgreSQL's row and advisory locks (docs/scale-out.md).
        if self.mqtt.shared_group and not (self.database.url or "").startswith("postgresql"):
            raise ValueError(
                "HUB_MQTT_SHARED_GROUP (several hubs) needs a PostgreSQL HUB_DATABASE_URL, "
                "e.g. postgresql+asyncpg://hub@db/hub"
            )
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        """Outside the demo: no demo secret, no weak one (named, never quoted)."""
        if self.mode != "demo":
            refuse_weak_secrets(
                (
                    ("HUB_JWT_SECRET", self.jwt.secret, 32),
                    ("HUB_MQTT_PASSWORD", self.mqtt.password, 16),
                    ("HUB_METRICS_TOKEN", self.metrics.token, 16),
                    ("HUB_NOTIFICATIONS_WEBHOOK_SECRET", self.notifications.webhook_secret, 16),
                    ("HUB_QR_SECRET", self.qr.secret, 32),
                )
            )
        return self

    def check_broker_credentials(self) -> None:
        """Refuse an MQTT connection without an account outside the demo.

        A broker that lets anyone in lets anyone forge a device's events or an alarm;
        each hub and edge gateway has its own account (docker/mosquitto/acl). Checked
        when `community-hub hub` starts, not for every process.
        """
        if self.mode == "demo":
            return
        if not self.mqtt.username:
            raise InsecureSettingsError(
                "HUB_MQTT_USERNAME and HUB_MQTT_PASSWORD must be set outside demo mode: "
                "a broker that lets anyone in lets anyone forge an alarm"
            )
        if self.mqtt.password is None:
            raise InsecureSettingsError(
                "HUB_MQTT_PASSWORD must be set outside demo mode (the password of the "
                "broker account HUB_MQTT_USERNAME)"
            )

    def qr_signing_secret(self) -> str:
        """The key new grid QR codes are signed with."""
        return (self.qr.secret or self.jwt.secret).get_secret_value()

    def qr_accepted_secrets(self) -> list[str]:
        """The keys a grid QR code may be signed with: the current one, then earlier ones."""
        earlier = (s.get_secret_value() for s in self.qr.previous_secrets)
        return [self.qr_signing_secret(), *earlier]

    @property
    def resolved_api_workers(self) -> int:
        if self.api.workers is not None:
            return self.api.workers
        return 0 if self.mode == "demo" else max(1, os.cpu_count() or 1)

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.sqlite_path}"

    @property
    def sqlite_path(self) -> Path:
        return (self.data_dir / "hub.sqlite3").resolve()


def env_names() -> set[str]:
    """Every HUB_* name Settings reads (the renamed ones not included)."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, Section):
            names.update(f"HUB_{name}_{f}".upper() for f in section.model_fields)
        else:
            names.add(f"HUB_{name}".upper())
    return names


class _RequestedMode(BaseSettings):
    """HUB_MODE alone, read as Settings reads it; None when it is not set."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    mode: Literal["demo", "production"] | None = None


def requested_mode() -> Literal["demo", "production"] | None:
    """The mode the environment asks for (HUB_MODE), None if it asks for none."""
    return _RequestedMode().mode


def local_production_env() -> dict[str, str]:
    """Variables for a throwaway `community-hub hub` or `edge` on this machine.

    Production mode with fresh random secrets and an MQTT account, for tests and
    benchmarks that run the real commands against a broker that checks no passwords.
    Never for a deployment: the secrets die with the caller, and a deployment's broker
    must check passwords (docs/deployment.md). The edge reads the same under EDGE_*.
    """
    password = secrets.token_urlsafe(24)
    return {
        "HUB_MODE": "production",
        "HUB_JWT_SECRET": secrets.token_urlsafe(36),
        "HUB_MQTT_USERNAME": "local",
        "HUB_MQTT_PASSWORD": password,
        "HUB_METRICS_TOKEN": _LOCAL_METRICS_TOKEN,
        "EDGE_MODE": "production",
        "EDGE_MQTT_USERNAME": "local",
        "EDGE_MQTT_PASSWORD": password,
        "EDGE_METRICS_TOKEN": _LOCAL_METRICS_TOKEN,
    }


# One per process that starts local hubs: it reads their figures with local_metrics_headers().
_LOCAL_METRICS_TOKEN = secrets.token_urlsafe(24)


def local_metrics_headers() -> dict[str, str]:
    """What reads /healthz's figures and /metrics of a hub started with local_production_env."""
    return {"Authorization": f"Bearer {_LOCAL_METRICS_TOKEN}"}
