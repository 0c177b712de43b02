"""A simulated OCPP 1.6J charge point: a real ``ocpp.v16.ChargePoint`` client over WebSocket.

It boots, sends Heartbeats, and runs each connector through charging sessions:
Available -> Preparing -> (StartTransaction) Charging with MeterValues ->
Finishing (StopTransaction) -> Available; now and then a connector reports
Faulted with an error code and recovers. It answers RemoteStart/Stop,
ReserveNow, CancelReservation and UnlockConnector like a cooperative charger.
If the central system goes away it reconnects (with backoff) and boots again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar, cast

from ocpp.exceptions import OCPPError  # type: ignore[import-untyped]
from ocpp.routing import on  # type: ignore[import-untyped]
from ocpp.v16 import ChargePoint, call, call_result  # type: ignore[import-untyped]
from ocpp.v16.enums import (  # type: ignore[import-untyped]
    Action,
    CancelReservationStatus,
    RegistrationStatus,
    RemoteStartStopStatus,
    ReservationStatus,
    UnlockStatus,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

log = logging.getLogger(__name__)

SUBPROTOCOL: Final = Subprotocol("ocpp1.6")
FAULT_CODES: Final = (
    "HighTemperature",
    "GroundFailure",
    "OverCurrentFailure",
    "PowerMeterFailure",
    "ConnectorLockFailure",
)
_STOP_REASONS: Final = ("Local", "EVDisconnected", "Remote")
_MAX_BACKOFF_S: Final = 5.0


@dataclass
class ChargerSimReport:
    """What one simulated charge point did."""

    cp_id: str
    sent: Counter[str] = field(default_factory=Counter)  # calls sent, by action
    answered: Counter[str] = field(default_factory=Counter)  # calls the server answered
    call_errors: Counter[str] = field(default_factory=Counter)  # CallError or no answer
    connections: int = 0
    disconnects: int = 0
    transactions: int = 0
    faults: int = 0
    commands_received: Counter[str] = field(default_factory=Counter)


_H = TypeVar("_H", bound=Callable[..., Any])


def _on(action: str) -> Callable[[_H], _H]:
    return cast(Callable[[_H], _H], on(action))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Connector:
    def __init__(self, number: int, rng: random.Random) -> None:
        self.number = number
        self.meter_wh = rng.randint(0, 500_000)
        self.transaction_id: int | None = None
        self.start_requested: str | None = None  # id tag of a RemoteStartTransaction
        self.stop_requested = False


class _SimChargePoint(ChargePoint):  # type: ignore[misc]
    def __init__(
        self,
        cp_id: str,
        connection: ClientConnection,
        connectors: dict[int, _Connector],
        report: ChargerSimReport,
    ) -> None:
        super().__init__(cp_id, connection, response_timeout=10)
        self.connectors = connectors
        self.report = report

    async def send(self, payload: Any) -> Any:
        """Send a call; the answer, or None after a CallError or no answer (counted)."""
        action = type(payload).__name__
        self.report.sent[action] += 1
        try:
            answer = await self.call(payload, suppress=False)
        except (OCPPError, TimeoutError) as exc:
            self.report.call_errors[action] += 1
            log.info("sim charger %s: %s failed: %s", self.id, action, exc)
            return None
        self.report.answered[action] += 1
        return answer

    @_on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        self.report.commands_received["RemoteStartTransaction"] += 1
        free = [
            c
            for c in self.connectors.values()
            if c.transaction_id is None and connector_id in (None, c.number)
        ]
        if not free:
            return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.rejected)
        free[0].start_requested = id_tag
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @_on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int, **_: Any) -> Any:
        self.report.commands_received["RemoteStopTransaction"] += 1
        for c in self.connectors.values():
            if c.transaction_id == transaction_id:
                c.stop_requested = True
                return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.rejected)

    @_on(Action.reserve_now)
    async def on_reserve_now(self, **_: Any) -> Any:
        self.report.commands_received["ReserveNow"] += 1
        return call_result.ReserveNow(status=ReservationStatus.accepted)

    @_on(Action.cancel_reservation)
    async def on_cancel_reservation(self, **_: Any) -> Any:
        self.report.commands_received["CancelReservation"] += 1
        return call_result.CancelReservation(status=CancelReservationStatus.accepted)

    @_on(Action.unlock_connector)
    async def on_unlock_connector(self, **_: Any) -> Any:
        self.report.commands_received["UnlockConnector"] += 1
        return call_result.UnlockConnector(status=UnlockStatus.unlocked)


class _Scenario:
    """The charger's behaviour on one connection."""

    def __init__(
        self,
        cp: _SimChargePoint,
        rng: random.Random,
        *,
        heartbeat_s: float | None,
        step_s: float,
        fault_probability: float,
    ) -> None:
        self.cp = cp
        self.rng = rng
        self.heartbeat_s = heartbeat_s
        self.step_s = step_s
        self.fault_probability = fault_probability

    async def pause(self, scale: float = 1.0) -> None:
        await asyncio.sleep(self.step_s * scale * self.rng.uniform(0.5, 1.5))

    async def status(self, connector: int, status: str, error_code: str = "NoError") -> None:
        await self.cp.send(
            call.StatusNotification(
                connector_id=connector, error_code=error_code, status=status, timestamp=_now()
            )
        )

    async def boot(self) -> float:
        """BootNotification until accepted; the heartbeat interval to use."""
        while True:
            answer = await self.cp.send(
                call.BootNotification(
                    charge_point_vendor="Community Hub Sim",
                    charge_point_model="SimCharger-2",
                    charge_point_serial_number=f"SIM-{self.cp.id}"[:25],
                    firmware_version="1.0.0",
                )
            )
            if answer is not None and answer.status == RegistrationStatus.accepted:
                interval = float(answer.interval) if answer.interval else 60.0
                return self.heartbeat_s if self.heartbeat_s is not None else interval
            await self.pause(5)

    async def heartbeats(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.cp.send(call.Heartbeat())

    async def connector(self, c: _Connector) -> None:
        await self.status(c.number, "Available")
        while True:
            await self.pause(2)
            if c.start_requested is None and self.rng.random() < self.fault_probability:
                self.cp.report.faults += 1
                await self.status(c.number, "Faulted", self.rng.choice(FAULT_CODES))
                await self.pause(3)
                await self.status(c.number, "Available")
                continue
            await self.session(c)

    async def session(self, c: _Connector) -> None:
        id_tag = c.start_requested or f"TAG{self.rng.randint(1000, 9999)}"
        c.start_requested = None
        await self.status(c.number, "Preparing")
        await self.pause()
        answer = await self.cp.send(
            call.StartTransaction(
                connector_id=c.number, id_tag=id_tag, meter_start=c.meter_wh, timestamp=_now()
            )
        )
        if answer is None:
            await self.status(c.number, "Available")
            return
        c.transaction_id = int(answer.transaction_id)
        self.cp.report.transactions += 1
        await self.status(c.number, "Charging")
        power_w = self.rng.choice((3_700, 7_400, 11_000))
        for _ in range(self.rng.randint(2, 5)):
            await self.pause()
            if c.stop_requested:
                break
            # Each sample stands for a minute of charging.
            c.meter_wh += power_w // 60
            await self.cp.send(
                call.MeterValues(
                    connector_id=c.number,
                    transaction_id=c.transaction_id,
                    meter_value=[
                        {
                            "timestamp": _now(),
                            "sampledValue": [
                                {
                                    "value": f"{power_w / 1000:.2f}",
                                    "measurand": "Power.Active.Import",
                                    "unit": "kW",
                                    "context": "Sample.Periodic",
                                },
                                {
                                    "value": str(c.meter_wh),
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                    "context": "Sample.Periodic",
                                },
                            ],
                        }
                    ],
                )
            )
        reason = "Remote" if c.stop_requested else self.rng.choice(_STOP_REASONS[:2])
        await self.status(c.number, "Finishing")
        await self.cp.send(
            call.StopTransaction(
                meter_stop=c.meter_wh,
                timestamp=_now(),
                transaction_id=c.transaction_id,
                reason=reason,
                id_tag=id_tag,
            )
        )
        c.transaction_id = None
        c.stop_requested = False
        await self.pause()
        await self.status(c.number, "Available")

    async def run(self) -> None:
        interval = await self.boot()
        await self.status(0, "Available")
        tasks = [asyncio.create_task(self.heartbeats(interval))]
        tasks += [asyncio.create_task(self.connector(c)) for c in self.cp.connectors.values()]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def run_charge_point(
    url: str,
    cp_id: str,
    *,
    connectors: int = 2,
    duration_s: float | None,
    stop: asyncio.Event | None = None,
    rng_seed: int | None = None,
    heartbeat_s: float | None = None,
    step_s: float = 1.0,
    fault_probability: float = 0.1,
) -> ChargerSimReport:
    """Run one simulated charge point against ``url`` (``ws://host:port/ocpp``).

    It connects to ``url/<cp_id>`` and runs until ``duration_s`` passed (None:
    no limit) or ``stop`` is set. ``heartbeat_s`` overrides the interval the
    central system gives at boot; ``step_s`` is the mean pause between a
    connector's status changes.
    """
    if connectors < 1:
        raise ValueError("connectors must be at least 1")
    loop = asyncio.get_running_loop()
    deadline = None if duration_s is None else loop.time() + duration_s
    stop = stop or asyncio.Event()
    rng = random.Random(rng_seed)
    report = ChargerSimReport(cp_id=cp_id)
    state = {n: _Connector(n, rng) for n in range(1, connectors + 1)}
    target = url.rstrip("/") + "/" + cp_id
    backoff = 0.2

    def remaining() -> float | None:
        return None if deadline is None else max(0.0, deadline - loop.time())

    stopped = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set() and remaining() != 0.0:
            try:
                async with connect(target, subprotocols=[SUBPROTOCOL], open_timeout=5) as ws:
                    report.connections += 1
                    backoff = 0.2
                    for c in state.values():
                        c.transaction_id = None  # a real charger would queue the stop
                    cp = _SimChargePoint(cp_id, ws, state, report)
                    scenario = _Scenario(
                        cp,
                        rng,
                        heartbeat_s=heartbeat_s,
                        step_s=step_s,
                        fault_probability=fault_probability,
                    )
                    reader = asyncio.create_task(cp.start())
                    runner = asyncio.create_task(scenario.run())
                    try:
                        await asyncio.wait(
                            {reader, runner, stopped},
                            timeout=remaining(),
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                    finally:
                        for t in (reader, runner):
                            t.cancel()
                        results = await asyncio.gather(reader, runner, return_exceptions=True)
                    for result in results:
                        if isinstance(result, ConnectionClosed):
                            raise result
                        if isinstance(result, Exception):
                            log.error("sim charger %s failed: %r", cp_id, result)
                            raise result
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                report.disconnects += 1
                log.info("sim charger %s: connection lost (%s); reconnecting", cp_id, exc)
                left = remaining()
                pause = backoff if left is None else min(backoff, left)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await stop.wait()
    finally:
        stopped.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopped
    return report
