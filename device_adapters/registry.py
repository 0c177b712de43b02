"""Find adapters by name through the ``community_hub.adapters`` entry point group.

A vendor's protocol can ship as its own package: it declares

    [project.entry-points."community_hub.adapters"]
    acme_gate = "acme_hub_adapter:ADAPTER"

and the edge finds it without the hub being edited (docs/adapters.md).
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from device_adapters.base import Adapter, MessageAdapter, SessionAdapter, StreamAdapter

GROUP = "community_hub.adapters"
log = logging.getLogger(__name__)


class AdapterLoadError(RuntimeError):
    """An entry point that does not name a valid adapter."""


def load_adapters() -> dict[str, Adapter]:
    """Every installed adapter by name. A broken entry point is an error, not a skip."""
    found: dict[str, Adapter] = {}
    for ep in entry_points(group=GROUP):
        try:
            adapter = ep.load()
        except Exception as exc:
            raise AdapterLoadError(
                f"adapter entry point {ep.name!r} ({ep.value}) failed: {exc}"
            ) from exc
        if not isinstance(adapter, StreamAdapter | MessageAdapter | SessionAdapter):
            raise AdapterLoadError(
                f"adapter entry point {ep.name!r} ({ep.value}) is a {type(adapter).__name__}, "
                "not a StreamAdapter, MessageAdapter or SessionAdapter"
            )
        if adapter.name != ep.name:
            raise AdapterLoadError(
                f"adapter entry point {ep.name!r} names an adapter called {adapter.name!r}"
            )
        if ep.name in found:
            raise AdapterLoadError(f"two packages register an adapter called {ep.name!r}")
        found[ep.name] = adapter
    return found


def get_adapter(name: str) -> Adapter:
    adapters = load_adapters()
    try:
        return adapters[name]
    except KeyError:
        known = ", ".join(sorted(adapters)) or "none"
        raise AdapterLoadError(f"no adapter called {name!r}; installed: {known}") from None
