"""Acting on the wearer's watch from a ticket: locate now, call back, show a message.

Who may (docs/positions.md, "Acting on the watch"): the same as who may see where the
wearer is (hub/tickets/wearer.py): admins and community staff, and the ticket's assignee
and co-handlers while it is theirs and open. The watch is the one
:func:`~hub.tickets.wearer.wristband_of` finds: the alarm's wristband, else (elderly
care) the resident's most recently heard one.

Each becomes a device command (hub/commands) with its time to live; the edge reports
what became of it (delivered, then accepted by the watch, timed out, expired or failed),
read on GET /api/v1/commands/{id}. The ticket's log keeps who asked for what (a phone
number masked, since whoever sees the ticket reads its log), and, when the edge reports
it (hub/ingest/flows.py), what became of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Final, Literal
from uuid import UUID

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import FINAL_COMMAND_STATUSES, CommandKind, CommandStatus, Scalar
from device_adapters.wristband_commands import MAX_MESSAGE_UNITS, PHONE_RE, message_units
from hub.access.scope import Scope
from hub.commands import service as commands
from hub.commands.models import CommandCreate, CommandPublic
from hub.errors import InvalidInput
from hub.i18n.catalogs import N_
from hub.i18n.said import keep
from hub.schema.commands import device_commands
from hub.tickets.service import load_visible, log_change
from hub.tickets.wearer import TicketHasNoWearer, check_responder, wristband_of

WatchAction = Literal["locate", "call", "message"]
LOG_ACTION: Final = "watch_command"
OUTCOME_ACTION: Final = "watch_command_result"
TtlS = Annotated[
    int, Field(ge=5, le=3600, description="seconds the watch has to be reached and answer")
]


class WatchLocate(BaseModel):
    ttl_s: TtlS = 120


class WatchCall(BaseModel):
    phone: str = Field(max_length=32, description="the number the watch calls: digits, '+' first")
    monitor: bool = Field(
        False,
        description="call silently so the caller listens in (Watch protocol watches only)",
    )
    ttl_s: TtlS = 120


class WatchMessage(BaseModel):
    text: str = Field(
        max_length=1000,
        description=f"shown on the watch's screen; at most {MAX_MESSAGE_UNITS} characters",
    )
    ttl_s: TtlS = 300


def _phone(phone: str) -> str:
    phone = phone.strip()
    if not PHONE_RE.fullmatch(phone):
        raise InvalidInput(
            "phone", N_("not a number a watch can call: 3 to 20 digits, optionally after +")
        )
    return phone


def _text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("text", N_("the message is empty"))
    count = message_units(text)
    if count > MAX_MESSAGE_UNITS:
        raise InvalidInput(
            "text",
            N_("a message to a watch is at most %(max)s characters; this one has %(count)s"),
            max=MAX_MESSAGE_UNITS,
            count=count,
        )
    return text


def masked(phone: str) -> str:
    """138****8000: enough for the log's reader to tell which number, not to dial it."""
    digits = phone.lstrip("+")
    if len(digits) < 8:
        return phone
    return phone[: len(phone) - len(digits) + 3] + "*" * (len(digits) - 7) + digits[-4:]


async def issue(
    conn: AsyncConnection,
    scope: Scope,
    ticket_id: int,
    request: WatchLocate | WatchCall | WatchMessage,
    now: datetime,
) -> CommandPublic:
    """Check the caller and the input, store the command and log it on the ticket.

    Raises TicketNotVisible (404), PositionForbidden (403, why), TicketHasNoWearer (404),
    InvalidInput (422, naming ``phone`` or ``text``) and CommandRefused (409: the watch
    is not registered, heard by no gateway, or does not take this command).
    """
    ticket = await load_visible(conn, scope, ticket_id)
    await check_responder(
        conn,
        scope,
        ticket,
        not_responder=N_("only the ticket's responder and community staff may act on the watch"),
        not_open=N_("the responder may act on the watch only while ticket %(id)s is open"),
    )
    kind: CommandKind
    params: dict[str, Scalar]
    if isinstance(request, WatchCall):
        phone = _phone(request.phone)
        kind = "wristband.monitor" if request.monitor else "wristband.call"
        params = {"phone": phone}
    elif isinstance(request, WatchMessage):
        kind, params = "wristband.message", {"text": _text(request.text)}
    else:
        kind, params = "wristband.locate", {}
    band = await wristband_of(conn, ticket)
    if band is None:
        raise TicketHasNoWearer(N_("ticket %(id)s concerns no wristband wearer"), id=ticket_id)
    device_id = band[0]
    command = await commands.create(
        conn,
        device_id,
        CommandCreate(kind=kind, params=params, ttl_s=request.ttl_s, reason=f"ticket {ticket_id}"),
        scope.user_id,
        now,
    )
    said = _said(kind, params, device_id, str(command.id))
    await log_change(
        conn,
        ticket_id,
        now,
        LOG_ACTION,
        actor_id=scope.user_id,
        note=commands_note(kind, params, device_id, str(command.id)),
        said=[said],
    )
    return command


def _said(kind: str, params: dict[str, Scalar], device: str, cid: str) -> list[object]:
    if kind == "wristband.locate":
        return keep(
            N_("asked watch %(device)s for its position now (command %(id)s)"),
            device=device,
            id=cid,
        )
    if kind == "wristband.call":
        return keep(
            N_("asked watch %(device)s to call %(phone)s (command %(id)s)"),
            device=device,
            phone=masked(str(params["phone"])),
            id=cid,
        )
    if kind == "wristband.monitor":
        return keep(
            N_("asked watch %(device)s to call %(phone)s silently, to listen in (command %(id)s)"),
            device=device,
            phone=masked(str(params["phone"])),
            id=cid,
        )
    return keep(
        N_("sent watch %(device)s the message “%(text)s” (command %(id)s)"),
        device=device,
        text=params["text"],
        id=cid,
    )


def commands_note(kind: str, params: dict[str, Scalar], device: str, cid: str) -> str:
    """The log line in English, for machines and older clients."""
    if kind in ("wristband.call", "wristband.monitor"):
        return f"{kind} to {masked(str(params['phone']))} sent to {device} (command {cid})"
    if kind == "wristband.message":
        return f"{kind} “{params['text']}” sent to {device} (command {cid})"
    return f"{kind} sent to {device} (command {cid})"


# -- what became of it, on the ticket's log ------------------------------------------------

_TICKET_REASON: Final = re.compile(r"ticket ([0-9]+)")
_OUTCOMES: Final[dict[str, str]] = {
    CommandStatus.ACCEPTED.value: N_("watch %(device)s acknowledged command %(id)s"),
    CommandStatus.TIMED_OUT.value: N_("watch %(device)s did not answer command %(id)s in time"),
    CommandStatus.EXPIRED.value: N_(
        "command %(id)s expired: watch %(device)s could not be reached in time"
    ),
    CommandStatus.REJECTED.value: N_("watch %(device)s refused command %(id)s: %(detail)s"),
    CommandStatus.FAILED.value: N_("command %(id)s to watch %(device)s failed: %(detail)s"),
}


async def awaiting_outcome(conn: AsyncConnection, command_ids: Sequence[UUID]) -> list[UUID]:
    """Of ``command_ids``, the watch commands from a ticket that have no final status yet
    (read before results are applied, so a result sent twice is logged once)."""
    if not command_ids:
        return []
    rows = await conn.execute(
        sa.select(device_commands.c.id).where(
            device_commands.c.id.in_(sorted(set(command_ids))),
            device_commands.c.kind.like("wristband.%"),
            device_commands.c.status.not_in([s.value for s in FINAL_COMMAND_STATUSES]),
        )
    )
    return [row.id for row in rows]


async def log_outcomes(conn: AsyncConnection, command_ids: Sequence[UUID], now: datetime) -> int:
    """Log on its ticket each of ``command_ids`` that now has a final status."""
    if not command_ids:
        return 0
    rows = await conn.execute(
        sa.select(device_commands).where(
            device_commands.c.id.in_(list(command_ids)),
            device_commands.c.status.in_(list(_OUTCOMES)),
        )
    )
    logged = 0
    for row in rows:
        found = _TICKET_REASON.fullmatch(row.reason or "")
        if found is None:
            continue
        message = _OUTCOMES[row.status]
        cid, detail = str(row.id), row.detail or ""
        await log_change(
            conn,
            int(found.group(1)),
            now,
            OUTCOME_ACTION,
            note=f"{row.kind} {row.status}: {detail}"[:1000] + f" (command {cid})",
            said=[keep(message, device=row.device_id, id=cid, detail=detail)],
        )
        logged += 1
    return logged
