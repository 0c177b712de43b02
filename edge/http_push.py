"""The HTTP server that door access controllers push their events to.

``POST /acs/{device_id}/events`` on ``settings.http_push_port``, one event per request,
as Hikvision-style controllers send them in "HTTP listening" mode: either the
``AccessControllerEvent`` JSON as the body (``application/json``, or any other content
type), or ``multipart/form-data`` whose JSON part is named ``event_log`` or
``AccessControllerEvent`` (a controller may add the face picture as a further part;
it is ignored). The ``event_log`` part name follows public third-party receivers of
real controllers, not a capture of our own. Configure each controller's push URL with
its own ``device_id``; the events' device id is ``hik:<device_id>``.

Answers, chosen so that a controller's retry does the right thing:

- **200** ``{"status": "ok", "events": n}``: only after the broker acknowledged (PUBACK)
  every event of the body. A heartbeat gives ``n = 0``. A duress event is answered
  exactly like any other: the device is never told an alarm went out.
- **400** ``{"status": "error", "reason": ...}``: the body cannot be decoded; it was
  published as a DeadLetter (raw JSON part, or the body, cut to
  ``edge_dead_letter_raw_max_bytes``) before answering, or only counted past the
  dead-letter bounds (below). Resending the same malformed event would not help.
- **401**: ``credentials`` were given and the request's HTTP Basic username (which must
  equal ``device_id``) and password do not match.
- **413**: body larger than :data:`MAX_BODY_BYTES`.
- **503**: the uplink did not take an event or dead letter; the controller retries. A
  retried body is decoded anew (new event ids), so an event whose PUBACK was merely
  late can reach the hub twice.

Authentication: per-device HTTP Basic when ``credentials`` (device id -> password) is
given. ``credentials=None`` accepts every push and is meant for the demo and for a
network where only the controllers can reach this port; anything else should pass
credentials (and put TLS in front).

Availability: controllers keep no connection, so every authorized push (an event or a
heartbeat) counts as a sign of life for the availability tracker, if given; the
tracker's heartbeat timeout for door controllers makes a silent one offline.

Bounds (edge/limits.py): a connection over ``edge_max_connections``, over
``edge_max_connections_per_address`` from one address, or over
``edge_max_unidentified`` connections that have not brought an authorized request yet,
gets a 503 and is closed as soon as it is accepted. A connection must bring an
authorized request within ``edge_unidentified_timeout_s`` or it is closed (uvicorn's
keep-alive timeout closes an idle one after that). Dead letters are bounded per
remote address (controllers open a connection per push) and per server; past a bound
the push is still answered 400 but only counted, and one keeps at most
``edge_dead_letter_raw_max_bytes`` of the body. uvicorn's lines about malformed
requests are logged at a bounded rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, ClassVar, Final
from uuid import uuid4

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from uvicorn.protocols.http.h11_impl import H11Protocol

from device_adapters.base import MessageContext
from device_adapters.hikvision import (
    DEFAULT_VENDOR,
    PROTOCOL,
    HikvisionDecodeError,
    decoder_for,
    device_id_for,
)
from device_adapters.model import DeadLetter, DeviceEvent, DeviceFamily, Lane
from edge.availability import AvailabilitySink
from edge.basic_auth import basic_auth_matches
from edge.limits import (
    HTTP_BUSY_RESPONSE,
    Admission,
    ConnectionLimits,
    WindowBudget,
    peer_address,
    rate_limited_logger,
)
from edge.settings import EdgeSettings
from edge.uplink import EventPublisher, UplinkError

log = logging.getLogger(__name__)

# A pushed event with its face picture is a few hundred KiB.
MAX_BODY_BYTES: Final = 2 * 1024 * 1024
# Multipart part names that carry the event JSON, in order of preference.
JSON_PART_NAMES: Final = ("event_log", "AccessControllerEvent")
EVENTS_PATH: Final = "/acs/{device_id}/events"
_MAX_REASON: Final = 1000  # DeadLetter.reason max_length
_REALM: Final = 'Basic realm="community-hub-edge", charset="UTF-8"'
# Remote addresses whose dead-letter budgets are remembered (the oldest forgotten first).
_MAX_TRACKED_ADDRESSES: Final = 10_000


class PushBodyError(ValueError):
    """A request body from which no event JSON can be taken."""


@dataclass
class HttpPushStats:
    """Counters since start; read by logs, the CLI and tests."""

    requests: int = 0
    events: int = 0
    heartbeats: int = 0
    dead_letters: int = 0
    auth_failures: int = 0
    too_large: int = 0
    publish_failures: int = 0


def extract_event_json(content_type: str | None, body: bytes) -> bytes:
    """The event JSON of a push body: the body itself, or the JSON part of a multipart one.

    In a multipart body the part named ``event_log`` or ``AccessControllerEvent`` wins,
    then the first ``application/json`` part, then the first part that starts with ``{``.
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "multipart/form-data":
        return body
    header = b"Content-Type: " + (content_type or "").encode("latin-1", "replace")
    message = BytesParser(policy=policy.HTTP).parsebytes(header + b"\r\n\r\n" + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise PushBodyError("multipart body without a valid boundary")
    parts: list[tuple[str | None, str, bytes]] = []
    for part in message.iter_parts():
        if not isinstance(part, EmailMessage) or part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(
                (name if isinstance(name, str) else None, part.get_content_type(), payload)
            )
    for wanted in JSON_PART_NAMES:
        for name, _, payload in parts:
            if name == wanted:
                return payload
    for _, media, payload in parts:
        if media == "application/json":
            return payload
    for _, _, payload in parts:
        if payload.lstrip().startswith(b"{"):
            return payload
    names = ", ".join(str(name) for name, _, _ in parts) or "none"
    raise PushBodyError(f"multipart body has no event JSON part (parts: {names[:200]})")


class _InLoopServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The process owner (the CLI) handles Ctrl-C and stops every part in order.
        yield


class _AdmittedH11(H11Protocol):
    """uvicorn's HTTP/1.1 connection, counted against the server's bounds from its accept.

    Each HttpPushServer makes a subclass with its own ``limits`` and ``admissions``.
    """

    limits: ClassVar[ConnectionLimits]
    # (host, port) of an open connection -> its place; the route marks it identified.
    admissions: ClassVar[dict[tuple[str, int], Admission]]
    # uvicorn logs every malformed request: through this, at a bounded rate.
    wire_log: ClassVar[logging.Logger]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = self.wire_log
        self._admission: Admission | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._peer = ""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host, self._peer = peer_address(transport.get_extra_info("peername"))
        admission = self.limits.admit(host, self._peer)
        if admission is None:
            # Over a bound: answered and closed before its request is read.
            transport.write(HTTP_BUSY_RESPONSE)
            transport.close()
            return
        self._admission = admission
        if self.client is not None:
            self.admissions[self.client] = admission
        self._deadline = self.loop.call_later(
            self.limits.unidentified_timeout_s, self._identify_deadline
        )

    def _identify_deadline(self) -> None:
        admission = self._admission
        if admission is None or admission.identified or self.transport.is_closing():
            return
        self.limits.unidentified_timed_out(self._peer)
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._deadline is not None:
            self._deadline.cancel()
        admission, self._admission = self._admission, None
        if admission is not None:
            admission.release()
            if self.client is not None and self.admissions.get(self.client) is admission:
                del self.admissions[self.client]


class HttpPushServer:
    def __init__(
        self,
        settings: EdgeSettings,
        uplink: EventPublisher,
        *,
        host: str | None = None,
        port: int | None = None,
        credentials: dict[str, str] | None = None,
        vendor: str = DEFAULT_VENDOR,
        availability: AvailabilitySink | None = None,
    ) -> None:
        self._settings = settings
        self._uplink = uplink
        self.host = settings.edge_host if host is None else host
        # A fixed port: ApiServer does not report the port the OS picked for 0.
        self.port = settings.http_push_port if port is None else port
        self.gateway_id = settings.gateway_id
        self._credentials = None if credentials is None else dict(credentials)
        self._decode = decoder_for(vendor)
        self.stats = HttpPushStats()
        # Connection caps, the deadline to identify, dead-letter bounds, bounded logs.
        self.limits = ConnectionLimits(settings, "http_push", log)
        self._admissions: dict[tuple[str, int], Admission] = {}
        self._dead_letter_budgets: OrderedDict[str, WindowBudget] = OrderedDict()
        self._availability = availability
        self.app = self._build_app()
        self._server: _InLoopServer | None = None
        self._task: asyncio.Task[None] | None = None

    def _build_app(self) -> FastAPI:
        app = FastAPI(
            title="Community Hub edge: access controller push",
            docs_url=None,
            redoc_url=None,
            openapi_url=None,
        )
        app.add_api_route(EVENTS_PATH, self._acs_events, methods=["POST"])
        return app

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("HTTP push server already started")
        protocol = type(
            "AdmittedH11",
            (_AdmittedH11,),
            {
                "limits": self.limits,
                "admissions": self._admissions,
                "wire_log": rate_limited_logger(
                    logging.getLogger("uvicorn.error"), self.limits.stats, "HTTP push requests"
                ),
            },
        )
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            http=protocol,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=3,
        )
        server = _InLoopServer(config)
        task = asyncio.create_task(server.serve(), name="http-push")
        while not server.started:
            if task.done():
                await task  # re-raise why it could not start
                raise RuntimeError("HTTP push server stopped before it started")
            await asyncio.sleep(0.02)
        self._server, self._task = server, task
        auth = "HTTP Basic per device" if self._credentials is not None else "no authentication"
        log.info("HTTP push server listening on %s:%s (%s)", self.host, self.port, auth)

    async def stop(self) -> None:
        server, self._server = self._server, None
        task, self._task = self._task, None
        if server is not None and task is not None:
            server.should_exit = True
            await task
            log.info("HTTP push server on port %s stopped", self.port)

    # -- one request -------------------------------------------------------------------

    async def _acs_events(self, device_id: str, request: Request) -> JSONResponse:
        self.stats.requests += 1
        if not self._authorized(device_id, request.headers.get("authorization")):
            self.stats.auth_failures += 1
            self.limits.log.warning(
                "push for %r refused: bad or missing credentials", device_id[:100]
            )
            return JSONResponse(
                {"status": "error", "reason": "unauthorized"},
                status_code=401,
                headers={"WWW-Authenticate": _REALM},
            )
        client = request.client
        admission = self._admissions.get((client.host, client.port)) if client else None
        if admission is not None:
            # An authorized request: the connection is a controller's.
            admission.identify()
        self._note_alive(device_id)
        body = await _read_body(request)
        if body is None:
            self.stats.too_large += 1
            return JSONResponse(
                {"status": "error", "reason": f"body larger than {MAX_BODY_BYTES} bytes"},
                status_code=413,
            )
        peer = request.client.host if request.client is not None else "unknown"
        source = f"http {peer} /acs/{device_id}"[:256]
        received_at = datetime.now(UTC)
        raw = body
        try:
            raw = extract_event_json(request.headers.get("content-type"), body)
            ctx = MessageContext(
                received_at=received_at,
                gateway_id=self.gateway_id,
                source=source,
                device_hint=device_id,
            )
            events = self._decode(raw, ctx)
        except (PushBodyError, HikvisionDecodeError) as exc:
            reason = (getattr(exc, "reason", None) or str(exc) or type(exc).__name__)[:_MAX_REASON]
            return await self._reject(device_id, peer, source, received_at, raw, reason)
        if not await self._publish(device_id, events):
            return _retry_later()
        if not events:
            self.stats.heartbeats += 1
        return JSONResponse({"status": "ok", "events": len(events)})

    def _note_alive(self, device_id: str) -> None:
        if self._availability is None:
            return
        try:
            known_id = device_id_for(device_id)
        except HikvisionDecodeError:
            return
        self._availability.seen(known_id, DeviceFamily.DOOR_ACCESS)

    def _authorized(self, device_id: str, header: str | None) -> bool:
        if self._credentials is None:
            return True
        password = self._credentials.get(device_id)
        return password is not None and basic_auth_matches(header, device_id, password)

    async def _publish(self, device_id: str, events: list[DeviceEvent]) -> bool:
        """Publish all events (alarms handed over first); False if any was not acknowledged."""
        events = sorted(events, key=lambda e: e.lane is not Lane.ALARM)
        results = await asyncio.gather(
            *(self._uplink.publish_event(e) for e in events), return_exceptions=True
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        for err in failed:
            if not isinstance(err, UplinkError):
                raise err
        self.stats.events += len(events) - len(failed)
        if failed:
            self.stats.publish_failures += len(failed)
            log.warning(
                "push from %s: %d of %d events not published, answering 503: %s",
                device_id[:100],
                len(failed),
                len(events),
                failed[0],
            )
            return False
        return True

    async def _reject(
        self,
        device_id: str,
        peer: str,
        source: str,
        received_at: datetime,
        raw: bytes,
        reason: str,
    ) -> JSONResponse:
        try:
            known_id: str | None = device_id_for(device_id)
        except HikvisionDecodeError:
            known_id = None
        answer = JSONResponse({"status": "error", "reason": reason}, status_code=400)
        kept_raw, kept_reason = self.limits.bound_raw(raw, reason)
        full = self.limits.take_dead_letter(self._dead_letter_budget(peer), len(kept_raw))
        if full is not None:
            self.limits.log.info(
                "dead letter from push %s not kept (%s bound reached): %s", source, full, reason
            )
            return answer
        dl = DeadLetter(
            dead_letter_id=uuid4(),
            gateway_id=self.gateway_id,
            source=source,
            protocol=PROTOCOL,
            device_id=known_id,
            received_at=received_at,
            reason=kept_reason[:_MAX_REASON],
            raw=kept_raw,
        )
        self.limits.log.info("dead letter from push %s: %s", source, reason)
        try:
            await self._uplink.publish_dead_letter(dl)
        except UplinkError as exc:
            self.stats.publish_failures += 1
            log.warning("dead letter from %s not published, answering 503: %s", source, exc)
            return _retry_later()
        self.stats.dead_letters += 1
        return answer

    def _dead_letter_budget(self, address: str) -> WindowBudget:
        """The dead-letter budget of a remote address (a controller pushes on new connections)."""
        budget = self._dead_letter_budgets.get(address)
        if budget is None:
            budget = self.limits.dead_letter_budget()
            self._dead_letter_budgets[address] = budget
            if len(self._dead_letter_budgets) > _MAX_TRACKED_ADDRESSES:
                self._dead_letter_budgets.popitem(last=False)
        else:
            self._dead_letter_budgets.move_to_end(address)
        return budget


def _retry_later() -> JSONResponse:
    return JSONResponse(
        {"status": "retry", "reason": "uplink unavailable"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _read_body(request: Request) -> bytes | None:
    """The whole body, or None as soon as it exceeds MAX_BODY_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)
