"""The emulator's two clocks.

* The data clock says which IST moment it is for the data: which calls exist
  yet (today's calls that started before now), which day is "today", what is
  historical, what is past retention. Real time unless pinned (``--now``).
* The window clock measures rate-limit windows, token life and the mint
  window, in real seconds; one emulator minute lasts ``minute_seconds``. Tests
  can move it forward with :meth:`EmulatorClock.advance` instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

from airflow_provider_ozonetel.calendar import IST
from airflow_provider_ozonetel.emulator.config import parse_now


class EmulatorClock:
    def __init__(self, *, minute_seconds: float = 60.0, now: dt.datetime | str | None = None) -> None:
        self.minute_seconds = float(minute_seconds)
        self._lock = threading.Lock()
        self._pinned: dt.datetime | None = parse_now(now) if now is not None else None
        self._offset = 0.0

    # data clock
    def now(self) -> dt.datetime:
        """The data clock: an aware IST datetime (whole seconds)."""
        with self._lock:
            pinned = self._pinned
        if pinned is not None:
            return pinned
        return dt.datetime.now(IST).replace(microsecond=0)

    def today(self) -> dt.date:
        return self.now().date()

    @property
    def pinned(self) -> dt.datetime | None:
        with self._lock:
            return self._pinned

    def set_now(self, value: dt.datetime | str | None) -> None:
        """Pin the data clock (naive and string values are IST wall clock); None follows real time."""
        pinned = parse_now(value) if value is not None else None
        with self._lock:
            self._pinned = pinned

    # window clock
    def monotonic(self) -> float:
        """Seconds on the window clock (real monotonic time plus every :meth:`advance`)."""
        with self._lock:
            offset = self._offset
        return time.monotonic() + offset

    def minutes(self, count: float) -> float:
        """Real seconds of ``count`` emulator minutes."""
        return count * self.minute_seconds

    def advance(self, *, minutes: float = 0.0, seconds: float = 0.0) -> None:
        """Move the window clock forward (rate windows, token life); the data clock stays."""
        delta = self.minutes(minutes) + seconds
        if delta < 0:
            raise ValueError("the window clock only moves forward")
        with self._lock:
            self._offset += delta
