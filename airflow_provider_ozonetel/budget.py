"""One rate budget per account and endpoint, shared by every task, hook, process and machine. Pure.

The vendor allows 2 fetchCDRDetails and 50 CallBacks requests a minute per account. The budget
is a short list of *grants* (a wall-clock start time and an id), kept in a shared store
(``shared_state.py``: an Airflow Variable inside tasks, the process outside them). A requester
reads the list, picks the earliest start that keeps at most ``limit`` starts in every ``period``
(the vendor's window plus a margin), appends its grant, and keeps it only if a re-read after the
settle time still shows it (claim-and-verify). Grants are wall-clock times because machines
share the wall clock, not a monotonic one.

Guarantee: with every writer's read-to-write gap under the settle time and machine clocks within
the window margin of each other (NTP keeps them within milliseconds), the confirmed grants of all
requesters keep every ``period`` at or under ``limit``. Beyond that (a stalled metadata database,
an unsynchronized clock, another client of the account outside Airflow) the vendor's rate-limit
answer is the fallback: the transport marks the window full here and waits, jittered, within its
time budget.
"""

from __future__ import annotations

import bisect
import json
import logging
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from airflow_provider_ozonetel.pacing import Clock
from airflow_provider_ozonetel.shared_state import Claim, SharedStore, claim_and_verify, process_lock

log = logging.getLogger(__name__)

#: Id of the grants that stand for the vendor's "rate limit exceeded" (the window is full).
VENDOR_FULL = "vendor-said-full"
_FORMAT = 1
#: Float slack (seconds) when comparing a start with a window edge.
_EPSILON = 1e-6


@dataclass(frozen=True, order=True)
class Grant:
    """The right to start one request at ``at`` (wall-clock epoch seconds)."""

    at: float
    id: str


@dataclass(frozen=True)
class Reservation:
    """Grants confirmed for one requester, and what it saw while reserving."""

    grants: tuple[Grant, ...]
    #: Grants of other requesters (other hooks, tasks, machines) in the budget at the time: their
    #: requests in the last window and ahead of ours, i.e. how crowded the account was.
    competing: int = 0
    #: Claims lost to concurrent writers before this one held.
    lost: int = 0

    @property
    def first_at(self) -> float:
        return self.grants[0].at

    def as_dict(self) -> dict:
        """JSON-ready, to carry a reservation across a deferral."""
        return {"grants": [[g.at, g.id] for g in self.grants], "competing": self.competing}

    @classmethod
    def from_dict(cls, data: dict) -> Reservation:
        return cls(tuple(Grant(float(at), str(gid)) for at, gid in data["grants"]), int(data["competing"]))


def earliest_start(starts: Sequence[float], not_before: float, limit: int, period: float) -> float:
    """The earliest time >= ``not_before`` that can be added to ``starts`` (sorted) while every
    half-open window ``[a, a + period)`` keeps at most ``limit`` starts.

    Adding ``t`` is possible iff every window containing ``t`` holds fewer than ``limit`` others;
    the fullest such window begins at ``t`` itself or at a start in ``(t - period, t]``. A time
    only becomes possible when an earlier start leaves its window, so the candidates are
    ``not_before`` and each ``start + period`` after it.
    """
    candidates = [not_before, *(s + period for s in starts if s + period > not_before)]
    for t in sorted(candidates):
        if _fits(starts, t, limit, period):
            return t
    raise AssertionError("unreachable: the last candidate is past every start's window")


def _fits(starts: Sequence[float], t: float, limit: int, period: float) -> bool:
    lo = bisect.bisect_right(starts, t - period + _EPSILON)
    hi = bisect.bisect_right(starts, t)
    # The window beginning at t, then those beginning at each start in (t - period, t].
    for begin in (t, *starts[lo:hi]):
        # Counting up to just before the window's end errs towards "full" by a microsecond.
        inside = bisect.bisect_left(starts, begin + period - _EPSILON) - bisect.bisect_left(starts, begin)
        if inside + 1 > limit:
            return False
    return True


def load(raw: str | None) -> list[Grant]:
    """The grants in a stored value; an unreadable value counts as empty (and is rewritten)."""
    if not raw:
        return []
    try:
        data = json.loads(raw)
        return sorted(Grant(float(at), str(gid)) for at, gid in data["grants"])
    except (ValueError, KeyError, TypeError):
        log.warning("Ignoring an unreadable rate budget; it is rewritten on the next reservation")
        return []


def dump(grants: Iterable[Grant]) -> str:
    return json.dumps({"v": _FORMAT, "grants": [[g.at, g.id] for g in sorted(grants)]})


@dataclass
class RateBudget:
    """The requests of one account to one endpoint: at most ``limit`` starts in any ``period``.

    :param key: the store key (one per account and endpoint).
    :param settle: seconds between writing a claim and checking it (shared stores only).
    """

    store: SharedStore
    key: str
    limit: int
    period: float
    clock: Clock = field(default_factory=Clock)
    settle: float = 1.0
    description: str | None = None
    rng: random.Random = field(default_factory=random.Random)
    #: The longest read-to-write gap seen so far: grants start at least this much after the
    #: claim is checked, so a request never leaves later than its grant says.
    _gap: float = field(default=0.05, init=False)
    #: Ids of this object's grants still in their window (not "competing").
    _mine: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period <= 0:
            raise ValueError(f"{self.key}: limit must be >= 1 and period > 0")

    @property
    def lead(self) -> float:
        """How far ahead of now the earliest grant lies: the claim's settle time and re-read."""
        return 0.0 if self.store.atomic else self.settle + 2 * self._gap

    def reserve(self, count: int = 1, *, not_before: float | None = None) -> Reservation:
        """Claim the ``count`` earliest free starts at or after ``not_before`` (default: now)."""
        seen: dict[str, int] = {}
        propose = self._proposer(count, not_before, seen)
        claimed = claim_and_verify(
            self.store,
            self.key,
            propose,
            holds_all,
            clock=self.clock,
            settle=self.settle,
            description=self.description,
            rng=self.rng,
        )
        assert claimed is not None  # a reservation always writes
        self._gap = max(self._gap, claimed.gap)
        self._mine.update(g.id for g in claimed.value)
        return Reservation(claimed.value, seen["competing"], claimed.lost)

    def claim(self, count: int = 1, *, not_before: float | None = None) -> Claim[tuple[Grant, ...]]:
        """One unstarted claim attempt (``read``, ``write``, ``check``), for tests of interleavings."""
        propose = self._proposer(count, not_before, {})
        return Claim(self.store, self.key, propose, holds_all, clock=self.clock, description=self.description)

    def _proposer(self, count: int, not_before: float | None, seen: dict[str, int]):
        if count < 1:
            raise ValueError("count must be >= 1")

        def propose(raw: str | None, now: float) -> tuple[str, tuple[Grant, ...]]:
            grants = self._live(load(raw), now)
            starts = [g.at for g in grants]
            self._mine &= {g.id for g in grants}
            seen["competing"] = sum(1 for g in grants if g.id not in self._mine and not _vendor(g))
            begin = max(now + self.lead, not_before or now)
            mine = []
            for _ in range(count):
                begin = earliest_start(starts, begin, self.limit, self.period)
                bisect.insort(starts, begin)
                mine.append(Grant(begin, uuid.uuid4().hex[:16]))
            return dump([*grants, *mine]), tuple(mine)

        return propose

    def release(self, grants: Iterable[Grant]) -> None:
        """Give back grants that will not be used (still in the future), so others can take them."""
        ids = {g.id for g in grants}

        def propose(raw: str | None, now: float) -> tuple[str, None] | None:
            current = load(raw)
            kept = [g for g in current if g.id not in ids or g.at <= now]
            if len(kept) == len(current):
                return None
            return dump(self._live(kept, now)), None

        self._write_once(propose)

    def mark_full(self) -> None:
        """The vendor answered "rate limit": nobody starts until a whole window from now."""

        def propose(raw: str | None, now: float) -> tuple[str, None]:
            full = [Grant(now, f"{VENDOR_FULL}-{n}") for n in range(self.limit)]
            return dump([*self._live(load(raw), now), *full]), None

        self._write_once(propose)

    def holds(self, grant: Grant) -> bool:
        """Whether ``grant`` is still in the budget (say, after a deferral)."""
        return any(g.id == grant.id for g in load(self.store.read(self.key)))

    def _live(self, grants: Iterable[Grant], now: float) -> list[Grant]:
        """Grants that still count: those whose window has not ended."""
        return sorted(g for g in grants if g.at > now - self.period)

    def _write_once(self, propose) -> None:
        """A best-effort change (no verify): losing it to a concurrent writer only costs throughput
        (a released grant stays taken) or waits on the vendor's answer (a lost mark_full)."""
        with process_lock(self.store, self.key):
            proposal = propose(self.store.read(self.key), self.clock.wall())
            if proposal is not None:
                self.store.write(self.key, proposal[0], self.description)


def _vendor(grant: Grant) -> bool:
    return grant.id.startswith(VENDOR_FULL)


def holds_all(raw: str | None, mine: tuple[Grant, ...]) -> bool:
    ids = {g.id for g in load(raw)}
    return all(g.id in ids for g in mine)
