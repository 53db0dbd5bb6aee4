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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: How many of the latest keys are remembered besides the boundary-crossing ones.
RECENT = 4096
#: The UCID's spellings ``ucid_key`` reads, in this order.
UCID_FIELDS = ("UCID", "Ucid", "ucid")
_ALWAYS = 1 << 20  # seconds-of-day beyond every boundary: a leg running past midnight


def ucid_key(record: Mapping[str, Any]) -> str | None:
    """The leg's UCID as canonical text (digits, no leading zeros), or None when it has none."""
    if not isinstance(record, Mapping):
        return None  # not a record: the row check refuses it with a clear error
    for name in UCID_FIELDS:
        key = ucid_text(record.get(name))
        if key is not None:
            return key
    return None


def ucid_text(value: Any) -> str | None:
    """One UCID value as canonical text, or None when it is none."""
    if value.__class__ is int:
        return str(value)  # already canonical
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text or text.lower() in ("none", "null"):
        return None
    return str(int(text)) if text.isdigit() else text


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

    def repeats(self, keys: Sequence[str | None], record: Callable[[int], Mapping[str, Any]]) -> list[int]:
        """"""
        recent, running, limit, boundary = self._recent, self._running, self._limit, self._next_boundary
        found = []
        for at, key in enumerate(keys):
            if key is None:
                continue
            if key in recent or key in running:
                found.append(at)
                continue
            recent[key] = None
            if len(recent) > limit:
                recent.popitem(last=False)
            if boundary is not None:
                ends = self._end(record(at))
                if ends >= boundary:
                    running[key] = ends
        self.dropped += len(found)
        return found

    def is_repeat(self, record: Mapping[str, Any]) -> bool:
        return bool(self.repeats([ucid_key(record)], lambda _: record))

    def _end(self, record: Mapping[str, Any]) -> int:  # a Mapping: is_repeat found a UCID in it
        start, end = _seconds(record.get("StartTime")), _seconds(record.get("EndTime"))
        if end is None:
            # Unknown end: assume it may reach the next boundary, and no further.
            return self._next_boundary or 0
        if start is not None and end < start:
            return _ALWAYS  # ends the next day: past every boundary of this one
        return end
