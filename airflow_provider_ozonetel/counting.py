"""Exact distinct counts in little memory. Pure: no Airflow import.

A busy day has ~500,000 CallIDs. A Python set of them costs ~60 bytes each (32 MB),
which would dominate a day pull's otherwise flat memory. Integer IDs are kept instead
as 8-byte machine words in arrays, split into buckets by their low bits, and counted
bucket by bucket at the end: 8 bytes a row while streaming, and a small transient set.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterable

_BUCKETS = 64
_MAX = 2**64
_LOW = _BUCKETS - 1


class DistinctCounter:
    """Counts distinct values; non-negative ints below 2**64 are stored compactly."""

    def __init__(self) -> None:
        self._buckets = [array("Q") for _ in range(_BUCKETS)]
        self._others: set[Hashable] = set()

    def add(self, value: Hashable) -> None:
        if type(value) is int and 0 <= value < _MAX:
            self._buckets[value & (_BUCKETS - 1)].append(value)
        else:
            self._others.add(value)

    def add_all(self, values: Iterable[Hashable]) -> None:
        buckets = self._buckets
        others = self._others
        for value in values:
            if value.__class__ is int and 0 <= value < _MAX:
                buckets[value & _LOW].append(value)
            else:
                others.add(value)

    def count(self) -> int:
        return sum(len(set(bucket)) for bucket in self._buckets) + len(self._others)
