"""The edge's durable outbox: "acknowledged to a device" means "will reach the broker".

Device servers call ``publish_event`` / ``publish_dead_letter`` exactly as they
called the uplink (the same ``EventPublisher`` protocol), but the call returns
once the item is committed to a local SQLite file, not once the broker has it.
A forwarder task then sends the stored items through ``MqttUplink`` at QoS 1
and deletes each row only after the hub confirmed it had committed it (or,
without ``end_to_end``, after the broker's PUBACK). An uplink outage or a
restart of the edge (clean or kill -9) therefore loses nothing that a device
was told had been received.

Storage
    One SQLite file (``settings.resolved_outbox_path``) in WAL mode, used by
    one connection on one dedicated thread. A writer task commits everything
    that arrived while the previous commit was on disk in one transaction
    (group commit: no per-message transaction, no artificial delay for a lone
    SOS) and only then resolves the callers' futures. Transactions that store
    items run with ``synchronous=FULL``: the commit is fsynced, because this
    commit *is* the promise made to the device, and it must survive a power
    cut, not just a process crash. Transactions that only delete delivered
    rows run with ``synchronous=NORMAL``: losing one of those on a power cut
    only means the rows are sent again, and the next FULL commit fsyncs the
    WAL they are in anyway. Rows keep the raw JSON (``model_dump_json()``)
    with seq, lane, device_id, kind ('event' | 'dead_letter'), size and
    created_at, plus the event kind (``wristband.heartbeat``...) that the
    disk bound's policy needs.
    A lock file next to the database keeps a second outbox (another gateway
    process pointed at the same data directory) from forwarding the same rows.

Forwarding and order
    At most ``settings.edge_max_in_flight`` items are unacknowledged at once
    (the uplink allows as many; paho's message ids wrap at 65535, and that
    setting is capped below it). Within a lane, items are handed to the uplink
    in insertion order (``seq``), and they all go over the uplink's single
    MQTT connection: QoS 1 messages on one TCP connection reach the broker in
    the order they were sent, and after a reconnect paho resends what was
    unacknowledged, again in order. So per device (and lane) the hub sees
    events in the order the edge received them; a copy sent again after a
    timeout or a restart arrives after the original and the hub drops it by
    ``event_id``. After a start or a failed send the outbox sends one item on
    its own and waits for its PUBACK before opening the window again: the
    uplink may still hold copies abandoned after a timeout, and this "probe"
    lets them drain, so no item ever waits for an uplink slot with later
    items free to overtake it. (That holds while the outbox is the uplink's
    only caller with PUBACK-tracked publishes, as in ``EdgeGateway``; other
    callers should be few and rare, or use an uplink of their own.)

End to end (``end_to_end=True``, as the edge gateway runs it)
    A PUBACK is not durability: a broker killed before its next autosave loses
    what it acknowledged. So a row the broker acknowledged is only marked sent;
    it leaves the file when the hub, after committing it, names its id on
    ``chub/v1/edge/<gateway>/committed`` (``confirm``). A row not confirmed
    ``settings.edge_resend_after_s`` after it was sent goes out again, but only
    once a hub has been online (its retained status) for as long: during a hub
    outage the broker holds the copies for the hub's session, and resending
    then would only queue duplicates. The hub drops copies by id. The guarantee
    per fault is in docs/delivery.md.

Alarms first
    The alarm lane is always claimed before the telemetry lane, so an SOS
    stored behind a telemetry backlog waits only for what is already in
    flight. Order is kept within a lane, not across lanes: the hub processes
    the two lanes separately by design (they are separate topics), so an
    alarm overtaking an older heartbeat of the same device is intended.
    Dead letters ride in the telemetry lane's queue.

Failures
    A failed send (``UplinkError``/``UplinkTimeout``, or anything else) is
    never dropped: the forwarder lets what is in flight settle, rewinds to the
    oldest unacknowledged row and tries again with exponential backoff. That
    includes a PUBACK that says the broker did not keep the message
    (``UplinkNotDelivered``): above all "No matching subscribers" from a broker
    the hub has never subscribed on, which would otherwise drop it. A row
    that can no longer be parsed (e.g. written by a newer version) is logged,
    kept in the file for an operator and skipped.

Disk bound (``settings.edge_outbox_max_bytes``)
    The bound is on the stored rows (JSON payload plus a fixed per-row
    overhead); the file itself is larger by SQLite's page slack, indexes and
    WAL. When a commit takes the outbox over the bound, the oldest telemetry
    events are deleted ("thinned") until it is back to 90% of the bound,
    except the newest stored event of each device and event kind (so the
    last position, heartbeat, meter value... of every device survives), and
    except rows already in flight. Thinning is counted in ``stats.thinned``
    and logged. Alarms and dead letters are never dropped: if only they (and
    the newest telemetry per device and kind) remain, the outbox keeps
    storing past the bound and says so in the log and ``stats.over_budget``.
    Only a full disk stops it: then ``publish_*`` raises ``OutboxError`` (an
    ``UplinkError``), the servers do not acknowledge the device, and the
    device sends again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple, TypeVar

from pydantic import ValidationError

from device_adapters.model import (
    EVENT_MAX_RAW,
    MESSAGE_MAX_BYTES,
    DeadLetter,
    DeviceEvent,
    Lane,
    event_bound_violation,
)
from edge.settings import EdgeSettings
from edge.uplink import EventPublisher, UplinkError

if sys.platform != "win32":
    import fcntl

log = logging.getLogger(__name__)

_T = TypeVar("_T")

SCHEMA_VERSION: Final = 2
KIND_EVENT: Final = "event"
KIND_DEAD_LETTER: Final = "dead_letter"

# Bytes counted per row on top of its JSON: the other columns and index entries.
ROW_OVERHEAD: Final = 64
# Thinning frees down to this fraction of the bound, so it runs once per chunk
# of arrivals rather than on every commit once the outbox is full.
_THIN_TO: Final = 0.9
_THIN_PAGE: Final = 1000
# The share of the bound that dead letters may fill; past it they are counted only.
_LETTER_SHARE: Final = 0.1
# Most items one transaction stores, so one commit never holds callers for long.
_MAX_ROUND_ROWS: Final = 2000
# Most rows one claim reads; the window is refilled as PUBACKs come in.
_MAX_CLAIM: Final = 500
# SQLite host parameters per statement (the limit is 32766; stay well under).
_IN_CHUNK: Final = 500
_BACKOFF_MIN_S: Final = 0.2
_BACKOFF_MAX_S: Final = 5.0
# On stop, how long sends already in flight may still finish; the rest stay in
# the file and go out on the next start (the hub drops any copy by event_id).
_STOP_GRACE_S: Final = 2.0
# A restarting gateway may still be closing the file: wait this long for the lock.
_LOCK_WAIT_S: Final = 10.0
_WARN_EVERY_S: Final = 10.0
# Give freed pages back to the file system once the outbox is empty and this
# many pages (4 KiB each by default) are free.
_VACUUM_MIN_FREE_PAGES: Final = 2048

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    lane TEXT NOT NULL,
    device_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('event', 'dead_letter')),
    event_kind TEXT,
    payload TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_lane_seq ON outbox (lane, seq);
CREATE INDEX IF NOT EXISTS outbox_thinnable ON outbox (device_id, event_kind, seq)
    WHERE kind = 'event' AND lane = 'telemetry';
"""
# Version 2: end-to-end acknowledgement. A row the broker has acknowledged keeps
# its place, with the time it was sent, until the hub confirms it by id.
_SCHEMA_2: Final = """
ALTER TABLE outbox ADD COLUMN item_id TEXT;
ALTER TABLE outbox ADD COLUMN sent_at REAL;
UPDATE outbox SET item_id = COALESCE(
    json_extract(payload, '$.event_id'), json_extract(payload, '$.dead_letter_id'));
CREATE INDEX outbox_item ON outbox (item_id);
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
"""

# Oldest telemetry events that have a newer event of the same device and kind.
_THIN_CANDIDATES: Final = """
SELECT o.seq, o.size FROM outbox AS o
WHERE o.lane = 'telemetry' AND o.seq > ? AND o.kind = 'event'
  AND EXISTS (
    SELECT 1 FROM outbox AS n
    WHERE n.kind = 'event' AND n.lane = 'telemetry'
      AND n.device_id = o.device_id AND n.event_kind = o.event_kind AND n.seq > o.seq
  )
ORDER BY o.seq
LIMIT ?
"""


def _oversized(event: DeviceEvent, reason: str) -> DeadLetter:
    """An event over the bounds, kept as a dead letter with its frame cut to the bound."""
    return DeadLetter(
        dead_letter_id=event.event_id,
        gateway_id=event.gateway_id,
        source=f"edge {event.protocol}",
        protocol=event.protocol[:32],
        device_id=event.device_id,
        received_at=event.received_at,
        reason=f"{event.kind}: {reason}"[:1000],
        raw=event.raw[:EVENT_MAX_RAW],
    )


class OutboxError(UplinkError):
    """The outbox could not store an item (closed, disk full, locked by another process)."""


class _NewRow(NamedTuple):
    lane: str
    device_id: str | None
    kind: str
    event_kind: str | None
    payload: str
    size: int
    created_at: float
    item_id: str


class _Row(NamedTuple):
    seq: int
    lane: str
    kind: str
    payload: str


@dataclass(frozen=True)
class _Snapshot:
    """The file's state after a transaction, as the database thread counted it."""

    rows: int = 0
    alarm_rows: int = 0
    bytes: int = 0
    oldest_created_at: float | None = None
    thinned_now: int = 0
    awaiting: int = 0  # rows the broker acknowledged that the hub has not confirmed yet
    letters_dropped_now: int = 0  # dead letters over their budget, counted, not stored


@dataclass(frozen=True)
class OutboxStats:
    """Counters since start plus the backlog; cheap to read, for logs, CLI and tests."""

    stored: int  # items committed (and so acknowledgeable to devices)
    forwarded: int  # items the broker acknowledged
    in_flight: int  # items handed to the uplink, PUBACK pending
    backlog: int  # items in the file the broker has not acknowledged yet
    backlog_alarms: int
    backlog_bytes: int  # counted as for the disk bound
    thinned: int  # telemetry rows dropped by the disk bound
    oldest_age_s: float | None  # age of the oldest stored item
    forward_failures: int  # sends that failed and will be retried
    over_budget: bool  # over the bound with nothing left that may be thinned
    awaiting_confirmation: int = 0  # on the broker, not yet confirmed by the hub
    confirmed: int = 0  # items the hub confirmed (end to end)
    resent: int = 0  # items sent again because the hub had not confirmed them
    dead_letters_dropped: int = 0  # dead letters over their share of the bound, counted only


@dataclass(frozen=True)
class OutboxBacklog:
    """What the file holds right now (``await outbox.backlog()``), counted by SQLite."""

    items: int
    alarms: int
    dead_letters: int
    bytes: int
    oldest_age_s: float | None


class _Store:
    """The SQLite side. Every method runs on the outbox's single database thread."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._sync = ""
        self._rows = self._alarm_rows = self._bytes = 0
        self._letter_bytes = 0
        self.letter_budget = int(max_bytes * _LETTER_SHARE)
        # Claim cursors per lane: rows with a higher seq have not been handed out.
        self._cursor: dict[str, int] = {}
        # Seqs handed to the forwarder and not yet deleted: never thinned.
        self._claimed: set[int] = set()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise OutboxError("outbox database is closed")
        return self._conn

    def open(self) -> _Snapshot:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._conn = conn
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise OutboxError(f"{self.path} has outbox schema {version}, newer than ours")
            # Only effective before the first table exists, i.e. on a new file.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA journal_size_limit = 16777216")
            conn.execute("PRAGMA busy_timeout = 5000")
            self._set_sync("FULL")
            conn.executescript(_SCHEMA)
            if version < 2:
                conn.executescript(f"BEGIN; {_SCHEMA_2} COMMIT;")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            for lane, kind, count, size in conn.execute(
                "SELECT lane, kind, COUNT(*), COALESCE(SUM(size), 0) FROM outbox"
                " GROUP BY lane, kind"
            ):
                self._rows += count
                self._bytes += size
                if lane == Lane.ALARM.value:
                    self._alarm_rows += count
                if kind == KIND_DEAD_LETTER:
                    self._letter_bytes += size
        except BaseException:
            self.close()
            raise
        self.rewind()
        return self._snapshot(0)

    def _lock(self) -> None:
        if sys.platform == "win32":
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + _LOCK_WAIT_S
        while True:
            try:
                # Released by the kernel when the process dies, kill -9 included.
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise OutboxError(
                        f"{self.path} is in use by another edge outbox (lock {lock_path})"
                    ) from None
                time.sleep(0.1)
        self._lock_fd = fd

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # also releases the flock

    def _set_sync(self, level: str) -> None:
        if level != self._sync:
            self.conn.execute(f"PRAGMA synchronous = {level}")
            self._sync = level

    def _snapshot(self, thinned_now: int, letters_dropped_now: int = 0) -> _Snapshot:
        oldest = self.conn.execute("SELECT created_at FROM outbox ORDER BY seq LIMIT 1").fetchone()
        awaiting = self.conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL"
        ).fetchone()[0]
        return _Snapshot(
            rows=self._rows,
            alarm_rows=self._alarm_rows,
            bytes=self._bytes,
            oldest_created_at=None if oldest is None else float(oldest[0]),
            thinned_now=thinned_now,
            awaiting=int(awaiting),
            letters_dropped_now=letters_dropped_now,
        )

    def commit_round(
        self,
        new_rows: Sequence[_NewRow],
        delivered: Sequence[int],
        sent: Sequence[int] = (),
        confirmed: Sequence[str] = (),
    ) -> _Snapshot:
        """One transaction: store ``new_rows``, delete ``delivered`` rows and the rows
        whose item id is ``confirmed``, and mark ``sent`` rows as sent now."""
        conn = self.conn
        self._set_sync("FULL" if new_rows else "NORMAL")
        rows, alarm_rows, size = self._rows, self._alarm_rows, self._bytes
        letter_bytes = self._letter_bytes
        thinned = dropped = 0
        # Dead letters have a budget of their own: garbage never fills the disk that
        # alarms need. Past it they are counted, not stored.
        kept: list[_NewRow] = []
        for row in new_rows:
            if row.kind == KIND_DEAD_LETTER:
                if letter_bytes + row.size > self.letter_budget:
                    dropped += 1
                    continue
                letter_bytes += row.size
            kept.append(row)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if kept:
                conn.executemany(
                    "INSERT INTO outbox (lane, device_id, kind, event_kind, payload, size,"
                    " created_at, item_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    kept,
                )
                rows += len(kept)
                size += sum(r.size for r in kept)
                alarm_rows += sum(r.lane == Lane.ALARM.value for r in kept)
            for column, keys in (("seq", list(delivered)), ("item_id", list(confirmed))):
                d_rows, d_alarms, d_size, d_letters = self._delete(column, keys)
                rows, alarm_rows, size = rows - d_rows, alarm_rows - d_alarms, size - d_size
                letter_bytes -= d_letters
            now = time.time()
            for i in range(0, len(sent), _IN_CHUNK):
                chunk = list(sent[i : i + _IN_CHUNK])
                marks = ",".join("?" * len(chunk))
                conn.execute(f"UPDATE outbox SET sent_at = ? WHERE seq IN ({marks})", [now, *chunk])
            if size > self.max_bytes:
                thinned, t_size = self._thin(size - int(self.max_bytes * _THIN_TO))
                rows, size = rows - thinned, size - t_size
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        self._rows, self._alarm_rows, self._bytes = rows, alarm_rows, size
        self._letter_bytes = letter_bytes
        self._claimed.difference_update(delivered)
        self._claimed.difference_update(sent)
        if (delivered or confirmed) and rows == 0:
            self._maybe_vacuum()
        return self._snapshot(thinned, dropped)

    def resend_unconfirmed(self, older_than: float) -> int:
        """Rows sent before ``older_than`` (epoch s) and not confirmed go out again."""
        back = self.conn.execute(
            "UPDATE outbox SET sent_at = NULL WHERE sent_at IS NOT NULL AND sent_at < ?"
            " RETURNING seq, lane",
            (older_than,),
        ).fetchall()
        for seq, lane in back:
            # Claims only look above the cursor: move it back below the oldest resent row.
            self._cursor[lane] = min(self._cursor[lane], seq - 1)
        return len(back)

    def _delete(self, column: str, keys: Sequence[object]) -> tuple[int, int, int, int]:
        """Delete rows by seq or item id; (rows, alarm rows, bytes, dead-letter bytes)."""
        rows = alarms = size = letters = 0
        for i in range(0, len(keys), _IN_CHUNK):
            chunk = keys[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for lane, kind, row_size in self.conn.execute(
                f"DELETE FROM outbox WHERE {column} IN ({marks}) RETURNING lane, kind, size",
                chunk,
            ).fetchall():
                rows += 1
                size += row_size
                alarms += lane == Lane.ALARM.value
                letters += row_size if kind == KIND_DEAD_LETTER else 0
        return rows, alarms, size, letters

    def _thin(self, need: int) -> tuple[int, int]:
        """Delete old superseded telemetry until ``need`` bytes are freed; (rows, bytes)."""
        chosen: list[int] = []
        freed = 0
        after = 0
        while freed < need:
            page = self.conn.execute(_THIN_CANDIDATES, (after, _THIN_PAGE)).fetchall()
            if not page:
                break
            after = page[-1][0]
            for seq, row_size in page:
                if seq in self._claimed:
                    continue  # in flight: it is about to be delivered anyway
                chosen.append(seq)
                freed += row_size
                if freed >= need:
                    break
        rows, _alarms, size, _letters = self._delete("seq", chosen)
        return rows, size

    def _maybe_vacuum(self) -> None:
        free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
        if free >= _VACUUM_MIN_FREE_PAGES:
            self.conn.execute("PRAGMA incremental_vacuum")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def claim(self, limit: int) -> list[_Row]:
        """The next rows to forward: the alarm lane first, each lane in seq order."""
        out: list[_Row] = []
        for lane in (Lane.ALARM.value, Lane.TELEMETRY.value):
            if len(out) >= limit:
                break
            rows = self.conn.execute(
                "SELECT seq, lane, kind, payload FROM outbox WHERE lane = ? AND seq > ?"
                " AND sent_at IS NULL ORDER BY seq LIMIT ?",
                (lane, self._cursor[lane], limit - len(out)),
            ).fetchall()
            if rows:
                self._cursor[lane] = rows[-1][0]
                # A row resent while its first copy is still in flight waits for that copy.
                out.extend(_Row(*r) for r in rows if r[0] not in self._claimed)
        self._claimed.update(r.seq for r in out)
        return out

    def rewind(self) -> None:
        """Hand out every remaining row again, from the oldest (nothing is in flight)."""
        self._cursor = {Lane.ALARM.value: 0, Lane.TELEMETRY.value: 0}
        self._claimed.clear()

    def backlog(self) -> OutboxBacklog:
        items = alarms = dead = size = 0
        for lane, kind, count, total in self.conn.execute(
            "SELECT lane, kind, COUNT(*), COALESCE(SUM(size), 0) FROM outbox GROUP BY lane, kind"
        ):
            items += count
            size += total
            alarms += count if lane == Lane.ALARM.value else 0
            dead += count if kind == KIND_DEAD_LETTER else 0
        oldest = self.conn.execute("SELECT created_at FROM outbox ORDER BY seq LIMIT 1").fetchone()
        age = None if oldest is None else max(0.0, time.time() - float(oldest[0]))
        return OutboxBacklog(items, alarms, dead, size, age)


class Outbox:
    """A durable ``EventPublisher`` in front of an uplink (normally ``MqttUplink``).

    ``open()`` opens the file (``publish_*`` then stores); ``start()`` opens it
    if needed and starts forwarding; ``stop()`` stops forwarding, commits what
    was accepted and closes the file.
    """

    def __init__(self, settings: EdgeSettings, uplink: EventPublisher, *, end_to_end: bool) -> None:
        """``end_to_end``: keep each item until the hub confirms it (``confirm``), not
        only until the broker's PUBACK; the edge gateway always runs so."""
        self._settings = settings
        self._uplink = uplink
        self.end_to_end = end_to_end
        self._resend_after_s = settings.edge_resend_after_s
        self.path = settings.resolved_outbox_path
        self.max_bytes = settings.edge_outbox_max_bytes
        self._window = settings.edge_max_in_flight
        self._store: _Store | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._accepting = False
        # Writer state: items waiting for a commit, rows delivered waiting for a delete.
        self._pending: list[tuple[_NewRow, asyncio.Future[None]]] = []
        self._delivered: list[int] = []
        self._delivered_alarms = 0
        self._barriers: list[asyncio.Future[None]] = []
        self._writer_wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        # Forwarder state.
        self._forwarder: asyncio.Task[None] | None = None
        self._forward_wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._failed = False
        self._backoff = _BACKOFF_MIN_S
        # End to end: rows the broker acknowledged (to mark sent), ids the hub confirmed
        # (to delete), and since when a hub has been online (resends wait for one).
        self._sent: list[int] = []
        self._confirmed: list[str] = []
        self._hubs_online: set[str] = set()
        self._hub_up_since: float | None = None
        self._resender: asyncio.Task[None] | None = None
        # Counters.
        self._snap = _Snapshot()
        self._stored = self._forwarded = self._thinned = self._failures = 0
        self._confirmed_count = self._resent = self._letters_dropped = 0
        self._failing_since = 0  # failed sends since the last success
        self._last_thin_log = self._last_over_log = self._last_letter_log = 0.0
        self._thinned_unlogged = 0

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._store is not None

    @property
    def forwarding(self) -> bool:
        return self._forwarder is not None

    async def open(self) -> None:
        """Open (or create) the file; items can be stored from now on."""
        if self._store is not None:
            return
        store = _Store(self.path, self.max_bytes)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-outbox")
        try:
            snap = await asyncio.get_running_loop().run_in_executor(executor, store.open)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        self._store, self._executor, self._snap = store, executor, snap
        self._accepting = True
        self._writer = asyncio.create_task(self._write_loop(), name="edge-outbox-writer")
        log.info(
            "edge outbox %s open: %d items waiting (%d alarms), %d of %d bytes",
            self.path,
            snap.rows,
            snap.alarm_rows,
            snap.bytes,
            self.max_bytes,
        )

    async def start(self) -> None:
        """Open the file if needed and start forwarding what it holds."""
        if self._forwarder is not None:
            raise RuntimeError("outbox already forwarding")
        await self.open()
        self._failed = False
        self._backoff = _BACKOFF_MIN_S
        self._forwarder = asyncio.create_task(self._forward_loop(), name="edge-outbox-forwarder")
        if self.end_to_end:
            self._resender = asyncio.create_task(self._resend_loop(), name="edge-outbox-resender")

    async def stop(self) -> None:
        """Stop forwarding, commit what was accepted, close the file."""
        resender, self._resender = self._resender, None
        if resender is not None:
            resender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resender
        forwarder, self._forwarder = self._forwarder, None
        if forwarder is not None:
            forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forwarder
        tasks = list(self._in_flight.values())
        if tasks:
            # Let nearly-acknowledged sends finish; the others stay in the file.
            _done, late = await asyncio.wait(tasks, timeout=_STOP_GRACE_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._store is None:
            return
        self._accepting = False
        try:
            await self._flush()
        finally:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            for _row, fut in self._pending:
                if not fut.done():
                    fut.set_exception(OutboxError("outbox closed"))
            self._pending.clear()
            store, executor = self._store, self._executor
            self._store = self._executor = None
            assert executor is not None
            await asyncio.get_running_loop().run_in_executor(executor, store.close)
            executor.shutdown(wait=False)
        log.info("edge outbox %s closed with %d items waiting", self.path, self._snap.rows)

    # -- EventPublisher ----------------------------------------------------------------

    async def publish_event(self, event: DeviceEvent) -> None:
        """Return once ``event`` is committed to the outbox file.

        An event over the size bounds is stored as a dead letter instead (its frame
        cut to the bound): the hub would refuse it, and the disk is for alarms.
        """
        payload = event.model_dump_json()
        too_big = event_bound_violation(event)
        if too_big is None and len(payload) > MESSAGE_MAX_BYTES:
            too_big = f"event of {len(payload)} bytes; at most {MESSAGE_MAX_BYTES}"
        if too_big is not None:
            await self.publish_dead_letter(_oversized(event, too_big))
            return
        await self._put(
            _NewRow(
                lane=event.lane.value,
                device_id=event.device_id,
                kind=KIND_EVENT,
                event_kind=event.kind,
                payload=payload,
                size=len(payload.encode()) + ROW_OVERHEAD,
                created_at=time.time(),
                item_id=str(event.event_id),
            )
        )

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        """Return once ``dl`` is committed to the outbox file."""
        payload = dl.model_dump_json()
        await self._put(
            _NewRow(
                lane=Lane.TELEMETRY.value,  # after alarms, but never thinned (kind)
                device_id=dl.device_id,
                kind=KIND_DEAD_LETTER,
                event_kind=None,
                payload=payload,
                size=len(payload.encode()) + ROW_OVERHEAD,
                created_at=time.time(),
                item_id=str(dl.dead_letter_id),
            )
        )

    # -- end-to-end acknowledgement (called on the event loop by the uplink) ------------

    def confirm(self, item_ids: Sequence[str]) -> None:
        """The hub has committed these items: they may leave the file."""
        if not self.end_to_end or self._store is None:
            return
        self._confirmed.extend(item_ids)
        self._writer_wake.set()

    def hub_status(self, hub_id: str, online: bool) -> None:
        """A hub's retained status: resends wait until a hub has been up for a while."""
        if online:
            self._hubs_online.add(hub_id)
        else:
            self._hubs_online.discard(hub_id)
        if not self._hubs_online:
            self._hub_up_since = None
        elif self._hub_up_since is None:
            self._hub_up_since = time.monotonic()

    async def _resend_loop(self) -> None:
        """Send again what the hub has not confirmed ``edge_resend_after_s`` after it left.

        Only while a hub has been online for that long too: during a hub outage the
        broker keeps the copies for the hub's session, and resending then would only
        pile duplicates into its queue. When the broker lost them (killed before it
        saved them), the hub never confirms them, and they go out again once it is back.
        """
        store = self._require_store()
        after = self._resend_after_s
        while True:
            await asyncio.sleep(min(after / 3, 5.0))
            up = self._hub_up_since
            if up is None or time.monotonic() - up < after:
                continue
            await self._flush()  # sent marks and confirmations first
            back: int = await self._db(store.resend_unconfirmed, time.time() - after)
            if back:
                self._resent += back
                log.warning(
                    "edge outbox: %d items the hub has not confirmed within %gs go out again",
                    back,
                    after,
                )
                self._forward_wake.set()

    async def _put(self, row: _NewRow) -> None:
        if not self._accepting:
            raise OutboxError("outbox is not open")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, fut))
        self._writer_wake.set()
        await fut

    # -- backlog -----------------------------------------------------------------------

    @property
    def stats(self) -> OutboxStats:
        snap = self._snap
        oldest = snap.oldest_created_at
        return OutboxStats(
            stored=self._stored,
            forwarded=self._forwarded,
            in_flight=len(self._in_flight),
            # Delivered rows count as gone even before their delete is committed.
            backlog=max(0, snap.rows - len(self._delivered)),
            backlog_alarms=max(0, snap.alarm_rows - self._delivered_alarms),
            backlog_bytes=snap.bytes,
            thinned=self._thinned,
            oldest_age_s=None if oldest is None else max(0.0, time.time() - oldest),
            forward_failures=self._failures,
            over_budget=snap.bytes > self.max_bytes,
            awaiting_confirmation=snap.awaiting,
            confirmed=self._confirmed_count,
            resent=self._resent,
            dead_letters_dropped=self._letters_dropped,
        )

    async def backlog(self) -> OutboxBacklog:
        """Count what the file holds (after committing pending deletes)."""
        await self._flush()
        return await self._db(self._require_store().backlog)

    # -- writer: group commit ----------------------------------------------------------

    def _require_store(self) -> _Store:
        if self._store is None:
            raise OutboxError("outbox is not open")
        return self._store

    async def _db(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn`` on the database thread."""
        if self._executor is None:
            raise OutboxError("outbox is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _flush(self) -> None:
        """Wait until everything stored or delivered so far is committed."""
        if self._writer is None or self._writer.done():
            return
        barrier: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._barriers.append(barrier)
        self._writer_wake.set()
        await barrier

    async def _write_loop(self) -> None:
        store = self._require_store()
        while True:
            await self._writer_wake.wait()
            self._writer_wake.clear()
            # Everything that arrived while the previous commit was on disk.
            batch = self._pending[:_MAX_ROUND_ROWS]
            del self._pending[:_MAX_ROUND_ROWS]
            delivered, self._delivered = self._delivered, []
            delivered_alarms, self._delivered_alarms = self._delivered_alarms, 0
            sent, self._sent = self._sent, []
            confirmed, self._confirmed = self._confirmed, []
            barriers: list[asyncio.Future[None]] = []
            if self._pending:
                # More than one transaction's worth: barriers wait for the last one.
                self._writer_wake.set()
            else:
                barriers, self._barriers = self._barriers, []
            rows = [row for row, _fut in batch]
            try:
                snap: _Snapshot = await self._db(
                    store.commit_round, rows, delivered, sent, confirmed
                )
            except Exception as exc:
                log.exception("edge outbox: commit failed")
                for _row, fut in batch:
                    if not fut.done():
                        fut.set_exception(OutboxError(f"not stored: {exc}"))
                # The rows are still delivered: delete them with the next commit.
                self._delivered[:0] = delivered
                self._delivered_alarms += delivered_alarms
                self._sent[:0] = sent
                self._confirmed[:0] = confirmed
                for barrier in barriers:
                    if not barrier.done():
                        barrier.set_result(None)
                await asyncio.sleep(0.1)
                continue
            self._snap = snap
            self._stored += len(batch) - snap.letters_dropped_now
            self._confirmed_count += len(confirmed)
            if snap.letters_dropped_now:
                self._letters_dropped += snap.letters_dropped_now
                self._note_letters_dropped()
            for _row, fut in batch:
                if not fut.done():  # the caller may have given up; the row is stored anyway
                    fut.set_result(None)
            for barrier in barriers:
                if not barrier.done():
                    barrier.set_result(None)
            if rows:
                self._forward_wake.set()
            if snap.thinned_now:
                self._thinned += snap.thinned_now
                self._note_thinned(snap)
            elif snap.bytes > self.max_bytes:
                self._note_over_budget(snap)

    def _note_thinned(self, snap: _Snapshot) -> None:
        self._thinned_unlogged += snap.thinned_now
        now = time.monotonic()
        if now - self._last_thin_log >= _WARN_EVERY_S:
            self._last_thin_log = now
            log.warning(
                "edge outbox full (%d bytes, bound %d): thinned %d old telemetry events"
                " (%d since start); alarms and dead letters are kept",
                snap.bytes,
                self.max_bytes,
                self._thinned_unlogged,
                self._thinned,
            )
            self._thinned_unlogged = 0

    def _note_letters_dropped(self) -> None:
        now = time.monotonic()
        if now - self._last_letter_log >= _WARN_EVERY_S:
            self._last_letter_log = now
            log.warning(
                "edge outbox: dead letters fill their share of the bound (%d bytes);"
                " %d not stored since start, only counted",
                int(self.max_bytes * _LETTER_SHARE),
                self._letters_dropped,
            )

    def _note_over_budget(self, snap: _Snapshot) -> None:
        now = time.monotonic()
        if now - self._last_over_log >= _WARN_EVERY_S:
            self._last_over_log = now
            log.warning(
                "edge outbox over its bound (%d of %d bytes) with nothing left to thin:"
                " storing alarms, dead letters and the newest telemetry anyway",
                snap.bytes,
                self.max_bytes,
            )

    # -- forwarder ---------------------------------------------------------------------

    async def _forward_loop(self) -> None:
        store = self._require_store()
        probe = True  # see the module docstring: one item alone until it is acknowledged
        while True:
            try:
                probe = await self._forward_step(store, probe)
            except asyncio.CancelledError:
                raise
            except Exception:
                # E.g. the database briefly unreadable: nothing is lost, try again.
                log.exception("edge outbox: forwarder error, retrying")
                self._failed = True

    async def _forward_step(self, store: _Store, probe: bool) -> bool:
        """Hand out what the window allows; returns whether the next step is a probe."""
        self._forward_wake.clear()
        if self._failed:
            await self._recover(store)
            return True
        limit = 1 if probe else min(self._window - len(self._in_flight), _MAX_CLAIM)
        if limit <= 0 or (probe and self._in_flight):
            await self._forward_wake.wait()
            return probe
        rows: list[_Row] = await self._db(store.claim, limit)
        if self._failed:
            return probe  # a send failed meanwhile: these rows go out again after the rewind
        if not rows:
            await self._forward_wake.wait()
            return probe
        if probe:
            task = self._dispatch(rows[0])
            if task is None:
                return True
            await asyncio.wait([task])
            return self._failed
        for row in rows:
            self._dispatch(row)
        return False

    def _dispatch(self, row: _Row) -> asyncio.Task[None] | None:
        item: DeviceEvent | DeadLetter
        try:
            if row.kind == KIND_DEAD_LETTER:
                item = DeadLetter.model_validate_json(row.payload)
            else:
                item = DeviceEvent.model_validate_json(row.payload)
        except ValidationError as exc:
            # Kept in the file for an operator; skipped until the next rewind.
            log.error("edge outbox row %d cannot be read, skipped: %s", row.seq, exc)
            return None
        # Tasks start in creation order and hand their message to paho before
        # their first suspension, so paho gets them in claim order.
        task = asyncio.create_task(self._send(row, item), name=f"edge-outbox-send-{row.seq}")
        self._in_flight[row.seq] = task
        return task

    async def _send(self, row: _Row, item: DeviceEvent | DeadLetter) -> None:
        try:
            if isinstance(item, DeadLetter):
                await self._uplink.publish_dead_letter(item)
            else:
                await self._uplink.publish_event(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Never dropped: the row stays, and the forwarder rewinds to it.
            self._failures += 1
            self._failing_since += 1
            # One warning per outage, not one per retry.
            level = logging.WARNING if self._failing_since == 1 else logging.DEBUG
            log.log(level, "edge outbox: forwarding failed, will retry: %s", exc)
            self._failed = True
        else:
            if self._failing_since:
                log.info("edge outbox: forwarding again after %d failures", self._failing_since)
                self._failing_since = 0
            self._forwarded += 1
            self._backoff = _BACKOFF_MIN_S
            if self.end_to_end:
                self._sent.append(row.seq)  # kept until the hub confirms it
            else:
                self._delivered.append(row.seq)
                self._delivered_alarms += row.lane == Lane.ALARM.value
            self._writer_wake.set()
        finally:
            self._in_flight.pop(row.seq, None)
            self._forward_wake.set()

    async def _recover(self, store: _Store) -> None:
        """After a failed send: let the rest settle, then start again from the oldest row."""
        tasks = list(self._in_flight.values())
        if tasks:
            await asyncio.wait(tasks)
        await self._flush()  # delete what did get through, so it is not sent again
        await self._db(store.rewind)
        delay, self._backoff = self._backoff, min(self._backoff * 2, _BACKOFF_MAX_S)
        await asyncio.sleep(delay)
        self._failed = False
