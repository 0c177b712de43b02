"""Adapters are found by name through entry points, including a vendor's own package."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from device_adapters.base import MessageAdapter, StreamAdapter
from device_adapters.registry import AdapterLoadError, get_adapter, load_adapters


def _install_fake_dist(site: Path, entry_points: str, module: str, source: str) -> None:
    """A minimal installed distribution: a module plus a dist-info with entry points."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module.replace('_', '-')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[community_hub.adapters]\n" + textwrap.dedent(entry_points)
    )


def test_the_builtin_watch_adapter_is_registered() -> None:
    adapter = get_adapter("watch")
    assert isinstance(adapter, StreamAdapter)
    assert adapter.family.value == "wristband"


def test_a_vendor_package_adds_an_adapter_without_editing_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_dist(
        tmp_path,
        "acme_gate = acme_gate_adapter:ADAPTER\n",
        "acme_gate_adapter",
        """
        from device_adapters.base import MessageAdapter
        from device_adapters.model import DeviceFamily

        def decode(payload, ctx):
            return []

        ADAPTER = MessageAdapter(
            name="acme_gate", family=DeviceFamily.DOOR_ACCESS, description="ACME", decode=decode
        )
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    adapters = load_adapters()
    assert isinstance(adapters["acme_gate"], MessageAdapter)
    assert "watch" in adapters
    sys.modules.pop("acme_gate_adapter", None)


def test_an_entry_point_that_is_not_an_adapter_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_dist(
        tmp_path, "broken = broken_adapter:ADAPTER\n", "broken_adapter", "ADAPTER = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AdapterLoadError, match=r"'broken'.*is a int"):
        load_adapters()
    sys.modules.pop("broken_adapter", None)


def test_an_unknown_name_lists_what_is_installed() -> None:
    with pytest.raises(AdapterLoadError, match=r"no adapter called 'nope'; installed: .*watch"):
        get_adapter("nope")
