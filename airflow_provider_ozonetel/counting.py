"""Exact distinct counts in little memory. Pure: no Airflow import.

A busy day has ~500,000 CallIDs. A Python set of them costs ~60 bytes each (32 MB), and even
8-byte machine words in growing arrays cost ~15 bytes each once the C heap has fragmented around
them (7.5 MB of a Parquet pull's peak at 500,000 calls, bench/NOTES.md "Parquet memory"), so
that the count, not the rows, made a day pull's memory grow with the day.

Integer IDs are split into buckets by their low bits. A bucket gathers IDs in a small array; when
it is full they are sorted and stored as their first value and the differences after it, in the
narrowest array that holds them (a day's IDs are close together: mostly one or two bytes an ID).
Counting decodes one bucket at a time into a transient set: an ID in two blocks of its bucket is
counted once, and memory at the end is one bucket's set, not the day's.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterable
from itertools import accumulate, chain, islice
from operator import sub

_BUCKETS = 64
_LOW = _BUCKETS - 1
_MAX = 2**64
#: IDs a bucket gathers before they are packed (64 buckets: at most 512 KB waiting in all).
BLOCK = 1024
#: Array type codes by the largest value they hold.
_WIDTHS = (("B", 2**8), ("H", 2**16), ("I", 2**32), ("Q", 2**64))


class DistinctCounter:
    """Counts distinct values; non-negative ints below 2**64 are stored compactly."""

    def __init__(self) -> None:
        self._waiting = [array("Q") for _ in range(_BUCKETS)]
        self._blocks: list[list[tuple[int, array[int]]]] = [[] for _ in range(_BUCKETS)]
        self._others: set[Hashable] = set()

    def add(self, value: Hashable) -> None:
        if value.__class__ is int and 0 <= value < _MAX:
            bucket = value & _LOW
            self._waiting[bucket].append(value)
            if len(self._waiting[bucket]) >= BLOCK:
                self._seal(bucket)
        else:
            self._others.add(value)

    def add_all(self, values: Iterable[Hashable]) -> None:
        waiting = self._waiting
        others = self._others
        for value in values:
            if value.__class__ is int and 0 <= value < _MAX:
                waiting[value & _LOW].append(value)
            else:
                others.add(value)
        for bucket, ids in enumerate(waiting):
            if len(ids) >= BLOCK:
                self._seal(bucket)

    def count(self) -> int:
        for bucket in range(_BUCKETS):
            self._seal(bucket)
        return sum(len(set(chain.from_iterable(map(_unpack, blocks)))) for blocks in self._blocks) + len(
            self._others
        )

    def _seal(self, bucket: int) -> None:
        ids = self._waiting[bucket]
        if ids:
            self._blocks[bucket].append(_pack(sorted(ids)))
            self._waiting[bucket] = array("Q")


def _pack(values: list[int]) -> tuple[int, array[int]]:
    """Sorted values as the first and the differences after it, in the narrowest array that fits."""
    differences = list(map(sub, islice(values, 1, None), values))
    top = max(differences, default=0)
    return values[0], array(next(code for code, end in _WIDTHS if top < end), differences)


def _unpack(block: tuple[int, array[int]]) -> Iterable[int]:
    first, differences = block
    return accumulate(differences, initial=first)
