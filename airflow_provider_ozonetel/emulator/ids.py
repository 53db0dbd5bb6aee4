"""UCIDs and CallIDs of synthetic calls: above 2**53, unique across days, and decodable.

UCID = UCID_BASE + 10 * key + check, CallID = CALL_ID_BASE + 10 * key of the call's
first leg + check, where key = (days since 2000-01-01 * 1440 + minute of day) *
PER_MINUTE + rank in that minute, and check is an odd digit: odd numbers above
2**54 have no exact float64, so a client that parses ids as floats always gets
them wrong. A UCID names its day and minute, so one call is found without
generating its day.
"""

from __future__ import annotations

import datetime as dt

UCID_BASE = 31_733_460_000_000_000
CALL_ID_BASE = 31_833_460_000_000_000
PER_MINUTE = 100_000
_KEY_LIMIT = 10**13  # keys of days up to the year 2190
_EPOCH = dt.date(2000, 1, 1).toordinal()
_MINUTES = 1440


def ucid_key(day: dt.date, minute: int, rank: int) -> int:
    return ((day.toordinal() - _EPOCH) * _MINUTES + minute) * PER_MINUTE + rank


def _check(key: int) -> int:
    return 1 + 2 * (key * 7 % 5)


def ucid_of(key: int) -> int:
    return UCID_BASE + 10 * key + _check(key)


def call_id_of(key: int) -> int:
    return CALL_ID_BASE + 10 * key + _check(key)


def day_of_ucid(ucid: int | str) -> dt.date | None:
    """The IST day a UCID of this emulator started on (None if it cannot be one)."""
    decoded = decode(ucid)
    return decoded[0] if decoded else None


def decode(ucid: int | str) -> tuple[dt.date, int, int] | None:
    try:
        key, check = divmod(int(ucid) - UCID_BASE, 10)
    except (TypeError, ValueError):
        return None
    if not 0 <= key < _KEY_LIMIT or check != _check(key):
        return None
    minutes, rank = divmod(key, PER_MINUTE)
    days, minute = divmod(minutes, _MINUTES)
    return dt.date.fromordinal(_EPOCH + days), minute, rank
