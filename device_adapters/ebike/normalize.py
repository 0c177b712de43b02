"""E-bike pile frames -> normalized DeviceEvents (PROTOCOLS.md 2b).

Values every port event carries: ``port`` (0 = the whole pile), and for status events
``status`` ("idle" / "charging" / "unknown") and ``availability`` ("available" /
"charging" / "unknown", the resident's view, as OCPI maps OCPP statuses).

Codes the tables do not list are never dropped: an unknown port state is "unknown", an
unknown stop reason is "unknown" (with ``reason_code``), and an unknown fault or board
warning becomes a ``charger.fault`` (an alarm) with the raw code, because a fire-safety
report we cannot read must still reach a person.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import IntEnum
from typing import Final, TypeVar
from uuid import UUID, uuid4

from device_adapters.ebike.codec import (
    PILE_ID_RE,
    PILE_SOP,
    PROTOCOL,
    WHOLE_PILE,
    BoardWarning,
    Command,
    EbikeDecodeError,
    EbikeFrame,
    FaultCode,
    PortState,
    Registration,
    StopReason,
)
from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily, Scalar

UNKNOWN: Final = "unknown"

_STATUS: Final[dict[int, tuple[str, str]]] = {
    PortState.IDLE: ("idle", "available"),
    PortState.CHARGING: ("charging", "charging"),
}

_WARNING_KINDS: Final[dict[int, str]] = {
    BoardWarning.OVER_TEMPERATURE: "charger.overtemperature",
    BoardWarning.CABINET_DOOR_OPEN: "charger.cabinet_open",
    BoardWarning.POWER_OUTAGE: "charger.power_outage",
    BoardWarning.SMOKE: "charger.smoke",
}

# ASSUMPTION: a pile answers 0x02 start charging with DATA port, result; 0x00 is "started".
START_OK: Final = 0x00

_E = TypeVar("_E", bound=IntEnum)


def code_name(enum: type[_E], code: int) -> str:
    """The snake_case name of ``code`` in ``enum``, or "unknown"."""
    try:
        return enum(code).name.lower()
    except ValueError:
        return UNKNOWN


def device_id_of(frame: EbikeFrame | Registration) -> str:
    return f"{PROTOCOL}:{frame.pile_id}"


class _Events:
    def __init__(
        self,
        frame: EbikeFrame | Registration,
        received_at: datetime,
        gateway_id: str,
        new_id: Callable[[], UUID],
    ) -> None:
        self.frame = frame
        self.received_at = received_at
        self.gateway_id = gateway_id
        self.new_id = new_id

    def make(self, kind: str, values: dict[str, Scalar]) -> DeviceEvent:
        info = KINDS[kind]
        return DeviceEvent(
            event_id=self.new_id(),
            device_id=device_id_of(self.frame),
            family=DeviceFamily.CHARGER,
            protocol=PROTOCOL,
            kind=kind,
            severity=info.severity,
            lane=info.lane,
            received_at=self.received_at,
            gateway_id=self.gateway_id,
            values=values,
            raw=self.frame.raw,
        )


def _fail(frame: EbikeFrame, reason: str) -> EbikeDecodeError:
    return EbikeDecodeError(f"cmd 0x{frame.cmd:02X}: {reason}", frame.raw)


def _need(frame: EbikeFrame, n: int, layout: str) -> bytes:
    """DATA, at least ``n`` bytes of it. Longer DATA is accepted and the rest ignored: a
    vendor's extra field must not cost us a fault or a finished session."""
    if len(frame.data) < n:
        raise _fail(frame, f"DATA has {len(frame.data)} bytes, {layout} needs {n}")
    return frame.data


def _port(byte: int) -> dict[str, Scalar]:
    return {"port": 0 if byte == WHOLE_PILE else byte, "whole_pile": byte == WHOLE_PILE}


def _all_port_status(frame: EbikeFrame, ev: _Events) -> list[DeviceEvent]:
    data = _need(frame, 1, "port count")
    count = data[0]
    if count == 0:
        raise _fail(frame, "port count is 0")
    # The count is the frame's only self-check here, so DATA must match it exactly.
    if len(data) != 1 + count:
        raise _fail(frame, f"port count {count} but {len(data) - 1} port bytes")
    events = []
    # ASSUMPTION: the n-th status byte is port n (ports numbered from 1).
    for port, code in enumerate(data[1:], start=1):
        status, availability = _STATUS.get(code, (UNKNOWN, UNKNOWN))
        values: dict[str, Scalar] = {
            "port": port,
            "status": status,
            "availability": availability,
            "status_code": code,
        }
        events.append(ev.make("charger.port_status", values))
    return events


def _port_status(frame: EbikeFrame, ev: _Events) -> list[DeviceEvent]:
    data = _need(frame, 5, "port, remaining minutes (2), power (2)")
    remaining = int.from_bytes(data[1:3], "big")
    power_tenths = int.from_bytes(data[3:5], "big")
    # The frame has no state byte: a port drawing power or with time left is charging.
    charging = power_tenths > 0 or remaining > 0
    values: dict[str, Scalar] = {
        "port": data[0],
        "status": "charging" if charging else "idle",
        "availability": "charging" if charging else "available",
        "remaining_min": remaining,
        "power_w": power_tenths / 10,
    }
    return [ev.make("charger.port_status", values)]


def _charge_finished(frame: EbikeFrame, ev: _Events) -> list[DeviceEvent]:
    data = _need(frame, 2, "port, reason")
    port, code = data[0], data[1]
    common: dict[str, Scalar] = {
        "port": port,
        "reason": code_name(StopReason, code),
        "reason_code": code,
        "session": frame.session.hex(),
    }
    events = [ev.make("charger.session_stopped", dict(common))]
    if code == StopReason.PORT_FAULT:
        events.append(ev.make("charger.fault", {**common, "fault": "port_fault"}))
    elif code == StopReason.OVER_PORT_POWER_LIMIT:
        events.append(ev.make("charger.overpower", {**common, "limit": "port"}))
    return events


def _fault_report(frame: EbikeFrame, ev: _Events) -> list[DeviceEvent]:
    data = _need(frame, 2, "port, fault code")
    code = data[1]
    values: dict[str, Scalar] = {
        **_port(data[0]),
        "fault": code_name(FaultCode, code),
        "fault_code": code,
    }
    if code == FaultCode.TOTAL_POWER_TOO_HIGH:
        return [ev.make("charger.overpower", {**values, "limit": "pile"})]
    return [ev.make("charger.fault", values)]


def _board_warning(frame: EbikeFrame, ev: _Events) -> list[DeviceEvent]:
    code = _need(frame, 1, "warning code")[0]
    values: dict[str, Scalar] = {
        "port": 0,
        "whole_pile": True,
        "warning": code_name(BoardWarning, code),
        "warning_code": code,
    }
    kind = _WARNING_KINDS.get(code, "charger.fault")
    return [ev.make(kind, values)]


def _start_answer(frame: EbikeFrame, ev: _Events) -> list[DeviceEvent]:
    data = _need(frame, 1, "port")
    if len(data) >= 2 and data[1] != START_OK:
        # Refused: no session started. The vocabulary has no "start refused"; the command's
        # sender matches the answer by SESSION, and the port's status is unchanged.
        return []
    return [ev.make("charger.session_started", {"port": data[0], "session": frame.session.hex()})]


def _stop_answer(frame: EbikeFrame, ev: _Events) -> list[DeviceEvent]:
    # The stop itself is reported by the charge finished (0x05) that follows.
    _need(frame, 1, "port")
    return []


_Handler = Callable[[EbikeFrame, _Events], list[DeviceEvent]]

_HANDLERS: Final[dict[int, _Handler]] = {
    Command.ALL_PORT_STATUS: _all_port_status,
    Command.START_CHARGING: _start_answer,
    Command.CHARGE_FINISHED: _charge_finished,
    Command.PORT_STATUS: _port_status,
    Command.REMOTE_STOP: _stop_answer,
    Command.FAULT_REPORT: _fault_report,
    Command.BOARD_WARNING: _board_warning,
}


def to_events(
    frame: EbikeFrame | Registration,
    *,
    received_at: datetime,
    gateway_id: str,
    new_id: Callable[[], UUID] = uuid4,
) -> list[DeviceEvent]:
    """Normalize one registration or frame from a pile.

    A registration gives one ``device.login``. Raises :class:`EbikeDecodeError` (only) for
    content it cannot use: an unknown command, DATA too short for its layout, a frame in
    the gateway→pile direction, or no valid pile id (no registration on the connection).
    """
    if not PILE_ID_RE.fullmatch(frame.pile_id):
        raise EbikeDecodeError(
            f"no valid pile id ({frame.pile_id[:40]!r}); no DTU registration packet?", frame.raw
        )
    ev = _Events(frame, received_at, gateway_id, new_id)
    if isinstance(frame, Registration):
        return [ev.make("device.login", {"pile_id": frame.pile_id})]
    if frame.sop != PILE_SOP:
        raise _fail(frame, f"SOP 0x{frame.sop:02X} is not a pile's report")
    handler = _HANDLERS.get(frame.cmd)
    if handler is None:
        raise _fail(frame, "unknown command")
    return handler(frame, ev)
