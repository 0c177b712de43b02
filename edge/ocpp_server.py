"""The OCPP 1.6J central system that EV chargers connect to (PROTOCOLS.md 2a).

Chargers open ``ws://<host>:<port>/ocpp/<charge point id>`` (or ``/<id>``; the
id is the last path segment) with the WebSocket subprotocol ``ocpp1.6``. The
``ocpp`` library does the framing, schema validation and routing; one
``ocpp.v16.ChargePoint`` per connection hands each request to a handler here,
which normalizes it with :mod:`device_adapters.ocpp16` and publishes the events
through the uplink. The CallResult goes back only after the broker acknowledged
every event of the request, so what a charger was told is on the broker; when
publishing fails the charger gets a CallError (InternalError) and sends again.

Input that cannot be turned into events (not JSON, not an OCPP frame, a payload
that breaks the 1.6 schema, an action nobody handles) is answered with a
CallError and kept as a DeadLetter with its raw text; the connection stays open.

Availability: with a tracker given, a charger is online ("connected") when its
WebSocket opens, each message counts as a sign of life, and it is offline
("disconnected") when its current connection closes (an old connection replaced by a
reconnect changes nothing).

Bounds (edge/limits.py): a TCP connection over ``edge_max_connections``, over
``edge_max_connections_per_address`` from one address, or over
``edge_max_unidentified`` connections whose WebSocket handshake has not completed,
gets an HTTP 503 and is closed as soon as it is accepted. A handshake must complete
within ``edge_unidentified_timeout_s`` (the charge point id, and its password when
credentials are set, come with it). Dead letters are bounded per connection and per
server (past that counted, not stored; the charger is still answered) and keep at
most ``edge_dead_letter_raw_max_bytes`` of the message. Refusals and handshake errors
are logged at a bounded rate.

Known limits: transaction ids come from a counter seeded from the clock (not
persisted). A charger reconnecting replaces its old connection whatever its address:
with credentials (required outside the demo) the new one has proved who it is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, ClassVar, Final, TypeVar, cast
from uuid import uuid4

from ocpp.exceptions import (  # type: ignore[import-untyped]
    FormatViolationError,
    OCPPError,
)
from ocpp.exceptions import InternalError as OcppInternalError
from ocpp.messages import Call, CallError, unpack  # type: ignore[import-untyped]
from ocpp.routing import on  # type: ignore[import-untyped]
from ocpp.v16 import ChargePoint, call_result  # type: ignore[import-untyped]
from ocpp.v16.datatypes import IdTagInfo  # type: ignore[import-untyped]
from ocpp.v16.enums import (  # type: ignore[import-untyped]
    Action,
    AuthorizationStatus,
    DataTransferStatus,
    RegistrationStatus,
)
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from device_adapters.model import DeadLetter, DeviceEvent, DeviceFamily, Lane
from device_adapters.ocpp16 import normalize as ocpp16
from device_adapters.ocpp16.commands import CallPayload, ocpp_datetime
from device_adapters.ocpp16.normalize import OcppDecodeError
from edge.availability import CONNECTED, DISCONNECTED, AvailabilitySink
from edge.basic_auth import basic_auth_matches
from edge.limits import (
    HTTP_BUSY_RESPONSE,
    Admission,
    ConnectionLimits,
    peer_address,
    rate_limited_logger,
)
from edge.settings import EdgeSettings
from edge.uplink import EventPublisher, UplinkError

log = logging.getLogger(__name__)

SUBPROTOCOL: Final = Subprotocol("ocpp1.6")
HEARTBEAT_INTERVAL_S: Final = 300
MAX_MESSAGE_BYTES: Final = 1 << 20
_MAX_REASON: Final = 1000  # DeadLetter.reason max_length
_MAX_TRACKED_TRANSACTIONS: Final = 10_000
_MAX_TRANSACTION_ID: Final = 2**31 - 1  # chargers store it as a signed 32-bit integer
_EPOCH_2020: Final = 1_577_836_800


class ChargePointNotConnected(LookupError):
    """A down-link call named a charge point that has no open connection."""


@dataclass
class OcppServerStats:
    """Counters since start; read by logs, the CLI and tests."""

    connections_total: int = 0
    connections_open: int = 0
    refused: int = 0
    replaced: int = 0
    messages: int = 0
    events: int = 0
    dead_letters: int = 0
    publish_failures: int = 0
    calls_sent: int = 0


_H = TypeVar("_H", bound=Callable[..., Any])


class _WireLog(logging.LoggerAdapter[logging.Logger]):
    """The ``ocpp`` library's logger: its tracebacks only for errors we did not expect.

    The library logs every CallError it answers with a traceback; for a
    charger's bad message or an uplink failure we already log the outcome.
    """

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        if isinstance(sys.exc_info()[1], OCPPError):
            kwargs["exc_info"] = False
            self.info(msg, *args, **kwargs)
        else:
            self.error(msg, *args, exc_info=True, **kwargs)


def _on(action: str) -> Callable[[_H], _H]:
    """``ocpp.routing.on`` with a type (the ocpp package ships none)."""
    return cast(Callable[[_H], _H], on(action))


class _AdmittedConnection(ServerConnection):
    """A WebSocket connection counted against its server's bounds from its TCP accept.

    Each OcppServer makes a subclass with its own ``limits``.
    """

    limits: ClassVar[ConnectionLimits]
    # Connections whose handshake is under way; stop() closes them rather than wait.
    opening: ClassVar[set[_AdmittedConnection]]
    admission: Admission | None = None
    peer = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        host, self.peer = peer_address(transport.get_extra_info("peername"))
        self.admission = self.limits.admit(host, self.peer)
        if self.admission is None:
            # Over a bound: answered and closed before its request is read.
            cast(asyncio.Transport, transport).write(HTTP_BUSY_RESPONSE)
            transport.close()
            return
        self.opening.add(self)

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        if self.admission is None:
            return  # refused: websockets aborts a connection its handshake did not open
        try:
            # Counted from the accept; a slow or silent client holds no place for long.
            async with asyncio.timeout(self.limits.unidentified_timeout_s):
                await super().handshake(*args, **kwargs)
        except TimeoutError:
            self.limits.unidentified_timed_out(self.peer)
        finally:
            self.opening.discard(self)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.opening.discard(self)
        if self.admission is not None:
            self.admission.release()


class _CentralSystemChargePoint(ChargePoint):  # type: ignore[misc]
    """One connected charger, seen from the central system."""

    def __init__(self, server: OcppServer, cp_id: str, connection: ServerConnection) -> None:
        super().__init__(
            cp_id,
            connection,
            response_timeout=server.response_timeout_s,
            logger=_WireLog(logging.getLogger(f"{__name__}.wire")),
        )
        self.server = server
        self.connection = connection
        self.peer = _peer_name(connection)
        # Dead letters this connection may still make in the current window.
        self.dead_letters = server.limits.dead_letter_budget()
        # The raw text of the message being handled. The library handles one
        # message at a time (it awaits route_message before the next recv), so
        # this is the current request while a handler runs.
        self.raw = b""

    @property
    def label(self) -> str:
        return ocpp16.DEVICE_ID_PREFIX + str(self.id)

    # -- message routing ---------------------------------------------------------------

    async def route_message(self, raw_msg: str | bytes) -> None:
        self.raw = raw_msg.encode("utf-8") if isinstance(raw_msg, str) else bytes(raw_msg)
        self.server.stats.messages += 1
        self.server._seen(self)
        try:
            try:
                msg = unpack(raw_msg)
            except RecursionError:
                raise FormatViolationError(details={"cause": "JSON nested too deeply"}) from None
            if isinstance(msg, Call) and not isinstance(msg.action, str):
                raise FormatViolationError(details={"cause": "Action is not a string"})
        except OCPPError as exc:
            # The library would only log this; answer it and keep it.
            reason = f"not an OCPP message: {_describe(exc)}"
            await self.server._dead_letter(self, reason)
            unique_id = _call_unique_id(raw_msg)
            if unique_id is not None:
                await self._send_call_error(unique_id, exc)
            return
        try:
            await super().route_message(raw_msg)
        except (ConnectionClosed, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("%s: unexpected error handling %r", self.label, self.raw[:200])
            await self.server._dead_letter(self, f"error handling message: {exc!r}")
            if isinstance(msg, Call):
                await self._send_call_error(msg.unique_id, OcppInternalError())

    async def _handle_call(self, msg: Any) -> Any:
        # Schema violations and actions nobody handles raise OCPPError here; the
        # library's route_message answers them with a CallError.
        try:
            return await super()._handle_call(msg)
        except OCPPError as exc:
            await self.server._dead_letter(self, f"{str(msg.action)[:64]}: {_describe(exc)}")
            raise

    async def _send_call_error(self, unique_id: str, exc: OCPPError) -> None:
        cause = exc.details.get("cause") if isinstance(exc.details, dict) else None
        details = {"cause": str(cause)[:200]} if cause is not None else {}
        await self._send(CallError(unique_id, exc.code, exc.description, details).to_json())

    # -- publishing ----------------------------------------------------------------------

    async def _publish(
        self, normalizer: Callable[..., list[DeviceEvent]], payload: dict[str, Any], **kw: Any
    ) -> list[DeviceEvent]:
        """Normalize the current request and publish its events; raises to get a CallError."""
        try:
            events = normalizer(
                self.id,
                payload,
                received_at=datetime.now(UTC),
                gateway_id=self.server.gateway_id,
                raw=self.raw,
                **kw,
            )
        except OcppDecodeError as exc:
            await self.server._dead_letter(self, exc.reason)
            raise FormatViolationError(description=exc.reason[:200]) from exc
        await self.server._publish_events(self, events)
        return events

    # -- requests from the charger ---------------------------------------------------------

    @_on(Action.boot_notification)
    async def on_boot_notification(self, **payload: Any) -> Any:
        events = await self._publish(ocpp16.boot_notification, payload)
        log.info("charger %s booted: %s", self.label, events[0].values)
        return call_result.BootNotification(
            current_time=_now(),
            interval=self.server.heartbeat_interval_s,
            status=RegistrationStatus.accepted,
        )

    @_on(Action.heartbeat)
    async def on_heartbeat(self, **payload: Any) -> Any:
        await self._publish(ocpp16.heartbeat, payload)
        return call_result.Heartbeat(current_time=_now())

    @_on(Action.status_notification)
    async def on_status_notification(self, **payload: Any) -> Any:
        await self._publish(ocpp16.status_notification, payload)
        return call_result.StatusNotification()

    @_on(Action.meter_values)
    async def on_meter_values(self, **payload: Any) -> Any:
        await self._publish(ocpp16.meter_values, payload)
        return call_result.MeterValues()

    @_on(Action.start_transaction)
    async def on_start_transaction(self, **payload: Any) -> Any:
        transaction_id = self.server._next_transaction_id()
        events = await self._publish(
            ocpp16.start_transaction, payload, transaction_id=transaction_id
        )
        port = events[0].values.get("port")
        if isinstance(port, int):
            self.server._remember_transaction(self.id, transaction_id, port)
        return call_result.StartTransaction(
            transaction_id=transaction_id,
            id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted),
        )

    @_on(Action.stop_transaction)
    async def on_stop_transaction(self, **payload: Any) -> Any:
        transaction_id = payload.get("transaction_id")
        port = (
            self.server._transaction_port(self.id, transaction_id)
            if isinstance(transaction_id, int)
            else None
        )
        await self._publish(ocpp16.stop_transaction, payload, port=port)
        if isinstance(transaction_id, int):
            self.server._forget_transaction(self.id, transaction_id)
        id_tag_info = (
            IdTagInfo(status=AuthorizationStatus.accepted) if payload.get("id_tag") else None
        )
        return call_result.StopTransaction(id_tag_info=id_tag_info)

    @_on(Action.authorize)
    async def on_authorize(self, **payload: Any) -> Any:
        return call_result.Authorize(id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))

    # Answered so chargers do not see errors, but they carry nothing residents see.
    @_on(Action.firmware_status_notification)
    async def on_firmware_status_notification(self, **payload: Any) -> Any:
        log.info("charger %s firmware status %s", self.label, payload.get("status"))
        return call_result.FirmwareStatusNotification()

    @_on(Action.diagnostics_status_notification)
    async def on_diagnostics_status_notification(self, **payload: Any) -> Any:
        log.info("charger %s diagnostics status %s", self.label, payload.get("status"))
        return call_result.DiagnosticsStatusNotification()

    @_on(Action.data_transfer)
    async def on_data_transfer(self, **payload: Any) -> Any:
        log.info("charger %s data transfer from vendor %s", self.label, payload.get("vendor_id"))
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)


class OcppServer:
    def __init__(
        self,
        settings: EdgeSettings,
        uplink: EventPublisher,
        *,
        host: str | None = None,
        port: int | None = None,
        heartbeat_interval_s: int = HEARTBEAT_INTERVAL_S,
        response_timeout_s: float = 30.0,
        first_transaction_id: int | None = None,
        availability: AvailabilitySink | None = None,
    ) -> None:
        self._settings = settings
        self._uplink = uplink
        self.host = settings.edge_host if host is None else host
        # Becomes the bound port after start() (useful when 0 asks for any free port).
        self.port = settings.ocpp_port if port is None else port
        self.gateway_id = settings.gateway_id
        self.heartbeat_interval_s = heartbeat_interval_s
        self.response_timeout_s = response_timeout_s
        self.stats = OcppServerStats()
        # Connection caps, the handshake deadline, dead-letter bounds, bounded logs.
        self.limits = ConnectionLimits(settings, "ocpp", log)
        self._server: Server | None = None
        self._sessions: dict[str, _CentralSystemChargePoint] = {}
        self._opening: set[_AdmittedConnection] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._stopping = False
        # Seeded from the clock, so ids keep increasing across restarts of the edge
        # (unless it started more than one transaction a second on average).
        self._last_transaction_id = (
            first_transaction_id - 1
            if first_transaction_id is not None
            else int(time.time()) - _EPOCH_2020
        )
        self._transactions: dict[tuple[str, int], int] = {}
        self._availability = availability

    @property
    def connected_charge_points(self) -> set[str]:
        """Ids (sanitized) of the charge points with an open connection."""
        return set(self._sessions)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("OCPP server already started")
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            subprotocols=[SUBPROTOCOL],
            select_subprotocol=_select_subprotocol,
            process_request=self._process_request,
            max_size=MAX_MESSAGE_BYTES,
            create_connection=type(
                "AdmittedConnection",
                (_AdmittedConnection,),
                {"limits": self.limits, "opening": self._opening},
            ),
            # The handshake deadline is the connection's own (edge_unidentified_timeout_s).
            open_timeout=None,
            # websockets logs every failed handshake (with a traceback): at a bounded rate.
            logger=rate_limited_logger(
                logging.getLogger("websockets.server"), self.limits.stats, "OCPP handshakes"
            ),
        )
        for sock in self._server.sockets:
            self.port = int(sock.getsockname()[1])
            break
        log.info("OCPP 1.6J server listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Close every connection (1001 going away) and stop listening."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        server.close()
        # websockets would wait for a handshake that may never come (up to the deadline).
        for opening in list(self._opening):
            opening.transport.abort()
        # A handler waiting for a PUBACK would hold the close up; the charger
        # gets no answer and sends the request again to whoever serves it next.
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()
        self._stopping = False
        log.info("OCPP server on port %s stopped", self.port)

    # -- down-link -------------------------------------------------------------------------

    async def call(self, cp_id: str, payload: CallPayload) -> Any:
        """Send a call (see :mod:`device_adapters.ocpp16.commands`) and return the answer.

        The answer is the ``ocpp.v16.call_result`` dataclass of the action. Raises
        ChargePointNotConnected (also when the connection drops before the answer),
        the ``ocpp.exceptions.OCPPError`` matching a CallError answer, or TimeoutError
        when no answer came within ``response_timeout_s``.
        """
        if cp_id.startswith(ocpp16.DEVICE_ID_PREFIX):
            cp_id = cp_id[len(ocpp16.DEVICE_ID_PREFIX) :]
        session = self._sessions.get(ocpp16.sanitize_charge_point_id(cp_id))
        if session is None:
            raise ChargePointNotConnected(f"charge point {cp_id!r} is not connected")
        self.stats.calls_sent += 1
        try:
            return await session.call(payload, suppress=False)
        except ConnectionClosed as exc:
            raise ChargePointNotConnected(f"charge point {cp_id!r} disconnected: {exc}") from exc

    def transaction_on_port(self, cp_id: str, port: int) -> int | None:
        """The id of the latest transaction started on ``port`` and not stopped, if known."""
        if cp_id.startswith(ocpp16.DEVICE_ID_PREFIX):
            cp_id = cp_id[len(ocpp16.DEVICE_ID_PREFIX) :]
        key = ocpp16.sanitize_charge_point_id(cp_id)
        for (tx_cp, transaction_id), tx_port in reversed(self._transactions.items()):
            if tx_port == port and ocpp16.sanitize_charge_point_id(tx_cp) == key:
                return transaction_id
        return None

    # -- one connection --------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            cp_id = ocpp16.charge_point_id_from_path(request.path)
        except OcppDecodeError as exc:
            self.stats.refused += 1
            self.limits.log.info(
                "OCPP connection to %r refused: %s", request.path[:100], exc.reason
            )
            return connection.respond(
                HTTPStatus.NOT_FOUND,
                f"no charge point id in the URL path: {exc.reason}\n"
                "connect to ws://<host>:<port>/ocpp/<charge point id>\n",
            )
        credentials = self._settings.ocpp_credentials
        if credentials is not None:
            # OCPP 1.6 security profile 1: HTTP Basic, username = charge point id.
            password = credentials.get(cp_id)
            header = request.headers.get("Authorization")
            if password is None or not basic_auth_matches(
                header, cp_id, password.get_secret_value()
            ):
                self.stats.refused += 1
                self.limits.log.warning(
                    "OCPP connection for %r refused: bad or missing credentials", cp_id[:100]
                )
                response = connection.respond(
                    HTTPStatus.UNAUTHORIZED, "charge point id and password required\n"
                )
                response.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
                return response
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        peer = _peer_name(connection)
        if connection.subprotocol != SUBPROTOCOL:
            # OCPP-J 1.6: complete the handshake without a subprotocol, then close.
            self.stats.refused += 1
            offered = (connection.request.headers if connection.request else Headers()).get_all(
                "Sec-WebSocket-Protocol"
            )
            self.limits.log.info(
                "OCPP connection from %s refused: offered subprotocols %s", peer, offered[:5]
            )
            await connection.close(
                CloseCode.PROTOCOL_ERROR, "subprotocol ocpp1.6 required (OCPP 1.6J)"
            )
            return
        if isinstance(connection, _AdmittedConnection) and connection.admission is not None:
            # The handshake named the charge point (and proved it, with credentials).
            connection.admission.identify()
        path = connection.request.path if connection.request else ""
        cp_id = ocpp16.charge_point_id_from_path(path)
        key = ocpp16.sanitize_charge_point_id(cp_id)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        session = _CentralSystemChargePoint(self, cp_id, connection)
        previous = self._sessions.get(key)
        self._sessions[key] = session
        if previous is not None:
            # Usually a charger reconnecting before we noticed its old link died.
            self.stats.replaced += 1
            log.warning("charger %s reconnected from %s; closing its old connection", key, peer)
            previous_close = asyncio.create_task(
                previous.connection.close(
                    CloseCode.POLICY_VIOLATION, "replaced by a new connection"
                )
            )
            self._handlers.add(previous_close)
            previous_close.add_done_callback(self._handlers.discard)
        self.stats.connections_total += 1
        self.stats.connections_open += 1
        log.info("charger %s connected from %s", session.label, peer)
        if self._availability is not None:
            self._availability.online(
                ocpp16.DEVICE_ID_PREFIX + key, DeviceFamily.CHARGER, CONNECTED
            )
        reason = "closed by charger"
        try:
            await session.start()
        except ConnectionClosed as exc:
            reason = f"closed: {exc}"
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Our own stop() cancelled us (maybe mid-publish): say so to the charger.
            reason = "server stopping"
            await connection.close(CloseCode.GOING_AWAY, "central system stopping")
        finally:
            self.stats.connections_open -= 1
            if self._sessions.get(key) is session:
                del self._sessions[key]
                if self._availability is not None:
                    self._availability.offline(
                        ocpp16.DEVICE_ID_PREFIX + key, DeviceFamily.CHARGER, DISCONNECTED
                    )
            if task is not None:
                self._handlers.discard(task)
            log.info("charger %s from %s disconnected (%s)", session.label, peer, reason)

    # -- helpers for the sessions ----------------------------------------------------------

    def _seen(self, session: _CentralSystemChargePoint) -> None:
        if self._availability is None:
            return
        key = ocpp16.sanitize_charge_point_id(str(session.id))
        if self._sessions.get(key) is session:
            self._availability.seen(ocpp16.DEVICE_ID_PREFIX + key, DeviceFamily.CHARGER)

    async def _publish_events(
        self, session: _CentralSystemChargePoint, events: Sequence[DeviceEvent]
    ) -> None:
        """Publish all at once, alarms handed over first; raise if any was not acknowledged."""
        ordered = sorted(events, key=lambda e: e.lane is not Lane.ALARM)
        results = await asyncio.gather(
            *(self._uplink.publish_event(e) for e in ordered), return_exceptions=True
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        self.stats.events += len(ordered) - len(failed)
        for err in failed:
            if not isinstance(err, UplinkError):
                raise err
        if failed:
            self.stats.publish_failures += len(failed)
            log.warning(
                "charger %s: %d of %d events not published, answering CallError: %s",
                session.label,
                len(failed),
                len(ordered),
                failed[0],
            )
            raise OcppInternalError(
                description="event not accepted upstream; send the request again later"
            )

    async def _dead_letter(self, session: _CentralSystemChargePoint, reason: str) -> bool:
        """Publish a dead letter with the current message; False if the uplink did not take it.

        Past the connection's or the server's bound it is counted, not kept (True).
        """
        try:
            device_id: str | None = ocpp16.device_id_for(str(session.id))
        except OcppDecodeError:
            device_id = None
        raw, reason = self.limits.bound_raw(session.raw, reason)
        full = self.limits.take_dead_letter(session.dead_letters, len(raw))
        if full is not None:
            self.limits.log.info(
                "dead letter from %s not kept (%s bound reached): %s", session.label, full, reason
            )
            return True
        dl = DeadLetter(
            dead_letter_id=uuid4(),
            gateway_id=self.gateway_id,
            source=f"ocpp-ws {session.peer}"[:256],
            protocol=ocpp16.PROTOCOL,
            device_id=device_id,
            received_at=datetime.now(UTC),
            reason=reason[:_MAX_REASON],
            raw=raw,
        )
        self.limits.log.info("dead letter from %s: %s", session.label, reason)
        try:
            await self._uplink.publish_dead_letter(dl)
        except UplinkError as exc:
            self.stats.publish_failures += 1
            log.warning("dead letter from %s not published: %s", session.label, exc)
            return False
        self.stats.dead_letters += 1
        return True

    def _next_transaction_id(self) -> int:
        self._last_transaction_id = self._last_transaction_id % _MAX_TRANSACTION_ID + 1
        return self._last_transaction_id

    def _remember_transaction(self, cp_id: str, transaction_id: int, port: int) -> None:
        if len(self._transactions) >= _MAX_TRACKED_TRANSACTIONS:
            # Forget the oldest: a charger that never sent its StopTransaction.
            del self._transactions[next(iter(self._transactions))]
        self._transactions[(cp_id, transaction_id)] = port

    def _transaction_port(self, cp_id: str, transaction_id: int) -> int | None:
        return self._transactions.get((cp_id, transaction_id))

    def _forget_transaction(self, cp_id: str, transaction_id: int) -> None:
        self._transactions.pop((cp_id, transaction_id), None)


def _select_subprotocol(
    connection: ServerConnection, subprotocols: Sequence[Subprotocol]
) -> Subprotocol | None:
    # None rather than websockets' HTTP 400: the handler closes with a reason instead.
    return SUBPROTOCOL if SUBPROTOCOL in subprotocols else None


def _now() -> str:
    return ocpp_datetime(datetime.now(UTC))


def _describe(exc: OCPPError) -> str:
    cause = exc.details.get("cause") if isinstance(exc.details, dict) else None
    text = f"{exc.code}: {exc.description}"
    return f"{text}: {cause}" if cause else text


def _call_unique_id(raw_msg: str | bytes) -> str | None:
    """The id to answer a broken message with: the Call's own id, "-1" if unreadable.

    None for a broken CallResult or CallError: a response is never answered.
    """
    try:
        msg = json.loads(raw_msg)
    except (ValueError, RecursionError):
        return "-1"
    if not isinstance(msg, list) or not msg:
        return "-1"
    if msg[0] in (3, 4):
        return None
    if len(msg) > 1 and isinstance(msg[1], str) and len(msg[1]) <= 36:
        return msg[1]
    return "-1"


def _peer_name(connection: ServerConnection) -> str:
    peer = connection.remote_address
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer)
