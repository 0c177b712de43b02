"""HttpPushServer: a real uvicorn server on a free port, driven by httpx like a controller,
publishing into a recording fake uplink."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from community_hub_tools.sim.door_gate import SimulatedGate
from device_adapters.model import DeadLetter, DeviceEvent, Lane
from edge.http_push import (
    MAX_BODY_BYTES,
    HttpPushServer,
    basic_auth_matches,
    extract_event_json,
)
from edge.settings import EdgeSettings
from edge.uplink import UplinkError
from tests.support.brokers import free_port

GW = "gw-push-test"
GATE = "gate-a"


class RecordingUplink:
    """Records what is published; can fail, or hold each publish until released."""

    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.dead_letters: list[DeadLetter] = []
        self.fail_events = False
        self.fail_dead_letters = False
        self.gate: asyncio.Event | None = None

    async def publish_event(self, event: DeviceEvent) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_events:
            raise UplinkError("broker unreachable")
        self.events.append(event)

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        if self.fail_dead_letters:
            raise UplinkError("broker unreachable")
        self.dead_letters.append(dl)


class Rig:
    def __init__(self, server: HttpPushServer, uplink: RecordingUplink, client: httpx.AsyncClient):
        self.server, self.uplink, self.client = server, uplink, client
        self.base_url = f"http://127.0.0.1:{server.port}"
        self.gate = SimulatedGate(GATE)

    async def push(self, body: bytes, **kwargs: Any) -> httpx.Response:
        return await self.gate.push(self.client, self.base_url, body, **kwargs)


async def start_rig(credentials: dict[str, str] | None = None) -> tuple[Rig, HttpPushServer]:
    uplink = RecordingUplink()
    settings = EdgeSettings(gateway_id=GW, edge_host="127.0.0.1")
    server = HttpPushServer(
        settings, uplink, host="127.0.0.1", port=free_port(), credentials=credentials
    )
    await server.start()
    client = httpx.AsyncClient(timeout=10.0)
    return Rig(server, uplink, client), server


@pytest_asyncio.fixture
async def rig() -> AsyncIterator[Rig]:
    r, server = await start_rig()
    try:
        yield r
    finally:
        await r.client.aclose()
        await server.stop()


@pytest_asyncio.fixture
async def secured() -> AsyncIterator[Rig]:
    r, server = await start_rig(credentials={GATE: "s3cret", "gate-b": "other"})
    try:
        yield r
    finally:
        await r.client.aclose()
        await server.stop()


async def test_a_pass_is_answered_after_its_event_was_published(rig: Rig) -> None:
    rig.uplink.gate = asyncio.Event()
    request = asyncio.create_task(rig.push(rig.gate.face_pass("Zhang San", "1001")))
    await asyncio.sleep(0.3)
    assert not request.done(), "answered before the uplink confirmed the event"
    assert rig.uplink.events == []
    rig.uplink.gate.set()
    response = await request
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "events": 1}
    [event] = rig.uplink.events
    assert event.kind == "door.access_granted" and event.device_id == "hik:gate-a"
    assert event.gateway_id == GW
    assert event.values["person_name"] == "Zhang San" and event.values["method"] == "face"
    assert rig.server.stats.events == 1 and rig.server.stats.requests == 1


async def test_every_simulated_event_type_decodes(rig: Rig) -> None:
    g = rig.gate
    bodies = [
        g.card_pass("12345678", "Li Si", "1002"),
        g.card_denied("87654321"),
        g.card_denied("11111111", known_card=False),
        g.face_denied(),
        g.exit_button(),
        g.door_opened(),
        g.door_closed(),
        g.forced_open(),
        g.held_open(),
        g.duress("Wang Wu", "1003"),
        g.tamper(),
        g.tamper(reader=True),
        g.low_battery(),
        g.mains_off(),
    ]
    for body in bodies:
        assert (await rig.push(body)).status_code == 200
    assert [e.kind for e in rig.uplink.events] == [
        "door.access_granted",
        "door.access_denied",
        "door.access_denied",
        "door.access_denied",
        "door.exit_button",
        "door.opened",
        "door.closed",
        "door.forced_open",
        "door.held_open",
        "door.duress",
        "device.tamper",
        "device.tamper",
        "device.low_battery",
        "device.power_cut",
    ]
    serials = [e.values["serial_no"] for e in rig.uplink.events]
    assert serials == list(range(1, len(bodies) + 1))


async def test_duress_is_answered_like_any_other_event(rig: Rig) -> None:
    normal = await rig.push(rig.gate.door_opened())
    duress = await rig.push(rig.gate.duress("Wang Wu", "1003"))
    assert (duress.status_code, duress.content) == (normal.status_code, normal.content)
    assert rig.uplink.events[-1].kind == "door.duress"
    assert rig.uplink.events[-1].lane is Lane.ALARM


async def test_multipart_with_a_picture(rig: Rig) -> None:
    response = await rig.push(rig.gate.face_pass("张三", "1001"), multipart=True)
    assert response.status_code == 200, response.text
    [event] = rig.uplink.events
    assert event.values["person_name"] == "张三"
    assert event.raw.startswith(b"{")  # the JSON part, not the picture


async def test_heartbeat_is_ok_with_no_event(rig: Rig) -> None:
    response = await rig.push(rig.gate.heartbeat())
    assert response.json() == {"status": "ok", "events": 0}
    assert rig.uplink.events == [] and rig.server.stats.heartbeats == 1


async def test_garbage_is_dead_lettered_then_refused(rig: Rig) -> None:
    response = await rig.push(b"\x00\x01 not an event")
    assert response.status_code == 400
    assert "not UTF-8" in response.json()["reason"] or "not JSON" in response.json()["reason"]
    [dl] = rig.uplink.dead_letters
    assert dl.raw == b"\x00\x01 not an event"
    assert dl.protocol == "hikvision" and dl.device_id == "hik:gate-a"
    assert dl.gateway_id == GW and dl.source.startswith("http 127.0.0.1")
    assert rig.uplink.events == [] and rig.server.stats.dead_letters == 1


async def test_an_unknown_code_is_dead_lettered_with_the_code(rig: Rig) -> None:
    response = await rig.push(rig.gate.event((5, 999), doorNo=1))
    assert response.status_code == 400
    assert "major=5, minor=999" in response.json()["reason"]
    [dl] = rig.uplink.dead_letters
    assert json.loads(dl.raw)["AccessControllerEvent"]["subEventType"] == 999


async def test_multipart_without_an_event_part(rig: Rig) -> None:
    files = {"Picture": ("face.jpg", b"\xff\xd8\xff\xd9", "image/jpeg")}
    response = await rig.client.post(rig.gate.url(rig.base_url), files=files)
    assert response.status_code == 400
    assert "no event JSON part" in response.json()["reason"]
    assert len(rig.uplink.dead_letters) == 1


async def test_uplink_failure_asks_the_controller_to_retry(rig: Rig) -> None:
    rig.uplink.fail_events = True
    response = await rig.push(rig.gate.forced_open())
    assert response.status_code == 503
    assert response.json()["status"] == "retry"
    assert rig.server.stats.publish_failures == 1 and rig.server.stats.events == 0
    # The controller's retry goes through once the uplink is back.
    rig.uplink.fail_events = False
    assert (await rig.push(rig.gate.forced_open())).status_code == 200
    assert [e.kind for e in rig.uplink.events] == ["door.forced_open"]


async def test_dead_letter_failure_also_asks_for_a_retry(rig: Rig) -> None:
    rig.uplink.fail_dead_letters = True
    response = await rig.push(b"{broken")
    assert response.status_code == 503
    assert rig.uplink.dead_letters == []


async def test_too_large_body(rig: Rig) -> None:
    response = await rig.push(b"{" + b" " * MAX_BODY_BYTES + b"}")
    assert response.status_code == 413
    assert rig.uplink.events == [] and rig.uplink.dead_letters == []


async def test_credentials_are_required_when_configured(secured: Rig) -> None:
    body = secured.gate.door_opened()
    cases: list[tuple[str, Any]] = [
        ("none", None),
        ("wrong password", (GATE, "guess")),
        ("other device's credentials", ("gate-b", "other")),
        ("empty password", (GATE, "")),
    ]
    for label, auth in cases:
        response = await secured.push(body, auth=auth)
        assert response.status_code == 401, label
        assert response.headers["www-authenticate"].startswith("Basic")
    assert secured.uplink.events == [] and secured.uplink.dead_letters == []
    assert secured.server.stats.auth_failures == len(cases)
    ok = await secured.push(body, auth=(GATE, "s3cret"))
    assert ok.status_code == 200
    assert [e.device_id for e in secured.uplink.events] == ["hik:gate-a"]


async def test_an_unknown_device_is_refused_when_credentials_are_configured(
    secured: Rig,
) -> None:
    stranger = SimulatedGate("gate-z")
    response = await stranger.push(
        secured.client, secured.base_url, stranger.door_opened(), auth=("gate-z", "x")
    )
    assert response.status_code == 401


# -- pure helpers --------------------------------------------------------------------


def test_extract_prefers_the_named_part() -> None:
    request = httpx.Request(
        "POST",
        "http://x/",
        files={
            "other": (None, b'{"not": "this"}', "application/json"),
            "AccessControllerEvent": (None, b'{"this": 1}', "text/plain"),
        },
    )
    body = request.read()
    assert extract_event_json(request.headers["content-type"], body) == b'{"this": 1}'
    assert extract_event_json("application/json", b"{}") == b"{}"
    assert extract_event_json(None, b"{}") == b"{}"


def test_basic_auth_matching() -> None:
    import base64

    def header(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert basic_auth_matches(header("gate-a", "pw:with:colons"), "gate-a", "pw:with:colons")
    assert not basic_auth_matches(header("gate-a", "pw"), "gate-a", "pw2")
    assert not basic_auth_matches(header("gate-b", "pw"), "gate-a", "pw")
    assert not basic_auth_matches("Bearer abc", "gate-a", "pw")
    assert not basic_auth_matches("Basic %%%", "gate-a", "pw")
    assert not basic_auth_matches(None, "gate-a", "pw")
