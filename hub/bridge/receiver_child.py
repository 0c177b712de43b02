"""The receiver process itself: the hub's main MQTT connection, feeding the hub's pipe.

The hub's side and the reasons are in hub/bridge/receiver.py. The pipe carries tuples
of plain values, pickled by ``multiprocessing``: hub -> child
``("ack", [(connection, mid, qos), ...])`` and ``("stop",)``; child -> hub
``("batch", [Wire, ...])``, ``("state", ReceiverState)`` and ``("stopped",)``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from chub_mqtt import Client
from hub.bridge.clients import main_client, say_offline
from hub.gc_tuning import settle_after_startup
from hub.logs import setup_logging
from hub.settings import Settings

# (mid, qos, topic, payload, redelivered, connection) of one message.
Wire = tuple[int, int, str, bytes, bool, int]

_REPORT_EVERY_S = 1.0


@dataclass(frozen=True)
class ReceiverState:
    connected: bool
    connects: int
    protocol: str
    reading_paused: int
    stale_acks_skipped: int


def state_of(client: Client) -> ReceiverState:
    return ReceiverState(
        connected=client.connected,
        connects=client.connects,
        protocol=client.protocol,
        reading_paused=client.reading_paused,
        stale_acks_skipped=client.stale_acks_skipped,
    )


def run_child(settings: Settings, inbox_limit: int, pipe: Connection, log_level: int) -> None:
    """The receiver process's entry point."""
    # Ctrl-C reaches the whole process group; the hub decides when this ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The hub's console format; the level of the hub's own bridge logger.
    setup_logging(log_level)
    asyncio.run(_serve(settings, inbox_limit, pipe))


async def _serve(settings: Settings, inbox_limit: int, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()

    def send(message: tuple[Any, ...]) -> None:
        pipe.send(message)  # only ever from the loop

    def report(_up: bool | None = None) -> None:
        send(("state", state_of(client)))

    client = main_client(settings.mqtt, inbox_limit, on_connection=report)
    outstanding = 0  # handed to the hub, not acknowledged yet
    room = asyncio.Event()
    stop = asyncio.Event()

    def acked(entries: list[tuple[int, int, int]]) -> None:
        nonlocal outstanding
        outstanding -= len(entries)
        for connection, mid, qos in entries:
            client.ack_packet(connection, mid, qos)
        room.set()

    def read_hub() -> None:
        """In the loop, when the hub's end of the pipe is readable."""
        try:
            while pipe.poll():
                message = pipe.recv()
                if message[0] == "ack":
                    acked(message[1])
                elif message[0] == "stop":
                    loop.remove_reader(pipe.fileno())
                    stop.set()
                    return
        except (EOFError, OSError):
            # The hub is gone (it may have been killed): leave now. No DISCONNECT,
            # no acknowledgement: the broker keeps the session and redelivers.
            os._exit(0)

    async def pump() -> None:
        nonlocal outstanding
        reported = loop.time()
        while True:
            if loop.time() - reported > _REPORT_EVERY_S:  # the counters, for /metrics
                reported = loop.time()
                report()
            free = inbox_limit - outstanding
            if free <= 0:
                room.clear()
                await room.wait()
                continue
            await client.wait_message()
            items = client.take(free)
            if items:
                outstanding += len(items)
                send(
                    (
                        "batch",
                        [(m.mid, m.qos, m.topic, m.payload, m.dup, m.connection) for m in items],
                    )
                )

    await client.start()
    settle_after_startup()
    loop.add_reader(pipe.fileno(), read_hub)
    pumping = asyncio.create_task(pump())
    await stop.wait()
    pumping.cancel()
    await say_offline(settings.mqtt, client)
    await client.stop()
    send(("stopped",))
