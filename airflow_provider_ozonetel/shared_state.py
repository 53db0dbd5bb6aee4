"""Small shared values that tasks coordinate through, and the claim-and-verify write. Pure.

Airflow gives tasks no atomic counter. What every task of a deployment can reach is a
key-value store (Airflow Variables, through the Task SDK on 3.x and the metadata database on
2.x), with last-writer-wins writes. ``claim_and_verify`` turns that into a claim that holds:
read, change, write, wait ``settle`` seconds, read again, and keep the claim only if it is still
there. A concurrent writer that overwrote it makes this requester try again (never both win),
as long as every writer's read-to-write gap is shorter than ``settle`` (a writer that read before
our write and wrote after our check would have to take longer than that). The gap is measured
on every claim and logged at WARNING when it exceeds ``settle``.

The rate budget (``budget.py``) and the token lease (``hooks/tokens.py``) are built on it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from airflow_provider_ozonetel.pacing import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Claims given up on after this many lost races in a row (each retry is jittered).
MAX_ATTEMPTS = 25


class SharedStore(Protocol):
    """A string per key, shared by whoever must coordinate.

    ``atomic`` stores (one process) make read-change-write exact under the process lock, so
    claims need no settle time; others (Airflow Variables) need claim-and-verify.
    """

    name: str
    atomic: bool

    def read(self, key: str) -> str | None: ...

    def write(self, key: str, value: str, description: str | None = None) -> None: ...


class MemoryStore:
    """Process-local values: exact for every hook of this process, invisible to other processes.

    Bounded (``MAX_KEYS``, least recently used first out): outside tasks the process can be a
    long-lived one (the API server's Test button touches the budget of every tested account).
    An account uses three keys (its token, two budgets), so only an account unused while
    hundreds of others were used loses its process-local token and budget.
    """

    name = "this process"
    atomic = True
    MAX_KEYS = 1024
    _values: OrderedDict[str, str] = OrderedDict()
    _guard = threading.Lock()

    def read(self, key: str) -> str | None:
        with self._guard:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def write(self, key: str, value: str, description: str | None = None) -> None:
        with self._guard:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.MAX_KEYS:
                self._values.popitem(last=False)

    @classmethod
    def clear(cls) -> None:
        with cls._guard:
            cls._values.clear()


class ClaimLost(Exception):
    """Every attempt to claim was overwritten by a concurrent writer."""


@dataclass(frozen=True)
class Claimed(Generic[T]):
    """What a claim wrote and kept, and what it cost."""

    value: T
    #: Seconds from this requester's read to the end of its write (0 for atomic stores).
    gap: float
    #: Attempts lost to concurrent writers before this one held.
    lost: int


#: The locks in use, with how many threads use each: a lock leaves when its last user does, so
#: the registry holds only what is in use (a long-lived process touches many accounts' keys).
_locks: dict[tuple[str, str], list[Any]] = {}
_locks_guard = threading.Lock()


@contextlib.contextmanager
def process_lock(store: SharedStore, key: str) -> Iterator[None]:
    """One lock per store and key in this process: hooks of one process never race each other."""
    name = (store.name, key)
    with _locks_guard:
        entry = _locks.setdefault(name, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _locks_guard:
            entry[1] -= 1
            if entry[1] == 0:
                del _locks[name]


class Claim(Generic[T]):
    """One attempt at a claim, in its three steps (tests interleave the steps of several)."""

    def __init__(
        self,
        store: SharedStore,
        key: str,
        propose: Callable[[str | None, float], tuple[str, T] | None],
        holds: Callable[[str | None, T], bool],
        *,
        clock: Clock,
        description: str | None = None,
    ) -> None:
        self.store = store
        self.key = key
        self._propose = propose
        self._holds = holds
        self.clock = clock
        self.description = description
        self.value: T | None = None
        self.gap = 0.0
        self._proposal: tuple[str, T] | None = None
        self._started = 0.0

    def read(self) -> bool:
        """Read and decide what to write; False when there is nothing to claim."""
        self._started = self.clock.wall()
        self._proposal = self._propose(self.store.read(self.key), self._started)
        return self._proposal is not None

    def write(self) -> None:
        assert self._proposal is not None
        new_value, self.value = self._proposal
        self.store.write(self.key, new_value, self.description)
        self.gap = self.clock.wall() - self._started

    def check(self) -> bool:
        """Whether a read now still shows the claim."""
        return self._holds(self.store.read(self.key), self.value)  # type: ignore[arg-type]


def claim_and_verify(
    store: SharedStore,
    key: str,
    propose: Callable[[str | None, float], tuple[str, T] | None],
    holds: Callable[[str | None, T], bool],
    *,
    clock: Clock,
    settle: float,
    description: str | None = None,
    rng: random.Random | None = None,
) -> Claimed[T] | None:
    """Claim something in ``store[key]`` so that no concurrent claimer also gets it.

    ``propose(current, now)`` returns the new stored value and what was claimed, or None when
    there is nothing to write (then None is returned). ``holds(stored, claim)`` says whether a
    later read still shows the claim.
    """
    rng = rng or random.Random()
    with process_lock(store, key):
        for lost in range(MAX_ATTEMPTS):
            claim = Claim(store, key, propose, holds, clock=clock, description=description)
            if not claim.read():
                return None
            claim.write()
            if store.atomic:
                return Claimed(claim.value, 0.0, lost)  # type: ignore[arg-type]
            clock.sleep(settle)
            if claim.check():
                if claim.gap > settle:
                    log.warning(
                        "Writing %s in %s took %.2f s, longer than the settle time (%.2f s): a concurrent "
                        "claim may have been overwritten; raise the settle time if this repeats",
                        key,
                        store.name,
                        claim.gap,
                        settle,
                    )
                return Claimed(claim.value, claim.gap, lost)  # type: ignore[arg-type]
            log.debug("Claim on %s lost to a concurrent writer; retrying", key)
            clock.sleep(rng.uniform(0, settle))  # jittered, so racing claimers fall apart
    raise ClaimLost(f"{key}: {MAX_ATTEMPTS} claims in a row were overwritten by concurrent writers")
