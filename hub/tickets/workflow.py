"""The community ticket workflow as one table of transitions.

一号受理 (registered) → 一体派单 (dispatched) → 联动处置 (accepted, in progress,
extensions) → 督查督办 (resolved, verified, closed) → rated.

Every legal move is a row in ``TRANSITIONS``: the action, the states it may
start from, the state it leads to, the roles that may take it, whether it is
limited to the caller's own tickets (the assigned volunteer, the resident's
household) and which inputs it needs. Everything else here is derived from
the table, so the table is the only place the workflow is written down.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial

from hub.errors import Conflict
from hub.i18n.catalogs import N_, pgettext
from hub.tickets import words
from hub.tickets.models import (
    TEXT_MAX,
    ActionInput,
    ActionOffer,
    Disposition,
    InputChoice,
    InputKind,
)
from hub.tickets.models import TicketAction as Act
from hub.tickets.models import TicketStatus as S
from hub.users.models import Role

_STAFF = frozenset({Role.ADMIN, Role.PROPERTY_MANAGER, Role.COMMUNITY_STAFF})
_VOLUNTEER = frozenset({Role.VOLUNTEER})
_RESIDENT = frozenset({Role.RESIDENT})


class Owner(StrEnum):
    """Whose tickets a row is limited to, beyond what the caller may see."""

    ANY = "any"  # any ticket the caller can see (staff: their community; admin: all)
    ASSIGNEE = "assignee"  # only the ticket's assignee
    HOUSEHOLD = "household"  # only tickets of the caller's own household


class Input(StrEnum):
    """Inputs an action can need; the names are the request body's field names."""

    REASON = "reason"
    NOTE = "note"
    ASSIGNEE_ID = "assignee_id"
    NEW_DUE_AT = "new_due_at"
    SCORE = "score"
    DISPOSITION = "disposition"


# Inputs that only mean something for particular actions; reason and note are
# free text and may accompany any action (they go into the audit trail).
ACTION_SPECIFIC_INPUTS = frozenset(
    {Input.ASSIGNEE_ID, Input.NEW_DUE_AT, Input.SCORE, Input.DISPOSITION}
)


@dataclass(frozen=True)
class Transition:
    action: Act
    sources: frozenset[S]
    target: S
    roles: frozenset[Role]
    owner: Owner
    requires: frozenset[Input]
    description: str
    # Needed as well when the ticket was opened from an alarm (what the alarm was).
    alarm_requires: frozenset[Input] = frozenset()

    def needs(self, *, alarm: bool) -> frozenset[Input]:
        return self.requires | self.alarm_requires if alarm else self.requires


def _row(
    action: Act,
    sources: set[S],
    target: S,
    roles: frozenset[Role],
    owner: Owner,
    requires: set[Input],
    description: str,
    alarm_requires: frozenset[Input] = frozenset(),
) -> Transition:
    return Transition(
        action,
        frozenset(sources),
        target,
        roles,
        owner,
        frozenset(requires),
        description,
        alarm_requires,
    )


R, N, A, D, SC = Input.REASON, Input.NOTE, Input.ASSIGNEE_ID, Input.NEW_DUE_AT, Input.SCORE
DISP = frozenset({Input.DISPOSITION})

# fmt: off
TRANSITIONS: tuple[Transition, ...] = (
    _row(Act.DISPATCH, {S.REGISTERED, S.RETURNED}, S.DISPATCHED, _STAFF, Owner.ANY, {A},
         "assign to a volunteer (after a return: to someone else)"),
    _row(Act.ACCEPT, {S.DISPATCHED}, S.ACCEPTED, _VOLUNTEER, Owner.ASSIGNEE, set(),
         "the assigned volunteer takes the ticket"),
    _row(Act.RETURN, {S.DISPATCHED, S.ACCEPTED}, S.RETURNED, _VOLUNTEER, Owner.ASSIGNEE, {R},
         "the assigned volunteer hands it back for re-dispatch"),
    _row(Act.START, {S.ACCEPTED}, S.IN_PROGRESS, _VOLUNTEER, Owner.ASSIGNEE, {N},
         "on site: the note records the on-site verification"),
    _row(Act.REQUEST_EXTENSION, {S.IN_PROGRESS}, S.EXTENSION_REQUESTED, _VOLUNTEER,
         Owner.ASSIGNEE, {R}, "ask for more time to resolve"),
    _row(Act.GRANT_EXTENSION, {S.EXTENSION_REQUESTED}, S.IN_PROGRESS, _STAFF, Owner.ANY, {D},
         "allow more time: a new resolve-by date"),
    _row(Act.REFUSE_EXTENSION, {S.EXTENSION_REQUESTED}, S.IN_PROGRESS, _STAFF, Owner.ANY, {R},
         "keep the current resolve-by date"),
    _row(Act.RESOLVE, {S.IN_PROGRESS}, S.RESOLVED, _VOLUNTEER, Owner.ASSIGNEE, {N},
         "the volunteer reports what was done (an alarm: and what it was)", DISP),
    _row(Act.VERIFY, {S.RESOLVED}, S.VERIFIED, _STAFF, Owner.ANY, set(),
         "supervision confirms the resolution"),
    _row(Act.REOPEN, {S.RESOLVED, S.VERIFIED}, S.IN_PROGRESS, _STAFF, Owner.ANY, {R},
         "supervision sends it back to the volunteer"),
    _row(Act.CLOSE, {S.VERIFIED}, S.CLOSED, _STAFF, Owner.ANY, set(),
         "the ticket is done"),
    _row(Act.RATE, {S.CLOSED}, S.RATED, _RESIDENT, Owner.HOUSEHOLD, {SC},
         "the resident's household rates the service, 1-5"),
)
# fmt: on

BY_ACTION: Mapping[str, Transition] = {t.action: t for t in TRANSITIONS}
ACTIONS: tuple[Act, ...] = tuple(t.action for t in TRANSITIONS)
INITIAL = S.REGISTERED
MIN_SCORE, MAX_SCORE = 1, 5


class UnknownAction(ValueError):
    def __init__(self, action: str) -> None:
        super().__init__(f"unknown action {action!r}; actions are: {', '.join(ACTIONS)}")
        self.action = action


class IllegalTransition(Conflict):
    """The action cannot be taken from the ticket's current state."""

    def __init__(self, action: str, status: S, *, yours: list[Act] | None = None) -> None:
        self.action, self.status = action, status
        self.allowed = sorted_actions(actions_from(status))
        self.yours = yours
        # The words are made per reader (hub.tickets.words): the action, the state and
        # the actions as the buttons say them; the codes stay on the exception.
        params: dict[str, object] = {
            "action": partial(words.action_label, action),
            "status": partial(words.status_label, status),
            "allowed": partial(_actions_said, self.allowed),
        }
        if yours is None:
            message = N_("cannot “%(action)s” a ticket that is “%(status)s”; allowed: %(allowed)s")
        else:
            message = N_(
                "cannot “%(action)s” a ticket that is “%(status)s”; allowed: %(allowed)s "
                "(yours: %(yours)s)"
            )
            params["yours"] = partial(_actions_said, yours)
        super().__init__(message, **params)


def _actions_said(actions: list[Act], tag: str) -> str:
    if not actions:
        return pgettext(tag, "ticket action", "none")
    return pgettext(tag, "list separator", ", ").join(words.action_label(a, tag) for a in actions)


def transition_for(action: str) -> Transition:
    try:
        return BY_ACTION[action]
    except KeyError:
        raise UnknownAction(action) from None


def sorted_actions(actions: set[Act] | frozenset[Act]) -> list[Act]:
    """Actions in the table's (workflow) order."""
    return [a for a in ACTIONS if a in actions]


def actions_from(status: S) -> set[Act]:
    """Every action the table allows from a state, by anyone."""
    return {t.action for t in TRANSITIONS if status in t.sources}


def allowed(action: str, status: S, role: Role) -> bool:
    """Whether a role may take an action from a state (ownership is checked separately)."""
    t = BY_ACTION.get(action)
    return t is not None and status in t.sources and role in t.roles


def apply(status: S, action: str) -> S:
    """The state an action leads to; raises for an unknown action or an illegal move."""
    t = transition_for(action)
    if status not in t.sources:
        raise IllegalTransition(action, status)
    return t.target


def available(status: S, role: Role, *, is_assignee: bool, in_household: bool) -> list[Act]:
    """The actions a caller may take now, in workflow order."""
    owns = {Owner.ANY: True, Owner.ASSIGNEE: is_assignee, Owner.HOUSEHOLD: in_household}
    return [
        t.action for t in TRANSITIONS if status in t.sources and role in t.roles and owns[t.owner]
    ]


def _input(name: Input) -> ActionInput:
    """How a page asks for an input: the field to show and the limits the API checks."""
    if name is Input.ASSIGNEE_ID:
        return ActionInput(name=name, kind=InputKind.USER)
    if name is Input.NEW_DUE_AT:
        return ActionInput(name=name, kind=InputKind.FUTURE_TIME)
    if name is Input.SCORE:
        return ActionInput(name=name, kind=InputKind.SCORE, minimum=MIN_SCORE, maximum=MAX_SCORE)
    if name is Input.DISPOSITION:
        choices = [InputChoice(value=d.value) for d in Disposition]
        return ActionInput(name=name, kind=InputKind.CHOICE, choices=choices)
    return ActionInput(name=name, kind=InputKind.TEXT, max_length=TEXT_MAX)


def offers(
    status: S, role: Role, *, is_assignee: bool, in_household: bool, alarm: bool = False
) -> list[ActionOffer]:
    """The actions a caller may take now, each with its target and the inputs it needs
    (``alarm``: the ticket was opened from an alarm, which needs its disposition)."""
    mine = available(status, role, is_assignee=is_assignee, in_household=in_household)
    return [
        ActionOffer(
            action=a,
            target=BY_ACTION[a].target,
            inputs=[_input(i) for i in Input if i in BY_ACTION[a].needs(alarm=alarm)],
        )
        for a in mine
    ]


def successors(status: S) -> set[S]:
    return {t.target for t in TRANSITIONS if status in t.sources}


def reachable(start: S = INITIAL) -> set[S]:
    """Every state some sequence of actions can lead to from ``start`` (BFS)."""
    seen, queue = {start}, deque([start])
    while queue:
        for nxt in successors(queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def terminal_states() -> set[S]:
    return {s for s in S if not actions_from(s)}
