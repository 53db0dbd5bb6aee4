"""Client-side pacing under the vendor's per-minute limits. Pure: no Airflow import."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)
_TOLERANCE = 1e-6


@dataclass
class Clock:
    """Monotonic time and sleep, injectable so tests control time without sleeping."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class SlidingWindowLimiter:
    """At most ``limit`` starts in any ``period`` seconds (a sliding window).

    ``acquire`` blocks (sleeping on the clock) until a request may start, then
    records it. Waits are logged at INFO with their reason.
    """

    name: str
    limit: int
    period: float = 60.0
    clock: Clock = field(default_factory=Clock)
    _starts: deque[float] = field(default_factory=deque, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period <= 0:
            raise ValueError(f"{self.name}: limit must be >= 1 and period > 0")

    def wait_needed(self) -> float:
        """Seconds until the next request may start (0 when it may start now)."""
        now = self.clock.monotonic()
        # The tolerance absorbs float rounding so a wait never comes out as a few femtoseconds.
        while self._starts and now - self._starts[0] >= self.period - _TOLERANCE:
            self._starts.popleft()
        if len(self._starts) < self.limit:
            return 0.0
        return self._starts[0] + self.period - now

    def acquire(self) -> float:
        """Wait for a free slot and take it. Returns the seconds waited."""
        waited = 0.0
        with self._lock:
            while (delay := self.wait_needed()) > 0:
                log.info(
                    "Pacing %s: %d requests in the last %.0f s (limit %d); waiting %.1f s",
                    self.name,
                    len(self._starts),
                    self.period,
                    self.limit,
                    delay,
                )
                self.clock.sleep(delay)
                waited += delay
            self._starts.append(self.clock.monotonic())
        return waited

    def penalize(self) -> None:
        """The vendor said "rate limit": treat the window as full from now on."""
        with self._lock:
            now = self.clock.monotonic()
            self._starts.clear()
            self._starts.extend([now] * self.limit)
