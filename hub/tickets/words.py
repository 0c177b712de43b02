"""The ticket workflow in the words community staff use: 已派单, 接单, 现场核实, 办结 ...

The machine codes (``status``, ``action``) stay as they are in the API; these are the
labels a person reads next to them, in the reader's language. Written as calls with
literal strings so that scripts/i18n finds every one (context: "ticket status" and
"ticket action", since "closed" or "return" mean other things elsewhere).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hub.i18n.catalogs import pgettext
from hub.i18n.said import say_kept
from hub.tickets.models import ActionOffer, TicketAction, TicketPublic, TicketStatus


def status_label(status: TicketStatus | str, tag: str) -> str:
    """A ticket state as a person reads it (已派单 / dispatched)."""
    S = TicketStatus
    words: dict[str, str] = {
        S.REGISTERED: pgettext(tag, "ticket status", "Registered"),
        S.DISPATCHED: pgettext(tag, "ticket status", "Dispatched"),
        S.ACCEPTED: pgettext(tag, "ticket status", "Accepted"),
        S.RETURNED: pgettext(tag, "ticket status", "Returned"),
        S.IN_PROGRESS: pgettext(tag, "ticket status", "In progress"),
        S.EXTENSION_REQUESTED: pgettext(tag, "ticket status", "Extension requested"),
        S.RESOLVED: pgettext(tag, "ticket status", "Resolved"),
        S.VERIFIED: pgettext(tag, "ticket status", "Verified"),
        S.CLOSED: pgettext(tag, "ticket status", "Closed"),
        S.RATED: pgettext(tag, "ticket status", "Rated"),
    }
    return words.get(status, str(status))


def action_label(action: TicketAction | str, tag: str) -> str:
    """A workflow action as the button a person presses says it (派单 / Dispatch)."""
    A = TicketAction
    words: dict[str, str] = {
        A.DISPATCH: pgettext(tag, "ticket action", "Dispatch"),
        A.ACCEPT: pgettext(tag, "ticket action", "Accept"),
        A.RETURN: pgettext(tag, "ticket action", "Return"),
        A.START: pgettext(tag, "ticket action", "Verify on site"),
        A.REQUEST_EXTENSION: pgettext(tag, "ticket action", "Request an extension"),
        A.GRANT_EXTENSION: pgettext(tag, "ticket action", "Grant the extension"),
        A.REFUSE_EXTENSION: pgettext(tag, "ticket action", "Refuse the extension"),
        A.RESOLVE: pgettext(tag, "ticket action", "Resolve"),
        A.VERIFY: pgettext(tag, "ticket action", "Check"),
        A.REOPEN: pgettext(tag, "ticket action", "Send back"),
        A.CLOSE: pgettext(tag, "ticket action", "Close"),
        A.RATE: pgettext(tag, "ticket action", "Rate"),
    }
    return words.get(action, str(action))


def labelled(ticket: TicketPublic, tag: str, zone: ZoneInfo | None = None) -> TicketPublic:
    """The ticket with ``status_label`` and each offered action's ``label`` and
    ``target_label`` in ``tag``'s language (codes unchanged), and each log line's
    ``note_label`` (times in ``zone``, the community's) where its note was kept as
    messages (the English ``note`` otherwise)."""
    ticket.status_label = status_label(ticket.status, tag)
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
    return offer.model_copy(
        update={
            "label": action_label(offer.action, tag),
            "target_label": status_label(offer.target, tag),
        }
    )
