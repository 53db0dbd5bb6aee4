"""Exact distinct counts (pure)."""

from __future__ import annotations

import pytest

from airflow_provider_ozonetel.counting import DistinctCounter

# Pure logic (or the emulator): the same on every Airflow, so make test-matrix skips it.
pytestmark = pytest.mark.version_independent


def test_counts_big_ids_exactly():
    counter = DistinctCounter()
    base = 31733467784618213  # > 2**53: neighbours must not collapse
    for n in [0, 1, 1, 2, 64, 64, 128]:
        counter.add(base + n)
    assert counter.count() == 5


def test_odd_values_are_counted_too():
    counter = DistinctCounter()
    for value in ["31733467784618213", "31733467784618213", None, -1, 2**70, 2**70, 7]:
        counter.add(value)
    assert counter.count() == 5  # the string, None, -1, 2**70, 7


def test_empty():
    assert DistinctCounter().count() == 0
