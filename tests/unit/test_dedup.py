"""Repeated call legs across windows, in memory that does not grow with the day (pure)."""

from __future__ import annotations

import datetime as dt

from airflow_provider_ozonetel.calendar import split_day
from airflow_provider_ozonetel.dedup import RECENT, LegDeduplicator, ucid_key


def leg(ucid, start="10:00:00", end="10:05:00", **fields):
    return {"UCID": ucid, "StartTime": start, "EndTime": end, **fields}


def test_ucid_spellings_and_types_are_one_key():
    assert ucid_key({"UCID": 31733467784618299}) == "31733467784618299"
    assert ucid_key({"Ucid": "31733467784618299"}) == "31733467784618299"
    assert ucid_key({"ucid": " 031733467784618299 "}) == "31733467784618299"
    assert ucid_key({"UCID": None, "ucid": 5}) == "5"
    for empty in ({}, {"UCID": ""}, {"UCID": None}, {"UCID": "None"}):
        assert ucid_key(empty) is None


def test_a_leg_running_across_a_boundary_sent_by_both_windows_is_kept_once():
    legs = LegDeduplicator()
    (w1, w2) = split_day(12)
    legs.next_window(*w1)
    assert not legs.is_repeat(leg(7, "11:58:00", "12:03:00"))
    legs.next_window(*w2)
    assert legs.is_repeat(leg("7", "11:58:00", "12:03:00"))  # the same leg, as a string
    assert legs.is_repeat({"Ucid": 7})
    assert legs.dropped == 2


def test_records_without_a_ucid_are_all_kept():
    legs = LegDeduplicator()
    legs.next_window(dt.time(0), dt.time(23, 59, 59))
    assert not any(legs.is_repeat(leg(None)) for _ in range(3))
    assert not any(legs.is_repeat({"CallID": 1}) for _ in range(3))


def test_a_repeat_within_one_answer_is_dropped():
    legs = LegDeduplicator()
    legs.next_window(None, None)
    assert not legs.is_repeat(leg(1))
    assert not legs.is_repeat(leg(2))
    assert legs.is_repeat(leg("1"))


def test_memory_stays_bounded_however_long_the_day():
    """200,000 legs over four windows: only the recent keys and the legs running at a boundary."""
    legs = LegDeduplicator()
    ucid = 10**16
    for start, end in split_day(6):
        legs.next_window(start, end)
        base = start.hour * 3600
        for n in range(50_000):
            second = base + (n * 21600) // 50_000
            begins = dt.time(second // 3600, second // 60 % 60, second % 60).isoformat()
            finish = min(second + 300, 86_399)  # five-minute calls: some run past the boundary
            ends = dt.time(finish // 3600, finish // 60 % 60, finish % 60).isoformat()
            ucid += 1
            assert not legs.is_repeat(leg(ucid, begins, ends))
        assert len(legs._recent) <= RECENT
        # the legs running at this window's end and at its start: five minutes of calls each
        assert len(legs._running) <= 2 * (50_000 * 300 // 21600 + 1)


def test_a_call_ending_after_midnight_is_remembered_to_the_end_of_the_day():
    legs = LegDeduplicator(recent=1)
    windows = split_day(6)
    legs.next_window(*windows[0])
    assert not legs.is_repeat(leg(9, "05:59:00", "00:10:00"))  # EndTime < StartTime: next day
    assert not legs.is_repeat(leg(10))
    for window in windows[1:]:
        legs.next_window(*window)
    assert legs.is_repeat(leg(9))
