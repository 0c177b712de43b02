"""Gate passes and a household's door unlocks: whole for admins, staff and the household,
redacted for property managers and volunteers, on every path that can show them.

The events are the real codecs' output for the frames a Hikvision-style gate, a
Zigbee2MQTT lock and a Tuya lock send (the simulators build them), stored by the
ingest's own batch; the API answers over HTTP (ASGI) from the seeded database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from community_hub_tools.sim.door_gate import SimulatedGate
from community_hub_tools.sim.locks import SimulatedTuyaLock, SimulatedZ2mLock
from device_adapters.base import MessageContext
from device_adapters.hikvision import codec as hikvision
from device_adapters.model import DeviceEvent
from device_adapters.tuya import codec as tuya
from device_adapters.zigbee2mqtt import codec as z2m
from hub.ingest.flows import store_batch
from hub.storage.db import Database
from tests.api.people import Users

GATE = "hik:gate-north"  # building 1, grid 1: the community's
Z2M_LOCK = "z2m:b1_101_front_door"  # 孙丽华's household (resident.sun's), grid 1
TUYA_LOCK = "tuya:bf3a1c2d4e5f6a7b8c"  # 周国强's household, grid 1

# Who passed the gate: markers that must never reach a redacted answer.
PASSER = "Gao Xiaoming (高晓明)"
CARD_NO = "73310042"
EMPLOYEE_NO = "E-55123"
Z2M_USER = 4711
TUYA_USER = 4242

WHOLE = ("admin", "staff")
REDACTED = ("manager", "vol.li")
# What a redacted lock history may still hold: the lock's health and its troubles.
LOCK_KINDS_SHOWN_REDACTED = {"lock.unlock_failed", "lock.jammed", "device.low_battery"}
LOCK_VALUES_SHOWN_REDACTED = {
    "battery_pct",
    "battery_low",
    "reason",
    "attempted",
    "jammed",
    "alarm",
}


def _ctx(hint: str) -> MessageContext:
    return MessageContext(
        received_at=datetime.now(UTC), gateway_id="edge-1", source="test", device_hint=hint
    )


def _events() -> list[DeviceEvent]:
    gate = SimulatedGate("gate-north")
    passes = [
        gate.card_pass(CARD_NO, PASSER, EMPLOYEE_NO),
        gate.face_pass(PASSER, EMPLOYEE_NO),
        gate.card_denied(CARD_NO),
        gate.door_opened(),
        gate.door_closed(),
    ]
    z = SimulatedZ2mLock("b1_101_front_door")
    z2m_frames = [z.unlock("keypad", Z2M_USER), z.lock(), z.failed_unlock("rfid", Z2M_USER)]
    t = SimulatedTuyaLock("bf3a1c2d4e5f6a7b8c")
    tuya_frames = [t.unlock("fingerprint", TUYA_USER), t.alarm(tuya.AlarmBit.JAMMED_CLOSED)]
    events: list[DeviceEvent] = []
    for body in passes:
        events += hikvision.decode(body, _ctx("gate-north"))
    for _topic, payload in z2m_frames:
        events += z2m.decode(payload, _ctx("b1_101_front_door"))
    for _topic, payload in tuya_frames:
        events += tuya.decode(payload, _ctx("bf3a1c2d4e5f6a7b8c"))
    # One transaction per frame, in order: the state moves forward event by event.
    return events


@pytest.fixture
async def happened(api_db: Database) -> None:
    for event in _events():
        async with api_db.write() as conn:
            await store_batch(conn, [event], [], datetime.now(UTC))


async def _get(users: Users, username: str, url: str, **params: Any) -> Any:
    actor = await users(username)
    response = await actor.client.get(url, headers=actor.headers, params=params)
    assert response.status_code == 200, f"{username} GET {url}: {response.text[:300]}"
    return response.json()


def _passer_shown(body: Any) -> bool:
    text = json.dumps(body, ensure_ascii=False)
    return any(
        marker in text for marker in (PASSER, "Gao Xiaoming", "高晓明", CARD_NO, EMPLOYEE_NO)
    )


def _kinds(history: dict[str, Any]) -> set[str]:
    return {e["kind"] for e in history["items"]}


# -- gate passes ----------------------------------------------------------------------


@pytest.mark.parametrize("username", WHOLE)
async def test_admins_and_staff_see_who_passed_the_gate(
    as_user: Users, happened: None, username: str
) -> None:
    history = await _get(as_user, username, f"/api/v1/devices/{GATE}/events")
    granted = [e for e in history["items"] if e["kind"] == "door.access_granted"]
    assert len(granted) == 2
    card = next(e for e in granted if e["values"].get("method") == "card")
    assert card["values"]["person_name"] == PASSER
    assert card["values"]["card_no"] == CARD_NO
    assert card["values"]["employee_no"] == EMPLOYEE_NO


@pytest.mark.parametrize("username", REDACTED)
async def test_managers_and_volunteers_see_gate_traffic_but_not_who(
    as_user: Users, happened: None, username: str
) -> None:
    history = await _get(as_user, username, f"/api/v1/devices/{GATE}/events")
    # The gate's traffic and troubles are still there: that a card passed, was refused,
    # the door opened and closed, through which door and reader, and how.
    assert {"door.access_granted", "door.access_denied", "door.opened", "door.closed"} <= (
        _kinds(history)
    )
    card = next(
        e
        for e in history["items"]
        if e["kind"] == "door.access_granted" and e["values"].get("method") == "card"
    )
    assert card["values"]["door"] == 1 and card["values"]["reader"] == 1
    assert not _passer_shown(history), f"{username} sees who passed the gate"
    for url in (f"/api/v1/devices/{GATE}", "/api/v1/devices"):
        assert not _passer_shown(await _get(as_user, username, url, limit=200))


# -- a household's door unlocks ----------------------------------------------------------


@pytest.mark.parametrize("username", [*WHOLE, "resident.sun"])
async def test_admins_staff_and_the_household_see_who_unlocked_the_door(
    as_user: Users, happened: None, username: str
) -> None:
    device = await _get(as_user, username, f"/api/v1/devices/{Z2M_LOCK}")
    assert device["state"]["last_unlock"]["user"] == Z2M_USER
    history = await _get(as_user, username, f"/api/v1/devices/{Z2M_LOCK}/events")
    unlocked = next(e for e in history["items"] if e["kind"] == "lock.unlocked")
    assert unlocked["values"]["user"] == Z2M_USER
    assert unlocked["values"]["source"] == "keypad"
    assert {"lock.locked", "lock.state", "lock.unlock_failed"} <= _kinds(history)


@pytest.mark.parametrize("username", WHOLE)
async def test_admins_and_staff_see_a_tuya_locks_unlocks(
    as_user: Users, happened: None, username: str
) -> None:
    history = await _get(as_user, username, f"/api/v1/devices/{TUYA_LOCK}/events")
    unlocked = next(e for e in history["items"] if e["kind"] == "lock.unlocked")
    assert unlocked["values"] == {
        "method": "fingerprint",
        "user": TUYA_USER,
        "battery_pct": 87,
    }


def _check_lock_redacted(device: dict[str, Any], history: dict[str, Any], who: str) -> None:
    state = device["state"]
    assert "last_unlock" not in state, f"{who} sees the last unlock of {device['id']}"
    assert not str(state.get("last_event_kind", "")).startswith(("lock.unlocked", "lock.locked"))
    assert "battery_pct" in state  # the lock's health is still there
    kinds = _kinds(history)
    assert kinds <= LOCK_KINDS_SHOWN_REDACTED, f"{who} sees {kinds - LOCK_KINDS_SHOWN_REDACTED}"
    for event in history["items"]:
        extra = set(event["values"]) - LOCK_VALUES_SHOWN_REDACTED
        assert not extra, f"{who} sees {extra} of {event['kind']} at {device['id']}"


@pytest.mark.parametrize("username", REDACTED)
async def test_managers_and_volunteers_see_a_locks_health_not_its_unlocks(
    as_user: Users, happened: None, username: str
) -> None:
    listed = await _get(as_user, username, "/api/v1/devices", family="lock", limit=200)
    by_id = {d["id"]: d for d in listed["items"]}
    for lock in (Z2M_LOCK, TUYA_LOCK):
        device = await _get(as_user, username, f"/api/v1/devices/{lock}")
        history = await _get(as_user, username, f"/api/v1/devices/{lock}/events")
        _check_lock_redacted(device, history, username)
        assert by_id[lock]["state"] == device["state"], "the list and the detail differ"
    z2m_history = await _get(as_user, username, f"/api/v1/devices/{Z2M_LOCK}/events")
    # A failed unlock is a security matter of the property: shown, but not whose.
    failed = next(e for e in z2m_history["items"] if e["kind"] == "lock.unlock_failed")
    assert failed["values"]["attempted"] == "unlock"
    tuya_history = await _get(as_user, username, f"/api/v1/devices/{TUYA_LOCK}/events")
    assert "lock.jammed" in _kinds(tuya_history)


# -- the dashboard and the telemetry charts -----------------------------------------------


@pytest.mark.parametrize("username", ["admin", "manager", "staff"])
async def test_the_dashboard_never_shows_who_passed_or_unlocked(
    as_user: Users, happened: None, username: str
) -> None:
    device = await _get(as_user, username, f"/api/v1/devices/{GATE}")
    board = await _get(as_user, username, "/api/v1/dashboard")
    assert not _passer_shown(board)
    building = device["building_id"]
    devices = await _get(as_user, username, f"/api/v1/dashboard/buildings/{building}/devices")
    assert {d["id"] for d in devices} >= {GATE, Z2M_LOCK}
    assert not _passer_shown(devices)
    # Only counts of passes are charted: no one's name or card.
    passes = await _get(
        as_user,
        username,
        f"/api/v1/devices/{GATE}/telemetry",
        measurement="gate_passes",
        field="count",
    )
    assert not _passer_shown(passes)


async def test_volunteers_have_no_dashboard(as_user: Users, happened: None) -> None:
    actor = await as_user("vol.li")
    response = await actor.client.get("/api/v1/dashboard", headers=actor.headers)
    assert response.status_code == 403
