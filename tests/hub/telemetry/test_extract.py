"""The event vocabulary mapped onto the fixed telemetry schema."""

from __future__ import annotations

from datetime import timedelta

from device_adapters.model import DeviceFamily
from hub.telemetry.extract import extract
from tests.hub.telemetry.samples import NOW, context, event

W, C, D, L = (
    DeviceFamily.WRISTBAND,
    DeviceFamily.CHARGER,
    DeviceFamily.DOOR_ACCESS,
    DeviceFamily.LOCK,
)


def test_each_measurement_comes_from_the_kinds_that_carry_it() -> None:
    later = NOW + timedelta(seconds=5)
    events = [
        event(
            "watch:1",
            W,
            "wristband.blood_pressure",
            {"systolic_mmhg": 130, "diastolic_mmhg": 85, "heart_rate_bpm": 71},
        ),
        event("watch:1", W, "wristband.spo2", {"spo2_pct": 97}, at=later),
        event("watch:1", W, "wristband.heartbeat", {"battery_pct": 64, "steps": 100}),
        event("cp:1", C, "charger.meter", {"port": 2, "power_w": 7200.5, "energy_wh": 15000}),
        event(
            "pile:1", C, "charger.port_status", {"port": 3, "power_w": 180.0, "status": "charging"}
        ),
        event("gate:1", D, "door.access_granted", {"door": 1, "method": "card"}),
        event("lock:1", L, "lock.state", {"battery_pct": 12, "state": "locked", "flag": True}),
    ]
    contexts = {
        "watch:1": context("watch:1", "wristband", 7),
        "cp:1": context("cp:1", "charger", 7),
    }
    points = extract(events, contexts)
    assert len(points) == 7
    got = {(p.measurement, p.device_id): p for p in points[1:]}
    got[("vitals", "watch:1")] = points[0]

    vitals = got[("vitals", "watch:1")]
    assert dict(vitals.fields) == {"heart_rate": 71.0, "systolic": 130.0, "diastolic": 85.0}
    assert vitals.all_tags() == {"device_id": "watch:1", "community_id": "7"}
    assert vitals.time == NOW
    spo2 = [p for p in extract(events[1:2], contexts)]
    assert [dict(p.fields) for p in spo2] == [{"spo2": 97.0}] and spo2[0].time == later

    assert got[("battery", "watch:1")].all_tags() == {
        "device_id": "watch:1",
        "family": "wristband",
        "community_id": "7",
    }
    assert dict(got[("battery", "lock:1")].fields) == {"percent": 12.0}
    # A device nobody placed in a community has no community tag.
    assert "community_id" not in got[("battery", "lock:1")].all_tags()

    meter = got[("charger", "cp:1")]
    assert dict(meter.fields) == {"power_w": 7200.5, "energy_wh": 15000.0}
    assert dict(meter.tags) == {"port": "2"}
    assert dict(got[("charger", "pile:1")].fields) == {"power_w": 180.0}

    passes = got[("gate_passes", "gate:1")]
    assert dict(passes.fields) == {"count": 1.0} and passes.tags == ()


def test_non_numbers_and_other_kinds_give_no_points() -> None:
    events = [
        event("watch:1", W, "wristband.heart_rate", {"heart_rate_bpm": "fast"}),
        event("watch:1", W, "wristband.sos", {}),
        event("gate:1", D, "door.access_denied", {"door": 1}),
        event("watch:1", W, "wristband.temperature", {"body_temp_c": 36.6, "battery_pct": True}),
    ]
    assert extract(events, {}) == []


def test_a_gate_event_that_knows_its_direction_is_tagged_with_it() -> None:
    points = extract([event("gate:1", D, "door.access_granted", {"direction": "out"})], {})
    assert [dict(p.tags) for p in points] == [{"direction": "out"}]
