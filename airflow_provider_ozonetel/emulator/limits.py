"""Sliding-window rate limits (per account), measured on the emulator's window clock."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable


class SlidingWindow:
    """At most ``limit`` admitted events in any ``window()`` seconds.

    Refused events are not counted: a client that is told to wait and comes
    back after the window gets through.
    """

    def __init__(self, limit: int, window: Callable[[], float], clock: Callable[[], float]) -> None:
        self.limit = limit
        self._window = window
        self._clock = clock
        self._events: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str) -> bool:
        """Count one event for ``key`` and return True, or return False if the window is full."""
        now = self._clock()
        horizon = now - self._window()
        with self._lock:
            events = self._events.setdefault(key, collections.deque())
            while events and events[0] <= horizon:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._events.clear()
