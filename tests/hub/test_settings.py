"""Settings: demo defaults work; a production deployment refuses the demo secret, a weak
one, and starting without what keeps it closed (broker account, device passwords)."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr, ValidationError

from edge.settings import EdgeSettings
from hub.settings import (
    RENAMED,
    InsecureSettingsError,
    JwtSettings,
    MqttSettings,
    Settings,
    env_names,
    local_production_env,
    requested_mode,
)

STRONG_SECRETS = (
    "Jx3kQ9vT0bLw7ZpR2mYc8HsN5dFg1UaE-_4qWe6",  # token_urlsafe-like
    "3f9a1c7e5b2d8064e1f7a9c3b5d20468",  # token_hex(16)-like: 32 hex digits
)


def test_demo_mode_accepts_defaults() -> None:
    settings = Settings()
    assert settings.mode == "demo"
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")


def test_production_refuses_the_demo_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MODE", "production")
    with pytest.raises(ValidationError, match="HUB_JWT_SECRET"):
        Settings()


def test_production_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MODE", "production")
    monkeypatch.setenv("HUB_JWT_SECRET", "short")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings()


def test_production_starts_with_its_own_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MODE", "production")
    monkeypatch.setenv("HUB_JWT_SECRET", STRONG_SECRETS[0])
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+asyncpg://hub@db/hub")
    settings = Settings()
    assert settings.resolved_database_url == "postgresql+asyncpg://hub@db/hub"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("watch,ocpp", ["watch", "ocpp"]), ('["iw"]', ["iw"]), ("watch, watch", ["watch"])],
)
def test_edge_servers_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("EDGE_SERVERS", value)
    assert EdgeSettings().edge_servers == expected


def test_webhook_urls_come_from_a_comma_list_and_must_be_http(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variable = "HUB_NOTIFICATIONS_WEBHOOK_URLS"
    monkeypatch.setenv(variable, "https://sms.example/hook, http://10.0.0.5/bot")
    urls = Settings().notifications.webhook_urls
    assert urls == ["https://sms.example/hook", "http://10.0.0.5/bot"]
    monkeypatch.setenv(variable, "ftp://nope")
    with pytest.raises(ValidationError, match="must be http"):
        Settings()


# -- production secrets: strong, never echoed ------------------------------------------


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("a" * 40, "repeats"),
        ("abc" * 14, "repeats"),
        ("0123456789" * 4, "repeats"),
        ("Jx3kQ9vT0bLw7ZpR2m Yc8HsN5dFg1UaE-_4qWe6", "whitespace"),
        ("Jx3kQ9vT0bLw7ZpR2mYc8HsN5dFg1UaE-_4qWe6\n", "whitespace"),
        ("abbaababbbaabaabbbababbaaabbabaabbbabaab", "distinct"),
        ("feedfacecafebabedeadbeefbadc0ffee0ddba11", "distinct"),
    ],
)
def test_production_refuses_a_low_entropy_secret_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, secret: str, reason: str
) -> None:
    monkeypatch.setenv("HUB_MODE", "production")
    monkeypatch.setenv("HUB_JWT_SECRET", secret)
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert "HUB_JWT_SECRET" in message and reason in message
    # Not the secret, nor any recognisable piece of it.
    pieces = {secret.strip()[i : i + 8] for i in range(len(secret.strip()) - 7)}
    assert not [p for p in pieces if p in message]


def test_a_refused_short_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MODE", "production")
    monkeypatch.setenv("HUB_JWT_SECRET", "hunter2-is-short")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "at least 32" in str(refused.value)
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize("secret", STRONG_SECRETS)
def test_production_accepts_a_random_secret(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("HUB_MODE", "production")
    monkeypatch.setenv("HUB_JWT_SECRET", secret)
    assert Settings().jwt.secret.get_secret_value() == secret


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HUB_MQTT_PASSWORD", "password"),
        ("HUB_MQTT_PASSWORD", "x" * 24),
        ("HUB_METRICS_TOKEN", "metrics"),
        ("HUB_NOTIFICATIONS_WEBHOOK_SECRET", "abcd" * 8),
        ("HUB_QR_SECRET", "hunter2" * 6),
    ],
)
def test_production_refuses_the_other_weak_secrets_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("HUB_MODE", "production")
    monkeypatch.setenv("HUB_JWT_SECRET", STRONG_SECRETS[0])
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable) as refused:
        Settings()
    assert value not in str(refused.value)


def test_the_demo_does_not_judge_secrets() -> None:
    assert Settings(jwt=JwtSettings(secret=SecretStr("a" * 40))).mode == "demo"


# -- the mode a command asked for, and what a hub or edge needs to start -----------------


def test_the_requested_mode_is_none_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_MODE", raising=False)
    assert requested_mode() is None
    monkeypatch.setenv("HUB_MODE", "demo")
    assert requested_mode() == "demo"
    monkeypatch.setenv("HUB_MODE", "production")
    assert requested_mode() == "production"
    monkeypatch.setenv("HUB_MODE", "prod")
    with pytest.raises(ValidationError, match="production"):
        requested_mode()


def test_production_needs_broker_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MODE", "production")
    monkeypatch.setenv("HUB_JWT_SECRET", STRONG_SECRETS[0])
    with pytest.raises(InsecureSettingsError, match="HUB_MQTT_USERNAME"):
        Settings().check_broker_credentials()
    monkeypatch.setenv("HUB_MQTT_USERNAME", "hub")
    with pytest.raises(InsecureSettingsError, match="HUB_MQTT_PASSWORD"):
        Settings().check_broker_credentials()
    monkeypatch.setenv("HUB_MQTT_PASSWORD", STRONG_SECRETS[1])
    Settings().check_broker_credentials()
    # The demo's embedded broker takes anyone.
    Settings(mode="demo").check_broker_credentials()


def test_an_edges_metrics_off_its_host_need_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_MODE", "production")
    monkeypatch.setenv("EDGE_SERVERS", "watch")
    monkeypatch.setenv("EDGE_METRICS_PORT", "9101")
    EdgeSettings().check_edge_credentials()  # 127.0.0.1: this machine only
    monkeypatch.setenv("EDGE_METRICS_HOST", "0.0.0.0")
    with pytest.raises(InsecureSettingsError, match="EDGE_METRICS_TOKEN"):
        EdgeSettings().check_edge_credentials()
    monkeypatch.setenv("EDGE_METRICS_TOKEN", STRONG_SECRETS[1])
    EdgeSettings().check_edge_credentials()


def test_a_local_production_environment_passes_every_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in local_production_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EDGE_SERVERS", "watch")
    settings = Settings()
    assert settings.mode == "production"
    settings.check_broker_credentials()
    assert local_production_env()["HUB_JWT_SECRET"] != settings.jwt.secret.get_secret_value()
    edge = EdgeSettings()
    assert edge.mode == "production"
    edge.check_broker_credentials()
    edge.check_edge_credentials()


# -- sections: HUB_<SECTION>_<FIELD>, nested keywords, renamed names ---------------------


def test_a_section_field_reads_section_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MQTT_HOST", "broker.local")
    monkeypatch.setenv("HUB_MQTT_KEEPALIVE_S", "60")
    monkeypatch.setenv("HUB_DEAD_LETTERS_PER_GATEWAY", "7")
    monkeypatch.setenv("HUB_API_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1")
    monkeypatch.setenv("HUB_DATA_DIR", "/var/lib/hub")
    settings = Settings()
    assert (settings.mqtt.host, settings.mqtt.keepalive_s) == ("broker.local", 60)
    assert settings.dead_letters.per_gateway == 7
    assert settings.api.trusted_proxies == ["10.0.0.0/8", "192.168.1.1"]
    assert str(settings.data_dir) == "/var/lib/hub"
    assert {"HUB_MQTT_HOST", "HUB_DEAD_LETTERS_PER_GATEWAY", "HUB_MODE"} <= env_names()


def test_sections_in_code_are_models_or_dicts_and_flat_names_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_MQTT_HOST", "from-env")
    assert Settings(mqtt=MqttSettings(port=1884)).mqtt.port == 1884
    # A dict is merged with the environment's values of that section.
    merged = Settings(mqtt={"port": 1885}).mqtt  # type: ignore[arg-type]
    assert (merged.host, merged.port) == ("from-env", 1885)
    with pytest.raises(ValidationError, match="mqtt_port"):
        Settings(mqtt_port=1884)  # type: ignore[call-arg]


@pytest.mark.parametrize(("old", "new_and_path"), sorted(RENAMED.items()))
def test_a_renamed_variable_still_works_and_says_its_new_name(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    old: str,
    new_and_path: tuple[str, tuple[str, str]],
) -> None:
    new, (section, field) = new_and_path
    assert new in env_names()
    special = {"webhook_urls": "https://a.example/hook", "shared_group": "hubs"}
    value = special.get(field, "70000" if "bytes" in field else "100")
    monkeypatch.setenv(old, value)
    if field == "shared_group":
        monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+asyncpg://hub@db/hub")
    with caplog.at_level(logging.WARNING, logger="hub.settings"):
        got = getattr(getattr(Settings(), section), field)
    assert str(got.get_secret_value() if hasattr(got, "get_secret_value") else got) in (
        value,
        f"{value}.0",
        f"['{value}']",
    )
    assert f"{old} is deprecated" in caplog.text and new in caplog.text
    # With the new name set too, the new one wins and nothing is said.
    caplog.clear()
    monkeypatch.setenv(new, value)
    with caplog.at_level(logging.WARNING, logger="hub.settings"):
        Settings()
    assert "deprecated" not in caplog.text
