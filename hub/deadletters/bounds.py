"""How much room dead letters may take: per gateway and in total, per window of time.

A broken or hostile device sends garbage as fast as its link allows, and every
piece becomes a dead letter. Unbounded, one such device fills the disk and
slows every transaction that stores its letters, alarms included. So within
each window (an hour by default):

- each gateway may store ``per_gateway_letters`` letters and ``per_gateway_bytes``;
  past that, one letter in ``sample_every`` is still stored (marked as a sample,
  so a new kind of fault later in the hour is still seen) and the rest are
  counted, not stored;
- all gateways together may store ``total_letters`` and ``total_bytes``; past
  that nothing more is stored until the window ends, only counted;
- a letter's raw bytes are cut to ``raw_max_bytes``, its reason saying how many
  there were.

The tallies live in this process. Several hubs sharing one PostgreSQL each keep
their own, so together they may store up to (number of hubs) times the bound:
an approximation that costs no query on the ingest's path.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Final
from uuid import UUID

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeadLetter
from hub.settings import DeadLetterSettings
from hub.storage.db import Database

_REASON_MAX: Final = 1000  # the column's length
# Decisions remembered by letter id, so a batch whose transaction failed and is
# stored again (or a letter the edge resends) is neither counted twice nor
# decided differently the second time.
_REMEMBERED: Final = 20_000


class DropReason(StrEnum):
    GATEWAY_BOUND = "gateway_bound"  # over its gateway's bound and not one of the samples
    TOTAL_BOUND = "total_bound"  # over the bound of all gateways together


class _Decision(Enum):
    KEEP = "keep"
    SAMPLE = "sample"
    DROP_GATEWAY = "drop_gateway"
    DROP_TOTAL = "drop_total"


@dataclass(frozen=True)
class Limits:
    per_gateway_letters: int = 1000
    per_gateway_bytes: int = 10 * 1024 * 1024
    total_letters: int = 10_000
    total_bytes: int = 100 * 1024 * 1024
    raw_max_bytes: int = 64 * 1024
    sample_every: int = 100
    window_s: float = 3600.0

    @classmethod
    def from_settings(cls, dead_letters: DeadLetterSettings) -> Limits:
        return cls(
            per_gateway_letters=dead_letters.per_gateway,
            per_gateway_bytes=dead_letters.bytes_per_gateway,
            total_letters=dead_letters.total,
            total_bytes=dead_letters.bytes_total,
            raw_max_bytes=dead_letters.raw_max_bytes,
            sample_every=dead_letters.sample_every,
            window_s=dead_letters.window_s,
        )


@dataclass
class BoundStats:
    """Counted since the process started (Prometheus counters, the health body)."""

    dropped: dict[DropReason, int] = field(default_factory=lambda: dict.fromkeys(DropReason, 0))
    sampled: int = 0  # stored over a gateway's bound, as samples
    truncated: int = 0  # stored with their raw bytes cut

    def as_dict(self) -> dict[str, object]:
        return {
            "dropped": {reason.value: n for reason, n in self.dropped.items()},
            "sampled": self.sampled,
            "truncated": self.truncated,
        }


@dataclass
class _Tally:
    letters: int = 0
    bytes: int = 0
    over: int = 0  # letters seen past the bound this window


def _size(letter: DeadLetter) -> int:
    return len(letter.raw) + len(letter.reason) + len(letter.source)


def _with_note(letter: DeadLetter, note: str, **update: object) -> DeadLetter:
    reason = letter.reason[: _REASON_MAX - len(note)] + note
    return letter.model_copy(update={"reason": reason, **update})


class DeadLetterBounds:
    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.stats = BoundStats()
        self._window: int | None = None
        self._total = _Tally()
        self._gateways: dict[str, _Tally] = {}
        self._decided: OrderedDict[UUID, _Decision] = OrderedDict()

    def admit(self, letters: Sequence[DeadLetter], now: datetime) -> list[DeadLetter]:
        """The letters to store, truncated or marked as samples where the bounds say so."""
        window = int(now.timestamp() // self.limits.window_s)
        if window != self._window:  # a new window (or the clock went back): start over
            self._window, self._total, self._gateways = window, _Tally(), {}
        kept: list[DeadLetter] = []
        for letter in letters:
            letter, cut = self._truncated(letter)
            decision = self._decided.get(letter.dead_letter_id)
            if decision is None:
                decision = self._decide(letter)
                self._remember(letter.dead_letter_id, decision)
                if cut and decision in (_Decision.KEEP, _Decision.SAMPLE):
                    self.stats.truncated += 1
            else:
                self._decided.move_to_end(letter.dead_letter_id)
            if decision is _Decision.KEEP:
                kept.append(letter)
            elif decision is _Decision.SAMPLE:
                every = self.limits.sample_every
                kept.append(_with_note(letter, f" [sampled: 1 in {every} over the bound]"))
        return kept

    def _truncated(self, letter: DeadLetter) -> tuple[DeadLetter, bool]:
        limit = self.limits.raw_max_bytes
        if len(letter.raw) <= limit:
            return letter, False
        note = f" [raw truncated: {len(letter.raw)} bytes received, first {limit} kept]"
        return _with_note(letter, note, raw=letter.raw[:limit]), True

    def _decide(self, letter: DeadLetter) -> _Decision:
        limits, size = self.limits, _size(letter)
        total = self._total
        if total.letters >= limits.total_letters or total.bytes + size > limits.total_bytes:
            self.stats.dropped[DropReason.TOTAL_BOUND] += 1
            return _Decision.DROP_TOTAL
        # Only gateways that stored something this window get a tally, so their
        # number is bounded by total_letters even when the ids are made up.
        gateway = self._gateways.setdefault(letter.gateway_id, _Tally())
        within = (
            gateway.letters < limits.per_gateway_letters
            and gateway.bytes + size <= limits.per_gateway_bytes
        )
        if not within:
            gateway.over += 1
            if (gateway.over - 1) % limits.sample_every:
                self.stats.dropped[DropReason.GATEWAY_BOUND] += 1
                return _Decision.DROP_GATEWAY
            self.stats.sampled += 1
        else:
            gateway.letters += 1
            gateway.bytes += size
        total.letters += 1
        total.bytes += size
        return _Decision.KEEP if within else _Decision.SAMPLE

    def _remember(self, letter_id: UUID, decision: _Decision) -> None:
        self._decided[letter_id] = decision
        while len(self._decided) > _REMEMBERED:
            self._decided.popitem(last=False)


# The bounds of each database the process writes to, found from the connection
# ``store`` is given (its signature stays the ingest's). Several hubs in one
# process (tests, benchmarks) each have their own database, hence their own tallies.
_BY_ENGINE: weakref.WeakKeyDictionary[Engine, DeadLetterBounds] = weakref.WeakKeyDictionary()


def use_bounds(db: Database, bounds: DeadLetterBounds) -> None:
    """Apply ``bounds`` to the dead letters stored in ``db`` (the hub does, with its settings)."""
    for engine in (db.engine, db.write_engine):
        _BY_ENGINE[engine.sync_engine] = bounds


def bounds_for(conn: AsyncConnection) -> DeadLetterBounds:
    """The bounds for this connection's database: the defaults unless ``use_bounds`` said."""
    engine = conn.sync_engine
    found = _BY_ENGINE.get(engine)
    if found is None:
        found = _BY_ENGINE[engine] = DeadLetterBounds()
    return found
