"""Simulated "Watch" protocol wristbands that talk to the edge over TCP as real ones do.

One TCP connection per watch; heartbeats (LK), positions (UD), health readings
(PULSE, bphrt) on jittered cadences, and now and then an SOS or a fall (AL)
from a random watch. Replies are read and checked: an LK or AL frame must be
answered with the same word, in order. A watch whose connection drops
reconnects and, like a real one, resends the alarms nobody answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tqdm import tqdm

from device_adapters.watch import Rejected, WatchFrame, WatchStream, encode_frame

log = logging.getLogger(__name__)

AlarmKind = Literal["sos", "fall"]

# Status bits of UD/AL frames (PROTOCOLS.md 1a).
STATUS_LOW_BATTERY = 0x00000001
STATUS_SOS = 0x00010000
STATUS_FALL = 0x00200000
ALARM_STATUS: dict[AlarmKind, int] = {"sos": STATUS_SOS, "fall": STATUS_FALL}

# Commands from the platform that a watch answers with the same keyword.
_COMMANDS = frozenset({"CR", "CALL", "MONITOR", "MESSAGE"})

# Frames a watch expects an answer to, and the answer's content type.
_EXPECTED_REPLY = {"LK": "LK", "AL": "AL"}

SHANGHAI = (31.23, 121.47)
_LOW_BATTERY_PCT = 15
_READ_SIZE = 4096


class SimulatedWatch:
    """Builds the frames one watch sends; keeps its steps, battery and position."""

    def __init__(
        self,
        device_id: str,
        manufacturer: str = "3G",
        *,
        home: tuple[float, float] = SHANGHAI,
        rng: random.Random | None = None,
    ) -> None:
        self.device_id = device_id
        self.manufacturer = manufacturer
        self.home = home
        self._rng = rng or random.Random()
        self.steps = self._rng.randint(0, 3000)
        self.tumbles = 0
        self.battery = self._rng.randint(40, 100)
        # Start somewhere in the neighbourhood (~300 m), then wander.
        self.lat = home[0] + self._rng.uniform(-0.003, 0.003)
        self.lon = home[1] + self._rng.uniform(-0.003, 0.003)
        self._seq = 0
        # Frames from the platform (replies and commands), and the messages shown.
        self.received: list[WatchFrame] = []
        self.messages_shown: list[str] = []
        self.calls: list[tuple[str, str]] = []  # (CALL or MONITOR, number)
        self._inbound = WatchStream()
        # Fail now, not mid-run, on an id or manufacturer no watch could send.
        encode_frame(manufacturer, device_id, "LK")

    @property
    def native_id(self) -> str:
        return self.device_id

    def heartbeat(self) -> bytes:
        """``LK,steps,tumbles,battery``."""
        self._tick()
        return self._frame(f"LK,{self.steps},{self.tumbles},{self.battery}")

    def position(self, now: datetime | None = None) -> bytes:
        """A ``UD`` fix near home."""
        self._tick()
        self._wander()
        return self._frame("UD," + self._location_fields(now, status=self._status(), fix=True))

    def alarm(self, kind: AlarmKind, now: datetime | None = None) -> bytes:
        """An ``AL`` frame with the SOS or fall status bit; indoors it often has no fix."""
        if kind == "fall":
            self.tumbles += 1
        fix = self._rng.random() < 0.7
        status = self._status() | ALARM_STATUS[kind]
        return self._frame("AL," + self._location_fields(now, status=status, fix=fix))

    def pulse(self) -> bytes:
        return self._frame(f"PULSE,{self._rng.randint(58, 95)}")

    def blood_pressure(self) -> bytes:
        """``bphrt,systolic,diastolic,heart rate`` plus the empty fields real watches send."""
        sys_ = self._rng.randint(105, 150)
        dia = self._rng.randint(65, 95)
        hr = self._rng.randint(58, 95)
        return self._frame(f"bphrt,{sys_},{dia},{hr},,,,")

    def receive(self, data: bytes) -> list[bytes]:
        """Bytes from the platform; returns what the watch sends back.

        A command (CR, CALL, MONITOR, MESSAGE) is answered with a frame of the same
        keyword, as PROTOCOLS.md 1a says; CR is then followed by a fresh ``UD`` fix.
        """
        out: list[bytes] = []
        for item in self._inbound.feed(data):
            if not isinstance(item, WatchFrame):
                continue
            self.received.append(item)
            keyword = item.content_type
            if keyword not in _COMMANDS:
                continue
            if keyword == "MESSAGE":
                self.messages_shown.append(bytes.fromhex(item.fields[0]).decode("utf-16-be"))
            elif keyword in ("CALL", "MONITOR"):
                self.calls.append((keyword, item.fields[0]))
            out.append(self._frame(keyword))
            if keyword == "CR":
                out.append(self.position())
        return out

    # -- internals ----------------------------------------------------------------------

    def _frame(self, content: str) -> bytes:
        index: str | None = None
        if self.manufacturer == "ZJ":
            # ZJ watches number their frames with a 4-hex INDEX.
            self._seq = (self._seq + 1) & 0xFFFF
            index = f"{self._seq:04X}"
        return encode_frame(self.manufacturer, self.device_id, content, index)

    def _tick(self) -> None:
        self.steps += self._rng.randint(0, 60)
        if self._rng.random() < 0.05:
            self.battery -= 1
        if self.battery < 5:
            self.battery = 100  # put on the charger overnight

    def _wander(self) -> None:
        lat0, lon0 = self.home
        # A random walk pulled back towards home, so nobody drifts out of the city.
        self.lat += self._rng.gauss(0, 0.0003) + (lat0 - self.lat) * 0.05
        self.lon += self._rng.gauss(0, 0.0003) + (lon0 - self.lon) * 0.05

    def _status(self) -> int:
        return STATUS_LOW_BATTERY if self.battery <= _LOW_BATTERY_PCT else 0

    def _location_fields(self, now: datetime | None, *, status: int, fix: bool) -> str:
        t = (now or datetime.now(UTC)).astimezone(UTC)
        r = self._rng
        if fix:
            lat, lon = abs(self.lat), abs(self.lon)
            ns = "N" if self.lat >= 0 else "S"
            ew = "E" if self.lon >= 0 else "W"
            loc = [
                "A",
                f"{lat:.6f}",
                ns,
                f"{lon:.7f}",
                ew,
                f"{r.uniform(0, 4):.2f}",  # walking speed, km/h
                f"{r.uniform(0, 359):.1f}",
                f"{r.uniform(3, 30):.1f}",  # altitude, m
                str(r.randint(5, 12)),  # satellites
            ]
        else:
            loc = ["V", "00.000000", "N", "000.0000000", "E", "0.00", "0.0", "0.0", "0"]
        cells = r.randint(1, 4)
        cell_fields = ["460", "0"]  # MCC China, MNC China Mobile
        lac = 6243 + r.randint(0, 2)
        for _ in range(cells):
            cell_fields += [str(lac), str(r.randint(1000, 60000)), str(r.randint(110, 160))]
        return ",".join(
            [
                t.strftime("%d%m%y"),
                t.strftime("%H%M%S"),
                *loc,
                str(r.randint(40, 100)),  # GSM signal
                str(self.battery),
                str(self.steps),
                str(self.tumbles),
                f"{status:08X}",
                str(cells),
                "0",  # timing advance
                *cell_fields,
                "0",  # no Wi-Fi access points
                f"{r.uniform(5, 60):.1f}" if fix else "0.0",  # accuracy, m
            ]
        )


@dataclass
class SimulatorReport:
    frames_sent: Counter[str] = field(default_factory=Counter)
    replies_received: int = 0
    replies_by_type: Counter[str] = field(default_factory=Counter)
    unexpected_replies: int = 0
    unanswered: int = 0
    alarms_sent: list[tuple[str, str]] = field(default_factory=list)
    alarms_resent: int = 0
    reconnects: int = 0
    connect_failures: int = 0

    @property
    def total_frames(self) -> int:
        return sum(self.frames_sent.values())

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.frames_sent.items()))
        return (
            f"sent {self.total_frames} frames ({kinds}); {self.replies_received} replies, "
            f"{self.unanswered} unanswered, {self.unexpected_replies} unexpected; "
            f"{len(self.alarms_sent)} alarms ({self.alarms_resent} resent); "
            f"{self.reconnects} reconnects, {self.connect_failures} failed connects"
        )


# Messages to a watch's send loop.
@dataclass(frozen=True)
class _Alarm:
    kind: AlarmKind


@dataclass(frozen=True)
class _Lost:
    """The reader of connection number ``conn`` saw it close."""

    conn: int


class _Stop:
    """The run is over."""


_Msg = _Alarm | _Lost | _Stop


@dataclass(eq=False)
class _Pending:
    content_type: str
    frame: bytes
    reply_type: str | None
    alarm_kind: AlarmKind | None = None
    sent: int = 0


def _jitter(rng: random.Random, every: float) -> float:
    return every * rng.uniform(0.8, 1.2)


class _WatchRunner:
    """One watch's connection: sends on cadences, reads replies, reconnects."""

    def __init__(
        self,
        watch: SimulatedWatch,
        host: str,
        port: int,
        report: SimulatorReport,
        rng: random.Random,
        *,
        heartbeat_every_s: float,
        position_every_s: float,
        health_every_s: float,
        on_sent: Callable[[str, str], None] | None,
    ) -> None:
        self.watch = watch
        self.host, self.port = host, port
        self.report = report
        self.rng = rng
        self.heartbeat_every_s = heartbeat_every_s
        self.position_every_s = position_every_s
        self.health_every_s = health_every_s
        self.on_sent = on_sent
        self.inbox: asyncio.Queue[_Msg] = asyncio.Queue()
        self.awaiting: deque[_Pending] = deque()
        self.answered = asyncio.Event()  # set whenever nothing awaits a reply
        self.answered.set()
        self.resend: list[_Pending] = []
        self.stopping = False
        self.conn_no = 0  # tells a stale _Lost from an earlier connection apart

    async def run(self, drain_timeout_s: float) -> None:
        connected_before = False
        backoff = 0.2
        while not self.stopping:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError as exc:
                self.report.connect_failures += 1
                log.debug("watch %s: connect failed: %s", self.watch.device_id, exc)
                if await self._stopped_within(backoff):
                    return
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            if connected_before:
                self.report.reconnects += 1
            connected_before = True
            self.conn_no += 1
            reader_task = asyncio.create_task(self._read(reader, self.conn_no))
            try:
                finished = await self._send_loop(writer)
                if finished:
                    # Give the edge time to answer what is still outstanding.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(drain_timeout_s):
                            await self.answered.wait()
            finally:
                reader_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader_task
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
                self._connection_lost(final=finished)
            if finished:
                return

    async def _stopped_within(self, delay: float) -> bool:
        """Sleep ``delay`` unless a stop arrives; alarms stay queued for after connecting."""
        try:
            async with asyncio.timeout(delay):
                while True:
                    msg = await self.inbox.get()
                    if isinstance(msg, _Stop):
                        return True
                    if isinstance(msg, _Alarm):
                        self.resend.append(self._alarm_pending(msg.kind))
        except TimeoutError:
            return False

    def _alarm_pending(self, kind: AlarmKind) -> _Pending:
        return _Pending("AL", self.watch.alarm(kind), "AL", alarm_kind=kind)

    def _connection_lost(self, *, final: bool) -> None:
        # Real watches resend an unanswered alarm; heartbeats are just missed.
        for pending in self.awaiting:
            if pending.content_type == "AL" and not final:
                self.resend.append(pending)
            else:
                self.report.unanswered += 1
        self.awaiting.clear()
        self.answered.set()

    async def _send_loop(self, writer: asyncio.StreamWriter) -> bool:
        """Send until the run stops (True) or the connection is lost (False)."""
        loop = asyncio.get_running_loop()
        try:
            resend, self.resend = self.resend, []
            for pending in resend:
                if pending.sent:
                    self.report.alarms_resent += 1
                await self._send(writer, pending)
            now = loop.time()
            # Staggered first sends, as watches switched on at different times.
            next_hb = now + self.rng.uniform(0, min(self.heartbeat_every_s, 1.0))
            next_pos = now + self.rng.uniform(0, self.position_every_s)
            next_health = now + self.rng.uniform(0, self.health_every_s)
            health_turn = 0
            while True:
                due = min(next_hb, next_pos, next_health)
                msg: _Msg | None
                try:
                    async with asyncio.timeout(max(0.0, due - loop.time())):
                        msg = await self.inbox.get()
                except TimeoutError:
                    msg = None
                if isinstance(msg, _Stop):
                    return True
                if isinstance(msg, _Lost):
                    if msg.conn == self.conn_no:
                        return False
                    continue
                if isinstance(msg, _Alarm):
                    await self._send(writer, self._alarm_pending(msg.kind))
                    continue
                now = loop.time()
                if now >= next_hb:
                    await self._send(writer, _Pending("LK", self.watch.heartbeat(), "LK"))
                    next_hb = now + _jitter(self.rng, self.heartbeat_every_s)
                if now >= next_pos:
                    await self._send(writer, _Pending("UD", self.watch.position(), None))
                    next_pos = now + _jitter(self.rng, self.position_every_s)
                if now >= next_health:
                    if health_turn % 2 == 0:
                        await self._send(writer, _Pending("PULSE", self.watch.pulse(), None))
                    else:
                        await self._send(
                            writer, _Pending("bphrt", self.watch.blood_pressure(), None)
                        )
                    health_turn += 1
                    next_health = now + _jitter(self.rng, self.health_every_s)
        except (ConnectionError, OSError) as exc:
            log.debug("watch %s: send failed: %s", self.watch.device_id, exc)
            return False

    async def _send(self, writer: asyncio.StreamWriter, pending: _Pending) -> None:
        if pending.reply_type is not None:
            # Registered before writing: the reply can arrive before drain() returns.
            self.awaiting.append(pending)
            self.answered.clear()
        pending.sent += 1
        writer.write(pending.frame)
        await writer.drain()
        self.report.frames_sent[pending.content_type] += 1
        if pending.alarm_kind is not None and pending.sent == 1:
            self.report.alarms_sent.append((self.watch.device_id, pending.alarm_kind))
        if self.on_sent is not None:
            self.on_sent(self.watch.device_id, pending.content_type)

    async def _read(self, reader: asyncio.StreamReader, conn_no: int) -> None:
        stream = WatchStream()
        try:
            while True:
                data = await reader.read(_READ_SIZE)
                if not data:
                    break
                for item in stream.feed(data):
                    self._on_reply(item)
        except (ConnectionError, OSError):
            pass
        if not self.stopping:
            log.info("watch %s: edge closed the connection", self.watch.device_id)
        self.answered.set()  # nothing more will be answered on this connection
        self.inbox.put_nowait(_Lost(conn_no))

    def _on_reply(self, item: WatchFrame | Rejected) -> None:
        if isinstance(item, Rejected) or item.device_id != self.watch.device_id:
            self.report.unexpected_replies += 1
            return
        # Replies come in the order of the frames that expect them; a frame the
        # edge did not answer (uplink timeout) is skipped over.
        while self.awaiting:
            pending = self.awaiting.popleft()
            if pending.reply_type == item.content_type:
                self.report.replies_received += 1
                self.report.replies_by_type[item.content_type] += 1
                break
            self.report.unanswered += 1
        else:
            self.report.unexpected_replies += 1
        if not self.awaiting:
            self.answered.set()


async def run_simulator(
    host: str,
    port: int,
    device_ids: Sequence[str],
    *,
    duration_s: float | None,
    alarm_every_s: float | None,
    heartbeat_every_s: float,
    position_every_s: float,
    on_sent: Callable[[str, str], None] | None = None,
    progress: bool = False,
    rng_seed: int | None = None,
    health_every_s: float | None = None,
    manufacturer: str = "3G",
    drain_timeout_s: float = 2.0,
    stop: asyncio.Event | None = None,
) -> SimulatorReport:
    """Run one simulated watch per id against the edge at ``host:port``.

    Runs for ``duration_s`` seconds, or until ``stop`` is set, or (both None)
    until cancelled. ``alarm_every_s`` is the mean time between alarms over
    all watches (None or 0: none). ``health_every_s`` defaults to twice the
    position cadence. After the end, waits up to ``drain_timeout_s`` for the
    replies still outstanding.
    """
    if not device_ids:
        raise ValueError("at least one device id is needed")
    rng = random.Random(rng_seed)
    report = SimulatorReport()
    health = health_every_s if health_every_s is not None else 2 * position_every_s
    if min(heartbeat_every_s, position_every_s, health) <= 0:
        raise ValueError("cadences must be positive")
    runners = [
        _WatchRunner(
            SimulatedWatch(d, manufacturer, rng=random.Random(rng.random())),
            host,
            port,
            report,
            random.Random(rng.random()),
            heartbeat_every_s=heartbeat_every_s,
            position_every_s=position_every_s,
            health_every_s=health,
            on_sent=on_sent,
        )
        for d in device_ids
    ]
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = [asyncio.create_task(r.run(drain_timeout_s)) for r in runners]
    helpers: list[asyncio.Task[None]] = []
    if alarm_every_s:
        helpers.append(
            asyncio.create_task(_alarms(runners, alarm_every_s, random.Random(rng.random())))
        )
    bar: tqdm[Any] | None = None
    if progress and duration_s is not None:
        bar = tqdm(
            total=round(duration_s, 1),
            desc="simulating",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s{postfix}",
        )
        helpers.append(asyncio.create_task(_show_progress(bar, report, duration_s)))
    try:
        waiters: list[asyncio.Future[object]] = []
        if duration_s is not None:
            waiters.append(asyncio.ensure_future(asyncio.sleep(duration_s)))
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
        if waiters:
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
        else:
            await asyncio.Event().wait()  # until cancelled
    finally:
        ended = loop.time()
        for h in helpers:
            h.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        for r in runners:
            r.stopping = True
            r.inbox.put_nowait(_Stop())
        try:
            # Shielded: on cancellation the watches still close their connections.
            await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
        finally:
            if bar is not None:
                # The last tick may be 0.25 s old: show where the run really ended,
                # with the replies that arrived while draining.
                bar.n = round(min(ended - started, duration_s or 0.0), 1)
                bar.set_postfix(frames=report.total_frames, replies=report.replies_received)
                bar.close()
    return report


async def _alarms(runners: list[_WatchRunner], every_s: float, rng: random.Random) -> None:
    # Exponential gaps: alarms arrive as a Poisson process, bursts included.
    while True:
        await asyncio.sleep(rng.expovariate(1.0 / every_s))
        kind: AlarmKind = rng.choice(("sos", "fall"))
        rng.choice(runners).inbox.put_nowait(_Alarm(kind))


async def _show_progress(bar: tqdm[Any], report: SimulatorReport, duration_s: float) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        await asyncio.sleep(0.25)
        elapsed = min(loop.time() - start, duration_s)
        bar.n = round(elapsed, 1)
        bar.set_postfix(frames=report.total_frames, replies=report.replies_received, refresh=False)
        bar.refresh()


async def send_once(
    host: str,
    port: int,
    frame: bytes,
    *,
    expect_reply: bool,
    timeout: float = 5,  # noqa: ASYNC109 - one budget for connecting and for the reply
) -> bytes | None:
    """Open a connection, send ``frame``, and return the raw reply frame if one is expected.

    Raises TimeoutError when no reply arrives within ``timeout``.
    """
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(frame)
        await writer.drain()
        if not expect_reply:
            return None
        stream = WatchStream()
        async with asyncio.timeout(timeout):
            while True:
                data = await reader.read(_READ_SIZE)
                if not data:
                    raise ConnectionError("edge closed the connection before replying")
                for item in stream.feed(data):
                    if isinstance(item, WatchFrame):
                        return item.raw
                    raise ValueError(f"edge sent a bad frame: {item.reason}")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
