"""Per-device credentials: OCPP security profile 1 for chargers, HTTP Basic for gates;
and no deployment outside the demo without them."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import websockets
from websockets.exceptions import InvalidStatus

from edge.gateway import EdgeGateway
from edge.ocpp_server import OcppServer
from edge.settings import EdgeSettings, InsecureSettingsError
from tests.edge.test_ocpp_server import RecordingUplink, make_settings


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest_asyncio.fixture
async def guarded() -> AsyncIterator[OcppServer]:
    settings = make_settings(ocpp_credentials={"CP-1": "s3cret-for-cp1"})
    server = OcppServer(settings, RecordingUplink(), host="127.0.0.1", port=0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_charger_with_its_password_connects(guarded: OcppServer) -> None:
    url = f"ws://127.0.0.1:{guarded.port}/ocpp/CP-1"
    async with websockets.connect(
        url, subprotocols=["ocpp1.6"], additional_headers=_basic("CP-1", "s3cret-for-cp1")
    ) as ws:
        assert ws.subprotocol == "ocpp1.6"


@pytest.mark.parametrize(
    ("cp_id", "headers"),
    [
        ("CP-1", {}),  # no credentials
        ("CP-1", _basic("CP-1", "wrong")),
        ("CP-1", _basic("CP-2", "s3cret-for-cp1")),  # someone else's name
        ("CP-2", _basic("CP-2", "s3cret-for-cp1")),  # a charger nobody registered
    ],
)
async def test_a_charger_without_the_right_password_is_refused(
    guarded: OcppServer, cp_id: str, headers: dict[str, str]
) -> None:
    url = f"ws://127.0.0.1:{guarded.port}/ocpp/{cp_id}"
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(url, subprotocols=["ocpp1.6"], additional_headers=headers):
            pass
    assert info.value.response.status_code == 401
    assert guarded.stats.refused == 1 and not guarded.connected_charge_points


def test_an_edge_outside_the_demo_refuses_open_device_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EDGE_MODE", "production")
    with pytest.raises(InsecureSettingsError, match="EDGE_OCPP_CREDENTIALS"):
        EdgeSettings().check_edge_credentials()
    monkeypatch.setenv("EDGE_OCPP_CREDENTIALS", '{"CP-1": "pw"}')
    with pytest.raises(InsecureSettingsError, match="EDGE_GATE_CREDENTIALS"):
        EdgeGateway(EdgeSettings())
    monkeypatch.setenv("EDGE_GATE_CREDENTIALS", '{"gate-north": "pw"}')
    settings = EdgeSettings()
    settings.check_edge_credentials()
    assert settings.ocpp_credentials is not None
    assert settings.ocpp_credentials["CP-1"].get_secret_value() == "pw"
    # An edge that runs no charger or gate server needs neither.
    monkeypatch.delenv("EDGE_OCPP_CREDENTIALS")
    monkeypatch.delenv("EDGE_GATE_CREDENTIALS")
    monkeypatch.setenv("EDGE_SERVERS", "watch,iw")
    EdgeSettings().check_edge_credentials()
