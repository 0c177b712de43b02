"""The edge's own settings: EDGE_* names, the HUB_* names it read before still working for
one release (logged as deprecated), and production refusing weak secrets."""

from __future__ import annotations

import logging
import secrets

import pytest
from pydantic import ValidationError

from edge.settings import EdgeSettings, edge_env_names, requested_edge_mode


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    names, _renamed = edge_env_names()
    for name in names:
        monkeypatch.delenv(name, raising=False)


def test_the_edge_reads_its_own_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_GATEWAY_ID", "edge-7")
    monkeypatch.setenv("EDGE_MQTT_HOST", "broker.local")
    monkeypatch.setenv("EDGE_MAX_IN_FLIGHT", "7")
    monkeypatch.setenv("EDGE_SERVERS", "watch,ocpp")
    monkeypatch.setenv("EDGE_METRICS_PORT", "9100")
    monkeypatch.setenv("EDGE_OCPP_CREDENTIALS", '{"CP-1": "pw"}')
    settings = EdgeSettings()
    assert settings.gateway_id == "edge-7"
    assert settings.mqtt_host == "broker.local"
    assert settings.edge_max_in_flight == 7
    assert settings.edge_servers == ["watch", "ocpp"]
    assert settings.edge_metrics_port == 9100
    assert settings.ocpp_credentials is not None
    assert settings.ocpp_credentials["CP-1"].get_secret_value() == "pw"


def test_the_old_hub_names_still_work_and_say_what_replaces_them(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HUB_GATEWAY_ID", "edge-old")
    monkeypatch.setenv("HUB_EDGE_MAX_IN_FLIGHT", "9")
    with caplog.at_level(logging.WARNING, logger="edge.settings"):
        settings = EdgeSettings()
    assert settings.gateway_id == "edge-old" and settings.edge_max_in_flight == 9
    assert "HUB_GATEWAY_ID is deprecated" in caplog.text and "EDGE_GATEWAY_ID" in caplog.text
    assert "HUB_EDGE_MAX_IN_FLIGHT is deprecated" in caplog.text
    assert "EDGE_MAX_IN_FLIGHT instead" in caplog.text


def test_a_new_name_wins_over_the_old_one_without_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A shared environment file: HUB_MQTT_HOST is the hub's, EDGE_MQTT_HOST the edge's.
    monkeypatch.setenv("HUB_MQTT_HOST", "hub-side")
    monkeypatch.setenv("EDGE_MQTT_HOST", "edge-side")
    with caplog.at_level(logging.WARNING, logger="edge.settings"):
        assert EdgeSettings().mqtt_host == "edge-side"
    assert "deprecated" not in caplog.text


def test_keywords_in_code_win_and_unknown_ones_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EDGE_WATCH_PORT", "6000")
    assert EdgeSettings(watch_port=6001).watch_port == 6001
    with pytest.raises(ValidationError, match="hub_client_id"):
        EdgeSettings(hub_client_id="not-the-edge's")  # type: ignore[call-arg]


def test_the_requested_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    assert requested_edge_mode() is None
    monkeypatch.setenv("HUB_MODE", "production")  # the old name
    assert requested_edge_mode() == "production"
    monkeypatch.setenv("EDGE_MODE", "demo")
    assert requested_edge_mode() == "demo"


@pytest.mark.parametrize(
    ("variable", "value"), [("EDGE_MQTT_PASSWORD", "password"), ("EDGE_METRICS_TOKEN", "x" * 24)]
)
def test_production_refuses_weak_secrets_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("EDGE_MODE", "production")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable) as refused:
        EdgeSettings()
    assert value not in str(refused.value)
    monkeypatch.setenv(variable, secrets.token_urlsafe(24))
    EdgeSettings()


def test_production_needs_a_broker_account(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = EdgeSettings(mode="production")
    with pytest.raises(ValueError, match="EDGE_MQTT_USERNAME"):
        settings.check_broker_credentials()
    EdgeSettings().check_broker_credentials()  # the demo asks for none
