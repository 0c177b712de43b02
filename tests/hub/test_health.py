"""The health verdict: each state from the parts' figures, with no time passing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from hub.health import (
    BROKER_DOWN,
    DATABASE_UNREACHABLE,
    EVENTS_SET_ASIDE,
    INGEST_COMMITS_FAILING,
    INGEST_STALLED,
    TIMERS_FAILING,
    HealthMonitor,
    Inputs,
    Observed,
    State,
    Thresholds,
    evaluate,
)
from hub.storage.db import Database

LIMITS = Thresholds(commits_failing_s=10, stall_s=30, restart_after_s=300, set_aside_s=900)
NOW = 10_000.0  # monotonic seconds
WELL = Inputs(database_ok=True, broker_connected=True, last_commit_at=NOW - 1)


def judge(**changes: object) -> tuple[State, list[str], bool]:
    verdict = evaluate(replace(WELL, **changes), LIMITS, NOW)
    return verdict.state, verdict.codes, verdict.restart


def test_a_hub_with_nothing_wrong_is_ok() -> None:
    assert judge() == (State.OK, [], False)
    # Idle for hours with nothing waiting is not a stall.
    assert judge(last_commit_at=NOW - 86_400) == (State.OK, [], False)
    # An API without a hub (no broker link to judge) is ok too.
    assert judge(broker_connected=None, last_commit_at=None) == (State.OK, [], False)


def test_a_database_that_does_not_answer_is_failing_but_no_restart_cures_it() -> None:
    assert judge(database_ok=False, database_error="ConnectionRefusedError") == (
        State.FAILING,
        [DATABASE_UNREACHABLE],
        False,
    )


def test_failing_commits_degrade_at_once_and_fail_past_the_threshold() -> None:
    assert judge(commits_failing_since=NOW - 2) == (State.DEGRADED, [INGEST_COMMITS_FAILING], False)
    assert judge(commits_failing_since=NOW - 10) == (State.FAILING, [INGEST_COMMITS_FAILING], False)


def test_messages_waiting_with_no_commit_are_a_stall() -> None:
    waiting = {"pending_since": NOW - 40, "last_commit_at": NOW - 45}
    assert judge(**waiting) == (State.FAILING, [INGEST_STALLED], False)
    # Waiting but committing: a busy hub, not a stalled one.
    assert judge(pending_since=NOW - 40, last_commit_at=NOW - 1) == (State.OK, [], False)
    # Long idle, and a message came just now: not yet a stall.
    assert judge(pending_since=NOW - 1, last_commit_at=NOW - 86_400)[0] is State.OK


def test_a_long_stall_with_the_database_answering_asks_for_a_restart() -> None:
    assert judge(pending_since=NOW - 301, last_commit_at=None) == (
        State.FAILING,
        [INGEST_STALLED],
        True,
    )
    # Commits seen failing, or the database down: a restart would not help.
    state, codes, restart = judge(
        pending_since=NOW - 301, last_commit_at=None, commits_failing_since=NOW - 300
    )
    assert (state, codes, restart) == (
        State.FAILING,
        [INGEST_COMMITS_FAILING, INGEST_STALLED],
        False,
    )
    assert judge(pending_since=NOW - 301, last_commit_at=None, database_ok=False)[2] is False


def test_events_set_aside_degrade_for_a_while() -> None:
    assert judge(set_aside_at=NOW - 60) == (State.DEGRADED, [EVENTS_SET_ASIDE], False)
    assert judge(set_aside_at=NOW - 900) == (State.OK, [], False)


def test_failing_timers_and_a_lost_broker_degrade() -> None:
    assert judge(timers_failing_since=NOW - 3600) == (State.DEGRADED, [TIMERS_FAILING], False)
    assert judge(broker_connected=False) == (State.DEGRADED, [BROKER_DOWN], False)


def test_the_worst_reason_decides_and_all_are_listed() -> None:
    state, codes, _ = judge(broker_connected=False, database_ok=False, set_aside_at=NOW)
    assert state is State.FAILING
    assert codes == [DATABASE_UNREACHABLE, EVENTS_SET_ASIDE, BROKER_DOWN]


# -- the monitor: what it remembers between checks, on a real database ----------------


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
    yield database
    await database.close()


class Parts:
    def __init__(self) -> None:
        self.now = 1000.0
        self.seen = Observed(broker_connected=True, last_commit_at=999.0)

    def clock(self) -> float:
        return self.now

    def observe(self) -> Observed:
        return self.seen


async def test_the_monitor_measures_a_stall_from_when_it_first_saw_messages_waiting(
    db: Database,
) -> None:
    parts = Parts()
    health = HealthMonitor(db, LIMITS, parts.observe, parts.clock)
    assert (await health.check()).state is State.OK

    parts.now = 5000.0  # idle for an hour, then messages wait
    parts.seen = replace(parts.seen, pending=3)
    assert (await health.check()).state is State.OK
    parts.now += 31
    verdict = await health.check()
    assert (verdict.state, verdict.codes) == (State.FAILING, [INGEST_STALLED])
    assert health.last == verdict

    parts.seen = replace(parts.seen, pending=0, last_commit_at=parts.now)  # drained
    assert (await health.check()).state is State.OK


async def test_the_monitor_notices_events_set_aside(db: Database) -> None:
    parts = Parts()
    health = HealthMonitor(db, LIMITS, parts.observe, parts.clock)
    assert (await health.check()).state is State.OK
    parts.seen = replace(parts.seen, set_aside=2)
    assert (await health.check()).codes == [EVENTS_SET_ASIDE]
    parts.now += 901
    assert (await health.check()).state is State.OK


async def test_the_monitor_reports_a_database_it_cannot_reach() -> None:
    unreachable = Database.open("postgresql+asyncpg://hub@127.0.0.1:9/hub")
    try:
        verdict = await HealthMonitor(unreachable, LIMITS, database_timeout_s=5).check()
    finally:
        await unreachable.close()
    assert (verdict.state, verdict.codes) == (State.FAILING, [DATABASE_UNREACHABLE])
    assert "failed" in verdict.reasons[0].detail
