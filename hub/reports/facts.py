"""What an alert or a ticket (its row and its audit trail) says about a moment.

Pure: the rows come from ``hub.reports.data``; nothing here touches storage.
The audit trail (``ticket_log``) is the record of when a ticket changed state,
so a report about a past day sees each ticket as it was then, not as it is now.

Definitions the reports rely on:

- responded: the ticket first reached ``accepted`` or any later working state;
- closed: ``tickets.closed_at`` if set, else the first log entry into
  ``closed`` (or ``rated``, which only follows closed);
- response overdue: the timers flagged it (``response_overdue_at``), or the
  response came after ``response_due_at``, or it is past due with no response;
- resolve overdue: flagged (``resolve_overdue_at``), or closed after
  ``resolve_due_at``, or past due and not closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.tickets.models import TicketStatus as S

CLOSED_STATES = frozenset({S.CLOSED.value, S.RATED.value})
# Someone took the ticket on: every state from accepted onwards (not a return).
RESPONDED_STATES = frozenset(
    {
        S.ACCEPTED.value,
        S.IN_PROGRESS.value,
        S.EXTENSION_REQUESTED.value,
        S.RESOLVED.value,
        S.VERIFIED.value,
        S.CLOSED.value,
        S.RATED.value,
    }
)


@dataclass(frozen=True)
class AlertFact:
    id: int
    kind: str
    severity: str
    opened_at: datetime
    silent: bool
    grid_id: int | None


@dataclass(frozen=True)
class LogStep:
    at: datetime
    action: str
    to_status: str | None


@dataclass(frozen=True)
class TicketFact:
    id: int
    title: str
    category: str
    status: str  # now
    level: str
    confidential: bool
    grid_id: int | None
    grid_name: str | None
    assignee_id: int | None
    assignee_name: str | None
    created_at: datetime
    updated_at: datetime
    response_due_at: datetime | None
    resolve_due_at: datetime | None
    response_overdue_at: datetime | None
    resolve_overdue_at: datetime | None
    closed_at_column: datetime | None
    rating: int | None
    log: tuple[LogStep, ...] = ()  # in order

    def _first(self, states: frozenset[str]) -> datetime | None:
        return next((e.at for e in self.log if e.to_status in states), None)

    @property
    def closed_at(self) -> datetime | None:
        if self.closed_at_column is not None:
            return self.closed_at_column
        logged = self._first(CLOSED_STATES)
        if logged is not None:
            return logged
        # A closed ticket with neither: its last change is the best evidence there is.
        return self.updated_at if self.status in CLOSED_STATES else None

    @property
    def responded_at(self) -> datetime | None:
        logged = self._first(RESPONDED_STATES)
        if logged is None and self.status in RESPONDED_STATES and not self.log:
            return self.updated_at
        return logged

    @property
    def accepted_at(self) -> datetime | None:
        """The first time a volunteer took the ticket (the 'accept' action)."""
        accepted = next(
            (e.at for e in self.log if e.action == "accept" or e.to_status == S.ACCEPTED.value),
            None,
        )
        return accepted or self.responded_at

    @property
    def rated_at(self) -> datetime | None:
        if self.rating is None:
            return None
        return self._first(frozenset({S.RATED.value})) or self.closed_at

    def exists_at(self, at: datetime) -> bool:
        return self.created_at <= at

    def closed_by(self, at: datetime) -> bool:
        closed = self.closed_at
        return closed is not None and closed <= at

    def state_at(self, at: datetime) -> str:
        """The ticket's state at an instant, from its audit trail."""
        state: str | None = None
        for entry in self.log:
            if entry.at > at:
                break
            if entry.to_status is not None:
                state = entry.to_status
        closed = self.closed_by(at)
        if state is None and not self.log:
            # No audit trail (rows written by hand): the current state, if it held then.
            state = self.status if closed or self.status not in CLOSED_STATES else None
        if closed and state not in CLOSED_STATES:
            return S.CLOSED.value
        return state or S.REGISTERED.value

    def open_at(self, at: datetime) -> bool:
        return self.exists_at(at) and not self.closed_by(at)

    def time_to_close(self) -> timedelta | None:
        closed = self.closed_at
        return None if closed is None else max(closed - self.created_at, timedelta(0))

    def time_to_accept(self) -> timedelta | None:
        accepted = self.accepted_at
        return None if accepted is None else max(accepted - self.created_at, timedelta(0))


@dataclass(frozen=True)
class Lateness:
    """How late a ticket was against one deadline, as of a moment."""

    late_by: timedelta
    ongoing: bool  # the deadline is still not met


@dataclass(frozen=True)
class Overdue:
    ticket: TicketFact
    response: Lateness | None
    resolve: Lateness | None

    @property
    def late_by(self) -> timedelta:
        return max(x.late_by for x in (self.response, self.resolve) if x is not None)


def _lateness(
    due: datetime | None, met_at: datetime | None, flagged_at: datetime | None, as_of: datetime
) -> Lateness | None:
    met = met_at if met_at is not None and met_at <= as_of else None
    flagged = flagged_at is not None and flagged_at <= as_of
    if due is None:
        # Flagged by the timers without a due time on the row: late, by an unknown amount.
        return Lateness(timedelta(0), met is None) if flagged else None
    if met is not None:
        if met > due:
            return Lateness(met - due, False)
        return Lateness(timedelta(0), False) if flagged else None
    if as_of > due or flagged:
        return Lateness(max(as_of - due, timedelta(0)), True)
    return None


def overdue_as_of(ticket: TicketFact, as_of: datetime) -> Overdue | None:
    """The ticket's lateness against its response and resolve deadlines; None if on time."""
    if not ticket.exists_at(as_of):
        return None
    response = _lateness(
        ticket.response_due_at, ticket.responded_at, ticket.response_overdue_at, as_of
    )
    resolve = _lateness(ticket.resolve_due_at, ticket.closed_at, ticket.resolve_overdue_at, as_of)
    if response is None and resolve is None:
        return None
    return Overdue(ticket, response, resolve)


def supervised_overdue(
    tickets: list[TicketFact], start: datetime, as_of: datetime
) -> list[Overdue]:
    """Late tickets worth a supervisor's eye for a window: still open at its end, or
    closed within it, and late on either deadline; the latest first."""
    found = []
    for ticket in tickets:
        closed = ticket.closed_at
        relevant = ticket.open_at(as_of) or (closed is not None and start <= closed <= as_of)
        if not relevant:
            continue
        late = overdue_as_of(ticket, as_of)
        if late is not None:
            found.append(late)
    found.sort(key=lambda o: (-o.late_by.total_seconds(), o.ticket.id))
    return found


def mean_and_max(values: list[timedelta]) -> tuple[float | None, float | None]:
    """Seconds; (None, None) for no values."""
    if not values:
        return None, None
    seconds = [v.total_seconds() for v in values]
    return sum(seconds) / len(seconds), max(seconds)
