"""Issue 7's benchmarks, tiny: each produces its report with numbers (no timing asserts)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chub_mqtt.topics import event_topic
from community_hub_tools.bench import api, ingest, memory
from community_hub_tools.bench.report import write_section
from community_hub_tools.broker.mosquitto import INSTALL_HINT, find_mosquitto
from device_adapters.model import Lane
from tests.support.bridges import publish
from tests.support.brokers import MosquittoProcess


@pytest.fixture
def needs_mosquitto() -> None:
    if find_mosquitto() is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip(INSTALL_HINT)


@pytest.mark.e2e
@pytest.mark.usefixtures("needs_mosquitto")
async def test_ingest_bench_counts_what_the_store_holds_for_both_consumers() -> None:
    result = await ingest.run_ingest_bench(count=500, progress=False)
    assert result.bare.published == result.bare.arrived == 500
    assert result.bare_after is not None and result.bare_after.arrived == 500
    [hub] = result.hubs
    assert hub.published == hub.arrived == 500 and hub.lost == 0 and hub.caught_up
    assert result.bare.rate > 0 and hub.rate > 0 and result.ratio(hub) > 0
    # The durable floors stored (and only then acknowledged) every message.
    assert [f.name for f in result.floors] == ["durable floor, MQTT 5", "durable floor, MQTT 3.1.1"]
    assert all(f.published == f.arrived == 500 and f.lost == 0 for f in result.floors)
    table = ingest.markdown(result, "Ingest", "1. ingest")
    assert "| hub, SQLite |" in table and "| 500 / 500 | 0 |" in table
    assert "| durable floor, MQTT 5 |" in table and "| durable floor, MQTT 3.1.1 |" in table
    assert re.search(
        r"<!-- summary: 1\. ingest \| \d+\.\d\d of bare .*durable floor, MQTT 5: \d\.\d\d", table
    )


def test_ingest_mix_has_telemetry_of_every_family_and_no_alarms() -> None:
    mix = ingest.event_mix()
    assert {e.family.value for e in mix} >= {"wristband", "charger", "lock", "door_access"}
    assert all(e.lane.value != "alarm" for e in mix)


@pytest.mark.e2e
@pytest.mark.usefixtures("needs_mosquitto")
async def test_api_bench_answers_every_variant_without_errors() -> None:
    result = await api.run_api_bench(
        clients=3, duration_s=2, chargers=5, ports_each=2, ticket_count=120, progress=False
    )
    assert result.errors == 0
    for endpoint in result.endpoints:
        assert endpoint.latencies_ms and all(v > 0 for v in endpoint.latencies_ms)
    table = api.markdown([result])
    assert "| tickets dispatched (volunteer) |" in table and ", errors 0 |" in table


@pytest.mark.e2e
@pytest.mark.usefixtures("needs_mosquitto")
async def test_memory_bench_reads_the_hub_process_peak() -> None:
    result = await memory.run_memory_bench(device_count=500, active=20, rounds=2, progress=False)
    assert result.stored >= result.events == 40
    assert result.chargers_listed >= 10  # 2 % of 500 seeded piles, plus the demo's own
    assert len(result.stages) == 3
    assert result.peak_mb >= max(hwm for _s, _rss, hwm in result.stages) > 0
    assert "**peak (VmHWM)**" in memory.markdown(result)


def test_the_hubs_memory_counts_its_child_processes() -> None:
    """The hub's MQTT receiver is a child process: its memory is the hub's too."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        found = [p for p in memory._with_children(os.getpid()) if p == child.pid]
        assert found == [child.pid]
        # Peaks only grow, so reading them one after the other compares fairly.
        alone = memory.proc_status_mb(os.getpid(), "VmHWM")
        child_mb = memory.proc_status_mb(child.pid, "VmHWM")
        assert memory.hub_mb(os.getpid(), "VmHWM") >= alone + child_mb > alone
    finally:
        child.kill()
        child.wait()


@pytest.mark.e2e
@pytest.mark.usefixtures("needs_mosquitto")
async def test_multihub_bench_refuses_without_shared_subscriptions(postgres_url: str) -> None:
    if ingest.shared_group_supported():
        result = await ingest.run_multihub_bench(postgres_url, hubs=2, count=300, progress=False)
        assert [h.arrived for h in result.hubs] == [300, 300]
        assert all(h.lost == 0 for h in result.hubs)
    else:
        with pytest.raises(RuntimeError, match="HUB_SHARED_GROUP"):
            await ingest.run_multihub_bench(postgres_url, hubs=2, count=300, progress=False)


def test_summary_table_is_rebuilt_from_each_sections_row(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    write_section(report, "b", "body\n\n<!-- summary: 2. b | 2 | < 3 | met -->")
    write_section(report, "a", "body\n\n<!-- summary: 1. a | 1 | ≥ 1 | met -->")
    write_section(report, "a", "body\n\n<!-- summary: 1. a | 0 | ≥ 1 | not met -->")
    text = report.read_text()
    assert text.startswith("# Benchmarks")
    assert text.count("## Summary") == 1
    table = text.split("<!-- summary-table -->")[1].split("<!-- /summary-table -->")[0]
    assert table.index("| 1. a | 0 | ≥ 1 | not met |") < table.index("| 2. b | 2 | < 3 | met |")
    assert "| 1. a | 1 |" not in table


@pytest.mark.e2e
@pytest.mark.parametrize("mqtt5", [True, False])
def test_a_finished_consumers_session_is_ended_so_later_phases_do_not_feed_it(
    mosquitto: MosquittoProcess, mqtt5: bool
) -> None:
    """The floor's and the hubs' persistent sessions must not queue the next phases' load."""
    import paho.mqtt.client as mqtt

    from chub_mqtt.session import connect_options, persistent_consumer
    from chub_mqtt.topics import EVENTS_SUBSCRIPTION
    from community_hub_tools.bench.floor import floor_client_id

    protocol = mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311
    received: list[bytes] = []
    present: list[bool] = []

    def session(then: str) -> None:
        client = persistent_consumer(floor_client_id(mqtt5), protocol)
        client.on_connect = lambda c, _u, flags, _r, _p: present.append(flags.session_present)
        client.on_message = lambda c, _u, m: received.append(bytes(m.payload))
        client.connect(mosquitto.host, mosquitto.port, **connect_options(protocol, 100))
        client.loop_start()
        try:
            if then == "subscribe":
                client.subscribe(EVENTS_SUBSCRIPTION, qos=1)
                time.sleep(0.5)
            else:
                time.sleep(1.0)  # anything queued for the session would arrive now
        finally:
            client.disconnect()
            client.loop_stop()

    topic = event_topic("bench-ingest", Lane.TELEMETRY, "watch:1")
    session("subscribe")
    publish(mosquitto.host, mosquitto.port, [(topic, b"queued for the old session", False)])
    ingest.forget_sessions(mosquitto.port, [floor_client_id(mqtt5)])
    publish(mosquitto.host, mosquitto.port, [(topic, b"after it ended", False)])
    session("listen")
    assert present[-1] is False and received == []
