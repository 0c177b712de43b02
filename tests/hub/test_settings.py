"""Settings: demo defaults work; a production deployment refuses the demo secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.settings import Settings


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
    monkeypatch.setenv("HUB_JWT_SECRET", "x" * 40)
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
    monkeypatch.setenv("HUB_EDGE_SERVERS", value)
    assert Settings().edge_servers == expected


def test_an_unknown_edge_server_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_EDGE_SERVERS", "watch,telnet")
    with pytest.raises(ValidationError, match="telnet"):
        Settings()


def test_webhook_urls_come_from_a_comma_list_and_must_be_http(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_WEBHOOK_URLS", "https://sms.example/hook, http://10.0.0.5/bot")
    assert Settings().webhook_urls == ["https://sms.example/hook", "http://10.0.0.5/bot"]
    monkeypatch.setenv("HUB_WEBHOOK_URLS", "ftp://nope")
    with pytest.raises(ValidationError, match="must be http"):
        Settings()
