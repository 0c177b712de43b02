"""The edge's servers come from the installed adapters by transport, each on its adapter's
default port unless EDGE_PORTS names another; the old per-server port variables still
work, with a deprecation warning naming the new form."""

from __future__ import annotations

import logging

import pytest

from device_adapters.model import DeadLetter, DeviceEvent
from edge.gateway import build_servers
from edge.hosting import HostingError
from edge.http_push import HttpPushServer
from edge.mqtt_devices import LocalMqttDevices
from edge.ocpp_server import OcppServer
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer


class NullUplink:
    async def publish_event(self, event: DeviceEvent) -> None:
        pass

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        pass


def ports(settings: EdgeSettings) -> dict[str, int | None]:
    servers = build_servers(settings, NullUplink())
    return {name: getattr(server, "port", None) for name, server in servers.items()}


def test_every_builtin_server_on_its_adapters_default_port() -> None:
    servers = build_servers(EdgeSettings(), NullUplink())
    assert list(servers) == ["watch", "iw", "ebike", "ocpp", "http_push", "local_mqtt"]
    for name in ("watch", "iw", "ebike"):
        server = servers[name]
        assert isinstance(server, StreamServer) and server.adapter.name == name
    assert isinstance(servers["ocpp"], OcppServer)
    assert isinstance(servers["http_push"], HttpPushServer)
    assert isinstance(servers["local_mqtt"], LocalMqttDevices)
    assert ports(EdgeSettings()) == {
        "watch": 5088,
        "iw": 5089,
        "ebike": 5090,
        "ocpp": 9000,
        "http_push": 8090,
        "local_mqtt": 1883,  # the broker it connects to, not a port it listens on
    }


@pytest.mark.parametrize(
    "value", ["watch=6000, ocpp=9100", '{"watch": 6000, "ocpp": 9100}', "watch=6000,,ocpp=9100"]
)
def test_edge_ports_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("EDGE_PORTS", value)
    monkeypatch.setenv("EDGE_SERVERS", "watch,iw,ocpp")
    settings = EdgeSettings()
    assert settings.edge_ports == {"watch": 6000, "ocpp": 9100}
    assert ports(settings) == {"watch": 6000, "iw": 5089, "ocpp": 9100}
    # The old fields read back the port in force, for code not yet moved over.
    assert (settings.watch_port, settings.ocpp_port) == (6000, 9100)


@pytest.mark.parametrize("value", ["watch", "watch=port", "watch=70000", "=5088"])
def test_a_malformed_edge_port_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("EDGE_PORTS", value)
    with pytest.raises(ValueError, match="edge_ports"):
        EdgeSettings()


def test_an_old_port_variable_still_works_and_says_what_replaces_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HUB_WATCH_PORT", "6100")
    monkeypatch.setenv("HUB_OCPP_PORT", "9200")
    monkeypatch.setenv("EDGE_PORTS", "ocpp=9100")
    with caplog.at_level(logging.WARNING, logger="edge.settings"):
        settings = EdgeSettings()
    assert ports(settings)["watch"] == 6100
    # Both given: the new form wins, and the warning says the old one is ignored.
    assert ports(settings)["ocpp"] == 9100
    warnings = [r.getMessage() for r in caplog.records]
    assert any(
        "HUB_WATCH_PORT is deprecated" in w and "EDGE_PORTS=watch=6100" in w for w in warnings
    )
    assert any("HUB_OCPP_PORT" in w and "ignored" in w for w in warnings)


def test_an_unknown_edge_server_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_SERVERS", "watch,telnet")
    with pytest.raises(HostingError, match=r"telnet.*installed adapters make: .*watch"):
        build_servers(EdgeSettings(), NullUplink())


def test_a_port_for_an_unknown_server_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_PORTS", "wacth=5088")
    with pytest.raises(HostingError, match="wacth"):
        build_servers(EdgeSettings(), NullUplink())


def test_the_local_broker_port_is_not_an_edge_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_PORTS", "local_mqtt=1884")
    with pytest.raises(HostingError, match="EDGE_LOCAL_MQTT_PORT"):
        build_servers(EdgeSettings(), NullUplink())
