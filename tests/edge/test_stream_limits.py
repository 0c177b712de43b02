"""Bounded edges of the TCP stream servers: connection caps, the deadline to identify,
dead letters bounded per connection and per server, logs at a bounded rate.

Real TCP sockets to a real StreamServer (the watch adapter), publishing into a
recording uplink. Clients bind their source address to 127.0.0.x to look like
different remote addresses (every 127/8 address is loopback on Linux).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from device_adapters import watch
from edge.limits import connection_stats
from edge.metrics import EdgeCollector
from tests.edge.sockets import RecordingUplink, client, running, wait_until

GW = "gw-limits-test"
LK = b"[3G*8800000001*000B*LK,0,10,100]"
LK_REPLY = b"[3G*8800000001*0002*LK]"
GARBAGE = b"[zz]"  # one Rejected item each ("expected '*' after manufacturer")
# PROTOCOLS.md 1a, a real SOS (its device id changed).
SOS = (
    b"[3G*8800000001*00C0*AL,271219,094744,V,00.000000,N, 0.0000000,E,0.00,0.0,0.0,0,100,81,"
    b"0,0,00010000,7,0,460,0,9336,3981,141,9336,3912,141,9336,3982,140,9765,4233,134,9765,"
    b"4071,134,9765,4321,134,9336,4353,132,0,0.0]"
)


def lk(device: str) -> bytes:
    return watch.encode_frame("3G", device, "LK,0,10,100")


def lk_reply(device: str) -> bytes:
    return f"[3G*{device}*0002*LK]".encode()


# -- connection caps ----------------------------------------------------------------------


async def test_connections_over_the_per_address_cap_are_closed_and_counted() -> None:
    uplink = RecordingUplink()
    async with running(uplink, edge_max_connections_per_address=2) as server:
        async with client(server.port) as a, client(server.port) as b:
            await wait_until(lambda: server.stats.connections_open == 2, 10, "two admitted")
            async with client(server.port) as third:
                assert await third.closed_by_server()
            # Another address is not affected by this one's cap.
            async with client(server.port, "127.0.0.2") as other:
                await other.send(lk("8800000002"))
                assert await other.reply() == lk_reply("8800000002")
            # The two admitted ones still work.
            await a.send(lk("8800000003"))
            assert await a.reply() == lk_reply("8800000003")
            await b.send(lk("8800000004"))
            assert await b.reply() == lk_reply("8800000004")
        stats = server.limits.stats
        assert stats.refused_per_address == 1
        assert stats.refused_max_connections == 0


async def test_connections_over_the_total_cap_are_closed_and_counted() -> None:
    uplink = RecordingUplink()
    async with running(uplink, edge_max_connections=2) as server:
        async with client(server.port) as a, client(server.port, "127.0.0.2") as b:
            await a.send(lk("8800000001"))
            assert await a.reply() == lk_reply("8800000001")
            await b.send(lk("8800000002"))
            assert await b.reply() == lk_reply("8800000002")
            async with client(server.port, "127.0.0.3") as third:
                assert await third.closed_by_server()
        # Once one has gone, a new connection is admitted again.
        await wait_until(lambda: server.stats.connections_open == 0, 10, "both closed")
        async with client(server.port, "127.0.0.3") as later:
            await later.send(lk("8800000005"))
            assert await later.reply() == lk_reply("8800000005")
        assert server.limits.stats.refused_max_connections == 1


async def test_unidentified_connections_are_capped_but_identified_ones_are_not() -> None:
    uplink = RecordingUplink()
    async with running(uplink, edge_max_unidentified=2) as server:
        async with client(server.port) as a, client(server.port, "127.0.0.2") as b:
            await wait_until(lambda: server.stats.connections_open == 2, 10, "two admitted")
            async with client(server.port, "127.0.0.3") as third:
                assert await third.closed_by_server()
            # a identifies: it no longer counts against the cap of unidentified ones.
            await a.send(LK)
            assert await a.reply() == LK_REPLY
            async with client(server.port, "127.0.0.4") as fourth:
                await fourth.send(lk("8800000004"))
                assert await fourth.reply() == lk_reply("8800000004")
            assert b.reader.at_eof() is False
        assert server.limits.stats.refused_unidentified == 1


async def test_a_connection_that_does_not_identify_in_time_is_closed() -> None:
    uplink = RecordingUplink()
    async with running(uplink, edge_unidentified_timeout_s=0.5) as server:
        async with (
            client(server.port) as silent,
            client(server.port) as trickle,
            client(server.port, "127.0.0.2") as device,
        ):
            await device.send(LK)
            assert await device.reply() == LK_REPLY

            async def dribble() -> None:
                # A byte now and then resets no deadline: it is one to identify by.
                with contextlib.suppress(ConnectionError):
                    for _ in range(200):
                        await trickle.send(b"x")
                        await asyncio.sleep(0.1)

            dribbler = asyncio.create_task(dribble())
            try:
                assert await silent.closed_by_server()
                assert await trickle.closed_by_server()
            finally:
                dribbler.cancel()
                await asyncio.gather(dribbler, return_exceptions=True)
            # The identified device keeps the long idle timeout.
            await device.send(LK)
            assert await device.reply() == LK_REPLY
        assert server.limits.stats.unidentified_timeouts == 2
        assert server.stats.idle_closed == 0


# -- dead letters bounded ------------------------------------------------------------------


async def test_garbage_from_an_unidentified_connection_is_bounded_then_closed() -> None:
    uplink = RecordingUplink()
    async with running(uplink, edge_dead_letters_per_connection=3) as server:
        async with client(server.port) as garbage:
            await garbage.send(GARBAGE * 10)
            assert await garbage.closed_by_server()
        await wait_until(lambda: server.stats.connections_open == 0, 10, "closed")
        assert len(uplink.dead_letters) == 3
        assert server.limits.stats.dead_letters_suppressed >= 1
        assert server.stats.dead_letters == 3


async def test_an_identified_device_over_its_dead_letter_bound_keeps_its_alarms() -> None:
    uplink = RecordingUplink()
    async with running(uplink, edge_dead_letters_per_connection=3) as server:
        async with client(server.port) as device:
            await device.send(LK)
            assert await device.reply() == LK_REPLY
            # Its alarm after the garbage still gets through and is answered.
            await device.send(GARBAGE * 10 + SOS)
            assert await device.reply() == b"[3G*8800000001*0002*AL]"
        assert len(uplink.dead_letters) == 3
        assert [e.kind for e in uplink.events if e.kind == "wristband.sos"] == ["wristband.sos"]
        assert server.limits.stats.dead_letters_suppressed == 7


async def test_dead_letters_are_bounded_per_server_as_well() -> None:
    uplink = RecordingUplink()
    async with running(
        uplink, edge_dead_letters_per_connection=3, edge_dead_letters_per_server=4
    ) as server:
        async with client(server.port) as a, client(server.port, "127.0.0.2") as b:
            for c, device in ((a, "8800000001"), (b, "8800000002")):
                await c.send(lk(device))
                assert await c.reply() == lk_reply(device)
                # The LK after the garbage is answered once the garbage was handled.
                await c.send(GARBAGE * 3 + lk(device))
                assert await c.reply() == lk_reply(device)
        assert len(uplink.dead_letters) == 4
        assert server.limits.stats.dead_letters_suppressed == 2


async def test_a_dead_letters_raw_bytes_are_truncated_and_the_reason_says_so() -> None:
    uplink = RecordingUplink()
    async with (
        running(uplink, edge_dead_letter_raw_max_bytes=256) as server,
        client(server.port) as device,
    ):
        await device.send(LK)
        assert await device.reply() == LK_REPLY
        big = b"[3G*8800000001*1000*" + b"x" * 0x1000 + b")"  # not closed by ']'
        await device.send(big + LK)
        assert await device.reply() == LK_REPLY
    assert uplink.dead_letters
    for dl in uplink.dead_letters:
        assert len(dl.raw) <= 256
    [cut] = [dl for dl in uplink.dead_letters if "truncated" in dl.reason]
    assert cut.raw == big[:256]
    assert "256" in cut.reason


async def test_garbage_connections_are_logged_at_a_bounded_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    uplink = RecordingUplink()
    caplog.set_level(logging.INFO, logger="edge")
    async with running(uplink) as server:
        for _ in range(40):
            async with client(server.port) as garbage:
                await garbage.send(GARBAGE)
        await wait_until(
            lambda: server.stats.connections_total == 40 and server.stats.connections_open == 0,
            20,
            "all 40 handled",
        )
    lines = [r for r in caplog.records if r.name.startswith("edge")]
    # One line per garbage connection would be 40 or more; a bounded rate is a few.
    assert len(lines) <= 20, [r.getMessage() for r in lines]
    assert len(uplink.dead_letters) == 40  # each connection's first bad frame is kept
    assert server.limits.stats.log_lines_suppressed > 0


# -- the edge's metrics endpoint reads the counters ------------------------------------------


@dataclass(frozen=True)
class _NoOutbox:
    stored: int = 0
    forwarded: int = 0
    in_flight: int = 0
    backlog: int = 0
    backlog_alarms: int = 0
    backlog_bytes: int = 0
    thinned: int = 0
    oldest_age_s: float | None = None
    forward_failures: int = 0
    over_budget: bool = False


async def test_the_edge_metrics_report_refusals_by_server_and_bound() -> None:
    uplink = RecordingUplink()
    registry = CollectorRegistry(auto_describe=False)
    async with running(uplink, edge_max_connections_per_address=1) as server:
        registry.register(
            EdgeCollector(GW, _NoOutbox, lambda: True, lambda: connection_stats({"watch": server}))
        )
        async with client(server.port) as first:
            await first.send(LK)
            assert await first.reply() == LK_REPLY
            async with client(server.port) as second:
                assert await second.closed_by_server()
            labels = {"gateway_id": GW, "server": "watch"}
            assert registry.get_sample_value("chub_edge_connections_open", labels) == 1
            assert registry.get_sample_value("chub_edge_connections_unidentified", labels) == 0
            assert (
                registry.get_sample_value(
                    "chub_edge_connections_refused_total", {**labels, "bound": "per_address"}
                )
                == 1
            )
            assert (
                registry.get_sample_value(
                    "chub_edge_connections_refused_total", {**labels, "bound": "max_connections"}
                )
                == 0
            )
