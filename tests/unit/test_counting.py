"""Exact distinct counts (pure)."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_ozonetel.counting import BLOCK, DistinctCounter

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


def test_ids_across_blocks_are_counted_once():
    """A CallID seen again after its bucket was packed (a leg in a later window) counts once."""
    counter = DistinctCounter()
    ids = [31733467784618213 + n for n in range(5 * BLOCK * 64)]
    counter.add_all(ids)
    counter.add_all(ids[::7])  # again, long after their blocks were packed
    assert counter.count() == len(ids)
    counter.add_all([ids[0], 2**64 - 1, 0])  # counting does not end the count
    assert counter.count() == len(ids) + 2


@pytest.mark.parametrize("one_by_one", [False, True])
def test_memory_of_a_busy_day_stays_small(one_by_one):
    """500,000 close CallIDs (a day's) are held in about a byte each (8-byte words took 4.7 MB)."""
    ids = [31847615200000001 + n * 3 for n in range(500_000)]
    tracemalloc.start()
    try:
        counter = DistinctCounter()
        if one_by_one:
            for call_id in ids:
                counter.add(call_id)
        else:
            for start in range(0, len(ids), 2_000):
                counter.add_all(ids[start : start + 2_000])
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 1_000_000
    assert counter.count() == 500_000


@given(
    st.lists(
        st.one_of(
            st.integers(min_value=0, max_value=2**64 - 1),
            st.integers(min_value=31733467784618213, max_value=31733467784618213 + 5000),
            st.integers(min_value=-5, max_value=2**66),
            st.text(max_size=3),
        ),
        max_size=3 * BLOCK,
    ),
    st.integers(min_value=1, max_value=500),
)
def test_counts_exactly_like_a_set(values, batch):
    counter = DistinctCounter()
    for start in range(0, len(values), batch):
        counter.add_all(values[start : start + batch])
    assert counter.count() == len(set(values))
