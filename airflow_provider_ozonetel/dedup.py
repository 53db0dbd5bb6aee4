"""Drop a call leg the vendor sent twice, in memory that does not grow with the day. Pure.

A day pulled in windows (``window_hours``) could see one leg twice if the vendor selects a
window's records by overlap rather than by start time: a call in progress at a window boundary.
So the keys kept are those a *later* window can repeat, the legs still running at the next
boundary (about as many as the calls in progress at one moment), plus the last ``RECENT`` keys
(a repeat close to its first copy in one answer). Legs without a UCID are always kept: nothing
says two of them are the same.

``UCID``, ``Ucid`` and ``ucid`` name the same field, and ``31733467784618299`` and
``"31733467784618299"`` the same leg.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

#: How many of the latest keys are remembered besides the boundary-crossing ones.
RECENT = 4096
_UCID_FIELDS = ("UCID", "Ucid", "ucid")
_ALWAYS = 1 << 20  # seconds-of-day beyond every boundary: a leg running past midnight


def ucid_key(record: Mapping[str, Any]) -> str | None:
    """The leg's UCID as canonical text (digits, no leading zeros), or None when it has none."""
    if not isinstance(record, Mapping):
        return None  # not a record: the row check refuses it with a clear error
    for name in _UCID_FIELDS:
        value = record.get(name)
        if value is None or isinstance(value, bool):
            continue
        text = str(value).strip()
        if not text or text.lower() in ("none", "null"):
            continue
        return str(int(text)) if text.isdigit() else text
    return None


def _seconds(value: Any) -> int | None:
    """Seconds of the day of a time or an ``HH:MM[:SS]`` (or ``YYYY-MM-DD HH:MM:SS``) text, else None."""
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if not isinstance(value, str):
        return None
    text = value.strip().rsplit(" ", 1)[-1]
    try:
        moment = dt.time.fromisoformat(text)
    except ValueError:
        return None
    return moment.hour * 3600 + moment.minute * 60 + moment.second


class LegDeduplicator:
    """Says whether a record repeats a leg already passed on; call ``next_window`` at each window."""

    def __init__(self, recent: int = RECENT) -> None:
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._limit = recent
        #: Legs that a later window may send again: key -> the second of the day they end.
        self._running: dict[str, int] = {}
        self._next_boundary: int | None = None
        #: Records dropped as repeats.
        self.dropped = 0

    def next_window(self, start: dt.time | str | None, end: dt.time | str | None) -> None:
        """A new window ``[start, end]`` (inclusive, IST times of day) begins: forget the legs
        that ended before it; remember, from now on, those running past its end."""
        begin = _seconds(start) or 0
        self._running = {key: ends for key, ends in self._running.items() if ends >= begin}
        last = _seconds(end)
        self._next_boundary = None if last is None else last + 1

    def is_repeat(self, record: Mapping[str, Any]) -> bool:
        key = ucid_key(record)
        if key is None:
            return False
        if key in self._recent or key in self._running:
            self.dropped += 1
            return True
        self._recent[key] = None
        if len(self._recent) > self._limit:
            self._recent.popitem(last=False)
        if self._next_boundary is not None:
            ends = self._end(record)
            if ends >= self._next_boundary:
                self._running[key] = ends
        return False

    def _end(self, record: Mapping[str, Any]) -> int:  # a Mapping: is_repeat found a UCID in it
        start, end = _seconds(record.get("StartTime")), _seconds(record.get("EndTime"))
        if end is None:
            # Unknown end: assume it may reach the next boundary, and no further.
            return self._next_boundary or 0
        if start is not None and end < start:
            return _ALWAYS  # ends the next day: past every boundary of this one
        return end
