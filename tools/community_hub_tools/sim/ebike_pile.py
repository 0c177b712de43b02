"""A simulated residential e-bike charging pile (PROTOCOLS.md 2b) that produces real wire bytes.

Sans-I/O like the codec: it builds the bytes a pile (behind its DTU) sends, and takes the
bytes a gateway sends back through :meth:`SimulatedEbikePile.receive`. Whoever owns the
socket writes one and feeds the other. The pile keeps a plausible state: some ports
charging with a power draw and minutes left, the rest idle; it answers start, stop and
port queries, and keeps every report that must be acknowledged (charge finished, fault,
board warning) until the gateway's acknowledgement arrives, so a runner can resend them
as a real pile does.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from typing import Final

from device_adapters.ebike import (
    ACKNOWLEDGED_COMMANDS,
    GATEWAY_SOP,
    PILE_ID_RE,
    PILE_SOP,
    WHOLE_PILE,
    BoardWarning,
    Command,
    EbikeFrame,
    EbikeStream,
    FaultCode,
    PortState,
    Registration,
    Rejected,
    StopReason,
    encode_frame,
    session_bytes,
)

# ASSUMPTION (see device_adapters.ebike): the pile answers start/stop with port, result.
RESULT_OK: Final = 0x00
RESULT_REFUSED: Final = 0x01

_MAX_PORTS: Final = 254  # 0xFF means the whole pile
_CHARGING_SHARE: Final = 0.4
_POWER_TENTHS_W: Final = (800, 3000)  # 80 W .. 300 W, typical e-bike chargers
_MINUTES: Final = (10, 480)


@dataclass
class PortSim:
    """One port's state."""

    number: int
    charging: bool = False
    remaining_min: int = 0
    power_tenths_w: int = 0
    session: bytes = field(default=bytes(6))

    @property
    def state(self) -> PortState:
        return PortState.CHARGING if self.charging else PortState.IDLE


class SimulatedEbikePile:
    """The bytes one pile sends, and its reaction to what the gateway sends."""

    def __init__(self, pile_id: str, ports: int = 10, *, rng: random.Random | None = None) -> None:
        if not PILE_ID_RE.fullmatch(pile_id):
            raise ValueError(f"pile id must match {PILE_ID_RE.pattern}: {pile_id!r}")
        if not 1 <= ports <= _MAX_PORTS:
            raise ValueError(f"ports must be 1..{_MAX_PORTS}, not {ports}")
        self.pile_id = pile_id
        self._rng = rng or random.Random()
        self._next_session = 1
        self.ports = [PortSim(n) for n in range(1, ports + 1)]
        for port in self.ports:
            if self._rng.random() < _CHARGING_SHARE:
                self._start(port, self._rng.randint(*_MINUTES), self._new_session())
        if not any(p.charging for p in self.ports):
            self._start(self.ports[0], self._rng.randint(*_MINUTES), self._new_session())
        self._gateway = EbikeStream(sop=GATEWAY_SOP, pile_id=pile_id)
        # Reports awaiting acknowledgement: (cmd, session) -> (expected ack DATA, frame).
        self._pending: dict[tuple[int, bytes], tuple[bytes, bytes]] = {}
        self.acks_received = 0
        self.commands_received: list[EbikeFrame] = []
        # Gateway frames that were not a valid ack or command, and bytes the stream rejected.
        self.unexpected: list[EbikeFrame] = []
        self.rejected: list[Rejected] = []

    # -- what the pile sends -------------------------------------------------------------

    def registration(self, *, crlf: bool = True) -> bytes:
        """The DTU's registration packet: the pile id, with CRLF unless told otherwise."""
        return self.pile_id.encode("ascii") + (b"\r\n" if crlf else b"")

    def all_port_status(self) -> bytes:
        """0x01: port count, then 0x01 idle / 0x02 charging a port."""
        data = bytes([len(self.ports), *(p.state for p in self.ports)])
        return self._frame(Command.ALL_PORT_STATUS, self._new_session(), data)

    def port_status(self, port: int, *, session: bytes | None = None) -> bytes:
        """0x06: port, remaining minutes (2 bytes), power in 0.1 W (2 bytes)."""
        p = self.port(port)
        data = (
            bytes([p.number])
            + p.remaining_min.to_bytes(2, "big")
            + p.power_tenths_w.to_bytes(2, "big")
        )
        return self._frame(Command.PORT_STATUS, session or self._new_session(), data)

    def charge_finished(self, port: int, reason: int) -> bytes:
        """0x05 for the port's session; the port becomes idle. Awaits an acknowledgement."""
        if not 0 <= reason <= 0xFF:
            raise ValueError(f"reason must be one byte, not {reason}")
        p = self.port(port)
        session = p.session if p.charging else self._new_session()
        self._stop(p)
        return self._report(Command.CHARGE_FINISHED, session, bytes([p.number, reason]))

    def fault(self, port: int, code: int) -> bytes:
        """0x0d fault report; ``port`` may be 0xFF (the whole pile). Awaits an ack."""
        if port != WHOLE_PILE:
            self.port(port)
        if not 0 <= code <= 0xFF:
            raise ValueError(f"fault code must be one byte, not {code}")
        if code == FaultCode.PORT_OUTPUT_FAULT and port != WHOLE_PILE:
            self._stop(self.port(port))
        return self._report(Command.FAULT_REPORT, self._new_session(), bytes([port, code]))

    def board_warning(self, code: int) -> bytes:
        """0x0e board warning report (command byte assumed). Awaits an ack."""
        if not 0 <= code <= 0xFF:
            raise ValueError(f"warning code must be one byte, not {code}")
        if code == BoardWarning.POWER_OUTAGE:
            for p in self.ports:
                self._stop(p)
        return self._report(Command.BOARD_WARNING, self._new_session(), bytes([code]))

    def advance(self, minutes: int = 1) -> list[bytes]:
        """Let time pass: charging ports count down; those that run out send 0x05."""
        out = []
        for p in self.ports:
            if p.charging:
                p.remaining_min = max(0, p.remaining_min - minutes)
                if p.remaining_min == 0:
                    out.append(
                        self.charge_finished(p.number, StopReason.PAID_TIME_OR_ENERGY_USED_UP)
                    )
        return out

    def unacknowledged(self) -> list[bytes]:
        """Reports sent and not yet acknowledged, oldest first (a pile resends these)."""
        return [frame for _, frame in self._pending.values()]

    # -- what the gateway sends ----------------------------------------------------------

    def receive(self, data: bytes) -> list[bytes]:
        """Feed bytes from the gateway (split or batched as TCP delivers them); return the
        frames the pile sends in answer."""
        out: list[bytes] = []
        for item in self._gateway.feed(data):
            if isinstance(item, Rejected):
                self.rejected.append(item)
            elif isinstance(item, Registration):  # cannot happen: the stream knows our id
                continue
            else:
                out += self._handle(item)
        return out

    def _handle(self, frame: EbikeFrame) -> list[bytes]:
        if frame.cmd in ACKNOWLEDGED_COMMANDS:
            pending = self._pending.get((frame.cmd, frame.session))
            if pending is None or pending[0] != frame.data:
                self.unexpected.append(frame)
            else:
                del self._pending[(frame.cmd, frame.session)]
                self.acks_received += 1
            return []
        self.commands_received.append(frame)
        port = self._port_or_none(frame.data[:1])
        if frame.cmd == Command.START_CHARGING:
            if port is None or port.charging or len(frame.data) < 3:
                return [self._answer(frame, RESULT_REFUSED)]
            self._start(port, int.from_bytes(frame.data[1:3], "big"), frame.session)
            return [self._answer(frame, RESULT_OK)]
        if frame.cmd == Command.REMOTE_STOP:
            if port is None or not port.charging:
                return [self._answer(frame, RESULT_REFUSED)]
            port.session = frame.session
            answer = self._answer(frame, RESULT_OK)
            return [answer, self.charge_finished(port.number, StopReason.STOPPED_BY_USER)]
        if frame.cmd == Command.PORT_STATUS and port is not None:
            return [self.port_status(port.number, session=frame.session)]
        self.unexpected.append(frame)
        return []

    # -- helpers -------------------------------------------------------------------------

    def port(self, number: int) -> PortSim:
        if not 1 <= number <= len(self.ports):
            raise ValueError(f"port must be 1..{len(self.ports)}, not {number}")
        return self.ports[number - 1]

    def _port_or_none(self, data: bytes) -> PortSim | None:
        if not data or not 1 <= data[0] <= len(self.ports):
            return None
        return self.ports[data[0] - 1]

    def _start(self, port: PortSim, minutes: int, session: bytes) -> None:
        port.charging = True
        port.remaining_min = max(1, minutes)
        port.power_tenths_w = self._rng.randint(*_POWER_TENTHS_W)
        port.session = session

    @staticmethod
    def _stop(port: PortSim) -> None:
        port.charging = False
        port.remaining_min = 0
        port.power_tenths_w = 0

    def _new_session(self) -> bytes:
        number = self._next_session
        self._next_session = number % ((1 << 48) - 1) + 1  # never the all-zero session
        return session_bytes(number)

    def _answer(self, command: EbikeFrame, result: int) -> bytes:
        return self._frame(command.cmd, command.session, command.data[:1] + bytes([result]))

    def _report(self, cmd: int, session: bytes, data: bytes) -> bytes:
        raw = self._frame(cmd, session, data)
        self._pending[(cmd, session)] = (data[:1], raw)
        return raw

    @staticmethod
    def _frame(cmd: int, session: bytes, data: bytes) -> bytes:
        return encode_frame(cmd, session, data, sop=PILE_SOP)


@dataclass
class EbikeSimReport:
    frames_sent: int = 0
    acks_received: int = 0
    connections: int = 0
    warnings_sent: int = 0


async def run_ebike_pile(
    host: str,
    port: int,
    pile_id: str,
    *,
    stop: asyncio.Event,
    step_s: float = 5.0,
    ports: int = 10,
    warning_probability: float = 0.02,
    rng_seed: int | None = None,
) -> EbikeSimReport:
    """One pile behind a DTU: registers, reports its ports, lets charging run down
    (sending 0x05 when a port finishes), now and then reports a fault or a board
    warning, resends what was not acknowledged, and reconnects when dropped."""
    rng = random.Random(rng_seed)
    pile = SimulatedEbikePile(pile_id, ports, rng=random.Random(rng.random()))
    report = EbikeSimReport()
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await _sleep_or_stop(stop, 1.0)
            continue
        report.connections += 1
        try:
            outgoing = [pile.registration(), pile.all_port_status(), *pile.unacknowledged()]
            while not stop.is_set():
                for frame in outgoing:
                    writer.write(frame)
                    report.frames_sent += 1
                await writer.drain()
                outgoing = await _exchange(reader, pile, report, stop, step_s)
                outgoing += pile.advance(rng.randint(1, 10))
                outgoing.append(pile.port_status(rng.randint(1, ports)))
                roll = rng.random()
                if roll < warning_probability:
                    outgoing.append(pile.fault(rng.randint(1, ports), FaultCode.PORT_OUTPUT_FAULT))
                elif roll < 2 * warning_probability:
                    outgoing.append(pile.board_warning(BoardWarning.OVER_TEMPERATURE))
                    report.warnings_sent += 1
        except (ConnectionError, OSError):
            await _sleep_or_stop(stop, 1.0)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    return report


async def _exchange(
    reader: asyncio.StreamReader,
    pile: SimulatedEbikePile,
    report: EbikeSimReport,
    stop: asyncio.Event,
    step_s: float,
) -> list[bytes]:
    """Read the gateway's acks and commands for one step; return the pile's answers."""
    answers: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + step_s
    while not stop.is_set() and (remaining := deadline - loop.time()) > 0:
        try:
            async with asyncio.timeout(remaining):
                data = await reader.read(1024)
        except TimeoutError:
            break
        if not data:
            raise ConnectionResetError("gateway closed the connection")
        before = pile.acks_received
        answers += pile.receive(data)
        report.acks_received += pile.acks_received - before
    return answers


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
