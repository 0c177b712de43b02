"""Is this hub doing its job? One verdict, ok, degraded or failing, with its reasons.

``evaluate`` is pure: what the hub's parts report and the time (monotonic
seconds, as their stats keep it) in, a verdict out, so every state is tested
without time passing. ``HealthMonitor`` gathers those inputs: it asks the
database, reads the parts' figures and remembers the few things they do not
keep (since when messages wait, when events were last set aside).

What each state asks of whoever watches (docs/deployment.md):

- ok: nothing.
- degraded: the hub does its job with a fault a person should look at (broker
  link down, timers failing, events set aside, commits failing for a moment).
  Ready: a load balancer keeps sending people's requests.
- failing: the hub cannot do its job (database unreachable, commits failing,
  ingest stalled). Not ready (503).
- ``restart``: only when restarting this process is the cure: messages wait and
  nothing commits for long, while the database answers and no commit is seen
  failing (a wedged worker). Liveness fails (503) then and only then: restarting
  a hub whose database is down would only add a restart loop to the outage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

import sqlalchemy as sa

from hub.settings import HealthSettings
from hub.storage.db import Database


class State(IntEnum):
    # The values are the Prometheus gauge's (chub_health_state).
    OK = 0
    DEGRADED = 1
    FAILING = 2

    @property
    def label(self) -> str:
        return self.name.lower()


DATABASE_UNREACHABLE: Final = "database_unreachable"
INGEST_COMMITS_FAILING: Final = "ingest_commits_failing"
INGEST_STALLED: Final = "ingest_stalled"
EVENTS_SET_ASIDE: Final = "events_set_aside"
TIMERS_FAILING: Final = "timers_failing"
BROKER_DOWN: Final = "broker_down"
# Every reason code, so that a metric has a series (0) for each from the start.
REASONS: Final = (
    DATABASE_UNREACHABLE,
    INGEST_COMMITS_FAILING,
    INGEST_STALLED,
    EVENTS_SET_ASIDE,
    TIMERS_FAILING,
    BROKER_DOWN,
)


@dataclass(frozen=True)
class Thresholds:
    commits_failing_s: float = 10.0  # failing commits: degraded at once, failing after this
    stall_s: float = 30.0  # messages waiting with no commit this long: failing
    restart_after_s: float = 300.0  # ... this long: liveness fails (see the module's doc)
    set_aside_s: float = 900.0  # degraded this long after events were set aside

    @classmethod
    def from_settings(cls, health: HealthSettings) -> Thresholds:
        return cls(
            commits_failing_s=health.commits_failing_s,
            stall_s=health.ingest_stall_s,
            restart_after_s=health.restart_after_s,
            set_aside_s=health.set_aside_s,
        )


@dataclass(frozen=True)
class Inputs:
    """What the parts report; times are monotonic seconds, None when it never happened."""

    database_ok: bool
    database_error: str | None = None
    # None where this process has no broker link (an API without a hub).
    broker_connected: bool | None = None
    pending_since: float | None = None  # messages have waited, without a pause, since
    last_commit_at: float | None = None
    commits_failing_since: float | None = None
    set_aside_at: float | None = None  # the last time events were seen set aside
    timers_failing_since: float | None = None


@dataclass(frozen=True)
class Reason:
    code: str
    state: State
    detail: str


@dataclass(frozen=True)
class Verdict:
    state: State
    reasons: tuple[Reason, ...] = ()
    restart: bool = False  # liveness: a restart of this process is the cure

    @property
    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]


OK: Final = Verdict(State.OK)


def evaluate(inputs: Inputs, thresholds: Thresholds, now: float) -> Verdict:
    reasons: list[Reason] = []
    if not inputs.database_ok:
        error = f": {inputs.database_error}" if inputs.database_error else ""
        reasons.append(Reason(DATABASE_UNREACHABLE, State.FAILING, f"SELECT 1 failed{error}"))
    failing = inputs.commits_failing_since
    if failing is not None:
        seconds = now - failing
        state = State.FAILING if seconds >= thresholds.commits_failing_s else State.DEGRADED
        reasons.append(
            Reason(INGEST_COMMITS_FAILING, state, f"ingest commits failing for {seconds:.0f} s")
        )
    stalled_s = _stalled_for(inputs, now)
    if stalled_s is not None and stalled_s >= thresholds.stall_s:
        reasons.append(
            Reason(
                INGEST_STALLED,
                State.FAILING,
                f"messages waiting and nothing committed for {stalled_s:.0f} s",
            )
        )
    if inputs.set_aside_at is not None and now - inputs.set_aside_at < thresholds.set_aside_s:
        ago = now - inputs.set_aside_at
        reasons.append(
            Reason(
                EVENTS_SET_ASIDE,
                State.DEGRADED,
                f"events that could not be stored were set aside as dead letters {ago:.0f} s ago",
            )
        )
    if inputs.timers_failing_since is not None:
        seconds = now - inputs.timers_failing_since
        reasons.append(
            Reason(TIMERS_FAILING, State.DEGRADED, f"stored timers failing for {seconds:.0f} s")
        )
    if inputs.broker_connected is False:
        reasons.append(Reason(BROKER_DOWN, State.DEGRADED, "not connected to the MQTT broker"))
    state = max((reason.state for reason in reasons), default=State.OK)
    restart = (
        stalled_s is not None
        and stalled_s >= thresholds.restart_after_s
        and inputs.database_ok
        and failing is None
    )
    return Verdict(state, tuple(reasons), restart)


def _stalled_for(inputs: Inputs, now: float) -> float | None:
    """How long messages have waited with no commit; None when none wait."""
    if inputs.pending_since is None:
        return None
    since = inputs.pending_since
    if inputs.last_commit_at is not None:
        since = max(since, inputs.last_commit_at)
    return max(0.0, now - since)


@dataclass(frozen=True)
class Observed:
    """The parts' figures at one moment (the runtime reads them from its parts)."""

    broker_connected: bool | None = None
    pending: int = 0
    last_commit_at: float | None = None
    commits_failing_since: float | None = None
    set_aside: int = 0  # events set aside so far (a counter)
    timers_failing_since: float | None = None


@dataclass
class _Memory:
    pending_since: float | None = None
    set_aside: int = 0
    set_aside_at: float | None = None


@dataclass
class HealthMonitor:
    """Checks health on demand (a probe, a scrape, the dashboard) and keeps the last verdict.

    What it remembers between checks is seen at check time: messages found waiting
    at one check and still at the next have waited at least since the first.
    Probes come every few seconds, so that is close enough for thresholds of tens
    of seconds.
    """

    db: Database
    thresholds: Thresholds = field(default_factory=Thresholds)
    observe: Callable[[], Observed] = Observed
    clock: Callable[[], float] = time.monotonic
    database_timeout_s: float = 2.0
    last: Verdict = OK
    _memory: _Memory = field(default_factory=_Memory)

    async def check(self) -> Verdict:
        error = await self._database_error()
        now = self.clock()
        observed = self.observe()
        memory = self._memory
        if observed.pending <= 0:
            memory.pending_since = None
        elif memory.pending_since is None:
            memory.pending_since = now
        if observed.set_aside > memory.set_aside:
            memory.set_aside_at = now
        memory.set_aside = observed.set_aside
        inputs = Inputs(
            database_ok=error is None,
            database_error=error,
            broker_connected=observed.broker_connected,
            pending_since=memory.pending_since,
            last_commit_at=observed.last_commit_at,
            commits_failing_since=observed.commits_failing_since,
            set_aside_at=memory.set_aside_at,
            timers_failing_since=observed.timers_failing_since,
        )
        self.last = evaluate(inputs, self.thresholds, now)
        return self.last

    async def _database_error(self) -> str | None:
        try:
            async with asyncio.timeout(self.database_timeout_s):
                async with self.db.read() as conn:
                    await conn.execute(sa.text("SELECT 1"))
        except TimeoutError:
            return f"no answer in {self.database_timeout_s:g} s"
        except Exception as exc:  # report, never raise: this is what says the hub is broken
            return type(exc).__name__
        return None
