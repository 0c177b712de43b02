"""The ticket workflow in the words community staff use: 已派单, 接单, 现场核实, 办结 ...

The machine codes (``status``, ``action``) stay as they are in the API; these are the
labels a person reads next to them, in the reader's language. Written as calls with
literal strings so that scripts/i18n finds every one (context: "ticket status" and
"ticket action", since "closed" or "return" mean other things elsewhere).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from zoneinfo import ZoneInfo

from hub.i18n.catalogs import N_, NP_, Label, gettext, label
from hub.i18n.said import say_kept
from hub.tickets.models import (
    ActionOffer,
    Disposition,
    TicketAction,
    TicketPublic,
    TicketStatus,
)

STATUS_WORDS: Final[Mapping[str, Label]] = {
    TicketStatus.REGISTERED: NP_("ticket status", "Registered"),
    TicketStatus.DISPATCHED: NP_("ticket status", "Dispatched"),
    TicketStatus.ACCEPTED: NP_("ticket status", "Accepted"),
    TicketStatus.RETURNED: NP_("ticket status", "Returned"),
    TicketStatus.IN_PROGRESS: NP_("ticket status", "In progress"),
    TicketStatus.EXTENSION_REQUESTED: NP_("ticket status", "Extension requested"),
    TicketStatus.RESOLVED: NP_("ticket status", "Resolved"),
    TicketStatus.VERIFIED: NP_("ticket status", "Verified"),
    TicketStatus.CLOSED: NP_("ticket status", "Closed"),
    TicketStatus.RATED: NP_("ticket status", "Rated"),
}


def status_label(status: TicketStatus | str, tag: str) -> str:
    """A ticket state as a person reads it (已派单 / dispatched)."""
    return label(STATUS_WORDS, status, tag)


ACTION_WORDS: Final[Mapping[str, Label]] = {
    TicketAction.DISPATCH: NP_("ticket action", "Dispatch"),
    TicketAction.ACCEPT: NP_("ticket action", "Accept"),
    TicketAction.RETURN: NP_("ticket action", "Return"),
    TicketAction.START: NP_("ticket action", "Verify on site"),
    TicketAction.REQUEST_EXTENSION: NP_("ticket action", "Request an extension"),
    TicketAction.GRANT_EXTENSION: NP_("ticket action", "Grant the extension"),
    TicketAction.REFUSE_EXTENSION: NP_("ticket action", "Refuse the extension"),
    TicketAction.RESOLVE: NP_("ticket action", "Resolve"),
    TicketAction.VERIFY: NP_("ticket action", "Check"),
    TicketAction.REOPEN: NP_("ticket action", "Send back"),
    TicketAction.CLOSE: NP_("ticket action", "Close"),
    TicketAction.RATE: NP_("ticket action", "Rate"),
}


def action_label(action: TicketAction | str, tag: str) -> str:
    """A workflow action as the button a person presses says it (派单 / Dispatch)."""
    return label(ACTION_WORDS, action, tag)


# What an alarm turned out to be (plain messages, so a log line can keep them as words).
DISPOSITION_WORDS: Final[Mapping[str, str]] = {
    Disposition.GENUINE: N_("genuine alarm"),
    Disposition.FALSE_ALARM: N_("false alarm"),
    Disposition.ACCIDENTAL: N_("pressed by mistake"),
    Disposition.TEST: N_("test alarm"),
    Disposition.DEVICE_FAULT: N_("device fault"),
}


def disposition_label(disposition: Disposition | str, tag: str) -> str:
    """What an alarm was as a person reads it (误报 / false alarm)."""
    found = DISPOSITION_WORDS.get(disposition)
    return str(disposition) if found is None else gettext(tag, found)


def labelled(ticket: TicketPublic, tag: str, zone: ZoneInfo | None = None) -> TicketPublic:
    """The ticket with ``status_label`` and each offered action's ``label`` and
    ``target_label`` in ``tag``'s language (codes unchanged), and each log line's
    ``note_label`` (times in ``zone``, the community's) where its note was kept as
    messages (the English ``note`` otherwise)."""
    ticket.status_label = status_label(ticket.status, tag)
    if ticket.disposition is not None:
        ticket.disposition_label = disposition_label(ticket.disposition, tag)
    for entry in ticket.log or []:
        if entry.said and zone is not None:
            entry.note_label = say_kept(entry.said, tag, zone)
        elif zone is not None:
            entry.note_label = entry.note
        entry.action_label = _step(entry.action, tag)
        entry.to_status_label = status_label(entry.to_status, tag) if entry.to_status else None
    if ticket.action_details is not None:
        ticket.action_details = [_offer(o, tag) for o in ticket.action_details]
    return ticket


def _step(action: str, tag: str) -> str | None:
    """A log entry's step: an action, or the state a ticket was put in (registered,
    dispatched by the hub); None for the hub's own bookkeeping."""
    if action in TicketAction.__members__.values():
        return action_label(action, tag)
    if action in TicketStatus.__members__.values():
        return status_label(action, tag)
    return None


def _offer(offer: ActionOffer, tag: str) -> ActionOffer:
    inputs = [
        i.model_copy(
            update={
                "label": gettext(tag, N_("What was the alarm?")),
                "choices": [
                    c.model_copy(update={"label": disposition_label(c.value, tag)})
                    for c in i.choices
                ],
            }
        )
        if i.choices is not None and i.name == "disposition"
        else i
        for i in offer.inputs
    ]
    return offer.model_copy(
        update={
            "label": action_label(offer.action, tag),
            "target_label": status_label(offer.target, tag),
            "inputs": inputs,
        }
    )
