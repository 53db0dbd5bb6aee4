"""Progress of a long pull in the task log: a line at a steady rhythm, a summary at the end. Pure.

A busy day streams for minutes; without these lines the task log is silent from "Pulling ..."
to "Wrote ...". Each line has the rows and calls so far, the requests sent, the bytes read, the
rate and the time elapsed, like a progress bar (the total is unknown until the answer ends).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Seconds between two progress lines.
EVERY_SECONDS = 30.0
#: Rows between two looks at the clock: the per-row cost stays one integer comparison.
CHECK_EVERY_ROWS = 256


@dataclass(frozen=True)
class Totals:
    """What a progress line reports, besides time."""

    rows: int
    calls: int
    requests: int
    bytes_read: int


class Progress:
    """Logs ``label``'s progress every ``every`` seconds (looked at every ``check_rows`` rows).

    :param totals: called only when a line is due (counting calls can cost a few milliseconds).
    """

    def __init__(
        self,
        label: str,
        totals: Callable[[], Totals],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        every: float | None = None,
        check_rows: int | None = None,
    ) -> None:
        self.label = label
        self._totals = totals
        self._monotonic = monotonic
        self._every = EVERY_SECONDS if every is None else every
        self.check_rows = CHECK_EVERY_ROWS if check_rows is None else check_rows
        self.started = monotonic()
        self._next_at = self.started + self._every

    def check(self) -> None:
        """Log a line if one is due (call every ``check_rows`` rows)."""
        now = self._monotonic()
        if now < self._next_at:
            return
        self._next_at = now + self._every
        totals = self._totals()
        elapsed = now - self.started
        log.info(
            "%s: %s rows, %s calls, %d request(s), %s read, %s rows/s, %s elapsed",
            self.label,
            f"{totals.rows:,}",
            f"{totals.calls:,}",
            totals.requests,
            megabytes(totals.bytes_read),
            f"{rate(totals.rows, elapsed):,.0f}",
            duration(elapsed),
        )

    def finish(self) -> Totals:
        """Log the summary line; return the totals."""
        totals = self._totals()
        elapsed = self._monotonic() - self.started
        log.info(
            "%s: done, %s rows, %s calls in %d request(s), %s read in %s (%s rows/s)",
            self.label,
            f"{totals.rows:,}",
            f"{totals.calls:,}",
            totals.requests,
            megabytes(totals.bytes_read),
            duration(elapsed),
            f"{rate(totals.rows, elapsed):,.0f}",
        )
        return totals


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def megabytes(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"


def duration(seconds: float) -> str:
    """``42.0 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
