"""The durable floor: the least a consumer that keeps the hub's promise can do.

The ingest figure compares the hub with a bare paho consumer that counts
messages and lets paho acknowledge them at once. A hub may acknowledge a
message only once it is stored, so part of the gap is the price of that
promise, whatever the hub does besides. This consumer pays that price and
nothing more, and so bounds what any Python hub on paho-mqtt reaches on this
machine:

- paho-mqtt with manual acknowledgement, at the MQTT version given (the hub's
  is 5, with Receive Maximum set to its inbox size);
- each message parsed with orjson, and its fields laid out as a row;
- rows inserted with sqlite3's own ``executemany`` (WAL, ``synchronous=NORMAL``,
  as the hub's SQLite) in transactions of up to 500, committed;
- then acknowledged.

No validation, device state, rules, alerts, telemetry history or outbox: those
are the hub's own work, which the difference between this and the hub measures.
It runs in a process of its own, like the bare consumer.
"""

from __future__ import annotations

import collections
import socket
import sqlite3
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

import orjson

# As the hub: transactions of up to its batch size, and an inbox of two batches.
_BATCH = 500
_INBOX = 2 * _BATCH

_TABLE = (
    "CREATE TABLE IF NOT EXISTS floor_events (event_id TEXT PRIMARY KEY, device_id TEXT, "
    'kind TEXT, received_at TEXT, stored_at REAL, "values" TEXT, raw BLOB)'
)
_INSERT = (
    "INSERT OR IGNORE INTO floor_events "
    '(event_id, device_id, kind, received_at, stored_at, "values", raw) '
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _row(payload: bytes, now: float) -> tuple[Any, ...]:
    event = orjson.loads(payload)
    raw = event.get("raw")
    return (
        event["event_id"],
        event["device_id"],
        event["kind"],
        event["received_at"],
        now,
        orjson.dumps(event.get("values")).decode(),
        raw.encode() if isinstance(raw, str) else b"",
    )


def floor_client_id(mqtt5: bool) -> str:
    """The floor's persistent session on the benchmark's broker, one per MQTT version."""
    return f"bench-ingest-floor-{'5' if mqtt5 else '311'}"


def durable_consume(
    port: int, count: int, mqtt5: bool, db_path: str, pipe: Connection, stop: MpEvent
) -> None:
    """Store then acknowledge until ``count`` messages are committed or ``stop`` is set.

    Reports ("progress", committed, last commit time) twice a second and
    ("done", committed, last commit time) at the end, like the bare consumer.
    """
    import paho.mqtt.client as mqtt

    from chub_mqtt.session import connect_options, persistent_consumer
    from chub_mqtt.topics import EVENTS_SUBSCRIPTION

    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(_TABLE)
    db.commit()

    inbox: collections.deque[tuple[int, bytes]] = collections.deque()
    wake = threading.Condition()
    subscribed = threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        with wake:
            inbox.append((msg.mid, msg.payload))
            wake.notify()

    def on_connect(c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            return
        sock = c.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.subscribe(EVENTS_SUBSCRIPTION, qos=1)

    # The hub's own client and session: persistent, manual acknowledgement, and at
    # MQTT 5 a Receive Maximum the size of its inbox.
    protocol = mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311
    client = persistent_consumer(floor_client_id(mqtt5), protocol)
    options = connect_options(protocol, _INBOX)
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_subscribe = lambda *_a: subscribed.set()
    try:
        client.connect("127.0.0.1", port, **options)
        client.loop_start()
        if not subscribed.wait(20):
            pipe.send(("error", "the durable-floor consumer could not subscribe"))
            return
        pipe.send(("ready",))
        committed, last, next_report = 0, time.monotonic(), time.monotonic() + 0.5
        while committed < count and not stop.is_set():
            with wake:
                if not inbox:
                    wake.wait(0.05)
                batch = [inbox.popleft() for _ in range(min(_BATCH, len(inbox)))]
            if batch:
                now = time.time()
                db.executemany(_INSERT, [_row(payload, now) for _mid, payload in batch])
                db.commit()
                for mid, _payload in batch:  # only now may the broker forget them
                    client.ack(mid, 1)
                committed += len(batch)
                last = time.monotonic()
            if time.monotonic() >= next_report:
                pipe.send(("progress", committed, last))
                next_report += 0.5
        pipe.send(("done", committed, last))
    finally:
        client.disconnect()
        client.loop_stop()
        db.close()
