"""Export to a real server speaking InfluxDB's v2 write API (VictoriaMetrics), read back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from community_hub_tools.broker.mosquitto import free_port
from device_adapters.model import DeviceFamily
from hub.ingest.flows import BatchOutcome
from hub.telemetry.extract import extract
from hub.telemetry.influx import InfluxExporter
from hub.telemetry.models import TelemetryPoint
from hub.telemetry.service import TelemetryFeed
from tests.hub.telemetry.samples import NOW, context, event
from tests.support.victoria import VictoriaMetrics, start_victoria

W, C, D = DeviceFamily.WRISTBAND, DeviceFamily.CHARGER, DeviceFamily.DOOR_ACCESS


def _exporter(url: str, **overrides: int) -> InfluxExporter:
    options = {
        "capacity": 1000,
        "batch_size": 50,
        "flush_interval_ms": 50,
        "retry_interval_ms": 50,
        "max_retries": 2,
        "max_retry_delay_ms": 200,
        "close_wait_ms": 3000,
    }
    options.update(overrides)
    return InfluxExporter(url, token="test-token", org="hub", bucket="telemetry", **options)


async def _until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def _ms(series: dict[str, object]) -> list[object]:
    return list(series["timestamps"])  # type: ignore[call-overload]


async def test_points_arrive_with_their_measurement_tags_fields_and_time(
    victoria: VictoriaMetrics,
) -> None:
    events = [
        event(
            "watch:1",
            W,
            "wristband.blood_pressure",
            {"systolic_mmhg": 130, "diastolic_mmhg": 85, "heart_rate_bpm": 71},
        ),
        event(
            "watch:1", W, "wristband.heartbeat", {"battery_pct": 64}, at=NOW + timedelta(seconds=1)
        ),
        event("cp:1", C, "charger.meter", {"port": 2, "power_w": 7200.5, "energy_wh": 15000}),
        event("gate:1", D, "door.access_granted", {"door": 1}),
    ]
    contexts = {d: context(d, "x", 7) for d in ("watch:1", "cp:1", "gate:1")}
    points = extract(events, contexts)
    exporter = _exporter(victoria.url)
    runner = asyncio.create_task(exporter.run())
    try:
        exporter.offer(points)
        await _until(lambda: exporter.points_written == len(points))
    finally:
        runner.cancel()
        await exporter.aclose()
    assert exporter.points_queued == 4 and exporter.points_dropped == 0
    assert exporter.write_failures == 0 and exporter.buffer_depth == 0

    stored = {
        s["metric"]["__name__"]: s
        for s in victoria.export('{__name__=~"(vitals|battery|charger|gate_passes)_.*"}')
    }
    assert set(stored) == {
        "vitals_heart_rate",
        "vitals_systolic",
        "vitals_diastolic",
        "battery_percent",
        "charger_power_w",
        "charger_energy_wh",
        "gate_passes_count",
    }
    heart = stored["vitals_heart_rate"]
    assert {k: v for k, v in heart["metric"].items() if k != "db"} == {
        "__name__": "vitals_heart_rate",
        "device_id": "watch:1",
        "community_id": "7",
    }
    assert heart["values"] == [71] and _ms(heart) == [int(NOW.timestamp() * 1000)]
    assert stored["vitals_systolic"]["values"] == [130]
    battery = stored["battery_percent"]
    assert battery["metric"]["family"] == "wristband" and battery["values"] == [64]
    assert _ms(battery) == [int(NOW.timestamp() * 1000) + 1000]
    assert stored["charger_power_w"]["metric"]["port"] == "2"
    assert stored["charger_power_w"]["values"] == [7200.5]
    assert stored["charger_energy_wh"]["values"] == [15000]
    assert stored["gate_passes_count"]["metric"]["device_id"] == "gate:1"
    assert stored["gate_passes_count"]["values"] == [1]


def _battery_points(device: str, count: int, start_s: int) -> list[TelemetryPoint]:
    return [
        TelemetryPoint(
            "battery",
            device,
            1,
            (("family", "wristband"),),
            (("percent", float(i % 100)),),
            NOW + timedelta(seconds=start_s + i),
        )
        for i in range(count)
    ]


async def test_a_dead_server_costs_bounded_memory_and_counted_drops_never_ingest_time(
    tmp_path: Path,
) -> None:
    port = free_port()
    exporter = _exporter(f"http://127.0.0.1:{port}", capacity=40, batch_size=5)
    feed = TelemetryFeed([exporter])
    runner = asyncio.create_task(exporter.run())
    try:
        slowest, depth_seen = 0.0, 0
        for chunk in range(20):
            outcome = BatchOutcome(
                events=[
                    event(
                        "watch:9",
                        W,
                        "wristband.heartbeat",
                        {"battery_pct": i},
                        at=NOW + timedelta(seconds=chunk * 10 + i),
                    )
                    for i in range(10)
                ]
            )
            started = time.perf_counter()
            await feed(outcome)  # what the ingest loop awaits after each commit
            slowest = max(slowest, time.perf_counter() - started)
            depth_seen = max(depth_seen, exporter.buffer_depth)
            await asyncio.sleep(0.02)
        await _until(lambda: exporter.write_failures >= 1 and exporter.retries >= 2)
        assert exporter.points_queued == 200
        assert depth_seen <= 40 and exporter.buffer_depth <= 40
        assert exporter.points_dropped > 0
        assert exporter.points_written == 0
        assert slowest < 0.05, f"ingest waited {slowest:.3f}s for telemetry"

        # The server comes up (on the port the exporter uses): later points get through.
        server = start_victoria(tmp_path, port)
        try:
            before_failures = exporter.write_failures
            await _until(
                lambda: exporter.buffer_depth == 0 or exporter.write_failures > before_failures + 10
            )
            written_before = exporter.points_written
            exporter.offer(_battery_points("watch:later", 3, start_s=1000))
            await _until(lambda: exporter.points_written >= written_before + 3)
            later = server.export('{__name__="battery_percent", device_id="watch:later"}')
            assert [s["values"] for s in later] == [[0, 1, 2]]
        finally:
            server.stop()
    finally:
        runner.cancel()
        await exporter.aclose()
