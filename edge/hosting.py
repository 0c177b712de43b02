"""Which device server hosts which adapter, and on which port, read from the registry.

A stream adapter (transport ``tcp``) gets a TCP server of its own, named after the
adapter, so an installed stream adapter package is served with no edit here. The other
transports have one server each, which hosts every adapter of that transport:
``websocket`` -> ``ocpp``, ``http_push`` -> ``http_push``, ``mqtt`` -> ``local_mqtt``.

A server listens on ``EDGE_PORTS[<server>]`` if given, else on the ``default_port``
its adapters declare. ``local_mqtt`` listens nowhere: it connects to the local broker
(``EDGE_LOCAL_MQTT_HOST``/``EDGE_LOCAL_MQTT_PORT``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from device_adapters.base import Adapter, StreamAdapter, Transport
from edge.settings import EdgeSettings

# The server of each transport that is not a stream of its own.
SHARED_SERVERS: Final[Mapping[Transport, str]] = {
    "websocket": "ocpp",
    "http_push": "http_push",
    "mqtt": "local_mqtt",
}


class HostingError(ValueError):
    """The installed adapters and the settings do not make a set of servers."""


def server_name(adapter: Adapter) -> str:
    if adapter.transport == "tcp":
        return adapter.name
    return SHARED_SERVERS[adapter.transport]


def hosted_adapters(adapters: Mapping[str, Adapter]) -> dict[str, list[Adapter]]:
    """Server name -> the adapters it hosts, for every server the adapters make."""
    servers: dict[str, list[Adapter]] = {}
    for name in sorted(adapters):
        adapter = adapters[name]
        if adapter.transport == "tcp":
            if not isinstance(adapter, StreamAdapter):
                raise HostingError(f"adapter {name!r} says tcp but is not a StreamAdapter")
            if name in SHARED_SERVERS.values():
                raise HostingError(f"stream adapter {name!r} has the name of a shared server")
        elif adapter.transport not in SHARED_SERVERS:
            raise HostingError(f"adapter {name!r} has an unknown transport {adapter.transport!r}")
        servers.setdefault(server_name(adapter), []).append(adapter)
    return servers


def server_port(server: str, adapters: Sequence[Adapter], settings: EdgeSettings) -> int | None:
    """The port ``server`` listens on; None for a server that listens nowhere."""
    if adapters and adapters[0].transport == "mqtt":
        if server in settings.edge_ports:
            raise HostingError(
                f"{server} connects to the local broker and listens nowhere: set "
                "EDGE_LOCAL_MQTT_HOST and EDGE_LOCAL_MQTT_PORT instead of EDGE_PORTS"
            )
        return None
    if server in settings.edge_ports:
        return settings.edge_ports[server]
    declared = sorted({a.default_port for a in adapters if a.default_port is not None})
    if len(declared) != 1:
        names = ", ".join(a.name for a in adapters)
        said = "no default port" if not declared else f"default ports {declared}"
        raise HostingError(f"the {server} server ({names}) has {said}: give it one in EDGE_PORTS")
    return declared[0]


def check_names(settings: EdgeSettings, servers: Mapping[str, object]) -> None:
    """Refuse server names in EDGE_SERVERS and EDGE_PORTS that nothing installed makes."""
    known = ", ".join(sorted(servers)) or "none"
    for variable, names in (
        ("EDGE_SERVERS", settings.edge_servers),
        ("EDGE_PORTS", list(settings.edge_ports)),
    ):
        unknown = [n for n in names if n not in servers]
        if unknown:
            raise HostingError(
                f"{variable} names unknown edge servers {unknown}; the installed adapters "
                f"make: {known}"
            )
