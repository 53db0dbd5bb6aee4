"""The clock the provider waits on, injectable so tests control time without sleeping. Pure.

The vendor's limits themselves are kept by ``budget.py`` (one budget per account and endpoint).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Clock:
    """Monotonic time, wall-clock time and sleep.

    ``wall`` (epoch seconds) is what machines share: rate grants, token mint times and leases
    are stamped with it. ``monotonic`` measures durations inside one process.
    """

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[], float] = time.time
