"""IST rules, pure (no Airflow)."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from airflow_provider_ozonetel import calendar

# Pure logic (or the emulator): the same on every Airflow, so make test-matrix skips it.
pytestmark = pytest.mark.version_independent

IST = pendulum.timezone("Asia/Kolkata")


def ist(y, m, d, hh=0, mm=0, ss=0):
    return pendulum.datetime(y, m, d, hh, mm, ss, tz=IST)


YESTERDAY = dt.date(2026, 11, 19)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ist(2026, 11, 19, 23, 59), calendar.CURRENT_DAY),  # same day: still current
        (ist(2026, 11, 20, 3, 0), calendar.HISTORICAL),
        (ist(2026, 11, 20, 3, 0, 1), calendar.HISTORICAL),
        (ist(2026, 11, 25, 12, 0), calendar.HISTORICAL),
    ],
)
def test_report_type_for_a_call_of_the_19th(now, expected):
    assert calendar.callbacks_report_type(YESTERDAY, now) == expected


@pytest.mark.parametrize("now", [ist(2026, 11, 20, 0, 0), ist(2026, 11, 20, 2, 59, 59)])
def test_between_midnight_and_three_yesterday_is_in_neither_store(now):
    with pytest.raises(calendar.DataNotReady) as info:
        calendar.callbacks_report_type(YESTERDAY, now)
    assert info.value.ready_at == ist(2026, 11, 20, 3, 0)
    assert "readable from 2026-11-20T03:00:00+05:30" in str(info.value)


def test_call_started_after_midnight_is_current_day_at_once():
    assert calendar.callbacks_report_type(dt.date(2026, 11, 20), ist(2026, 11, 20, 0, 0)) == "currentday"


def test_now_is_read_in_ist_from_any_zone():
    # 2026-11-19 21:29 UTC is 2026-11-20 02:59 IST: still in the gap for the 19th.
    with pytest.raises(calendar.DataNotReady):
        calendar.callbacks_report_type(YESTERDAY, pendulum.datetime(2026, 11, 19, 21, 29, tz="UTC"))
    utc_3am_ist = pendulum.datetime(2026, 11, 19, 21, 30, tz="UTC")
    assert calendar.callbacks_report_type(YESTERDAY, utc_3am_ist) == "historical"


def test_historical_ready_at_is_three_am_ist_next_day():
    ready = calendar.historical_ready_at(dt.date(2026, 12, 31))
    assert ready == ist(2027, 1, 1, 3, 0)
    assert ready.in_timezone("UTC").isoformat() == "2026-12-31T21:30:00+00:00"


def test_retention_window_is_today_and_fourteen_days_before():
    now = ist(2026, 11, 20, 0, 0)
    assert calendar.oldest_available_date(now) == dt.date(2026, 11, 6)
    calendar.check_retention(dt.date(2026, 11, 6), now)
    calendar.check_retention(dt.date(2026, 11, 20), now)
    with pytest.raises(ValueError, match=r"cdr_date=2026-11-05 is older than .*15-day retention.*2026-11-06"):
        calendar.check_retention(dt.date(2026, 11, 5), now)
    with pytest.raises(ValueError, match=r"cdr_date=2026-11-21 is in the future"):
        calendar.check_retention(dt.date(2026, 11, 21), now)


def test_today_follows_ist_not_utc():
    # 23:59 IST on the 19th is 18:29 UTC; 00:00 IST on the 20th is 18:30 UTC on the 19th.
    assert calendar.today_ist(pendulum.datetime(2026, 11, 19, 18, 29, tz="UTC")) == dt.date(2026, 11, 19)
    assert calendar.today_ist(pendulum.datetime(2026, 11, 19, 18, 30, tz="UTC")) == dt.date(2026, 11, 20)


def test_day_bounds_full_day_and_window():
    day = dt.date(2026, 11, 19)
    assert calendar.day_bounds(day) == ("2026-11-19 00:00:00", "2026-11-19 23:59:59")
    assert calendar.day_bounds(day, "06:00", "11:59:59") == ("2026-11-19 06:00:00", "2026-11-19 11:59:59")
    with pytest.raises(ValueError, match="from_time=12:00:00 is after to_time=11:00:00"):
        calendar.day_bounds(day, "12:00", "11:00")
    with pytest.raises(ValueError, match="to_time: expected an 'HH:MM:SS'"):
        calendar.day_bounds(day, None, "25:00")


def test_parse_date_names_the_field():
    assert calendar.parse_date("2026-11-19") == dt.date(2026, 11, 19)
    assert calendar.parse_date(ist(2026, 11, 20, 1, 0).in_timezone("UTC")) == dt.date(2026, 11, 20)
    with pytest.raises(
        ValueError, match=r"call_date: expected a date or a 'YYYY-MM-DD' string, got '19/11/2026'"
    ):
        calendar.parse_date("19/11/2026", "call_date")


def test_split_day_covers_the_day_without_gaps_or_overlaps():
    windows = calendar.split_day(6)
    assert [(a.isoformat(), b.isoformat()) for a, b in windows] == [
        ("00:00:00", "05:59:59"),
        ("06:00:00", "11:59:59"),
        ("12:00:00", "17:59:59"),
        ("18:00:00", "23:59:59"),
    ]
    assert calendar.split_day(24) == [(dt.time(0), dt.time(23, 59, 59))]
    assert len(calendar.split_day(5)) == 5 and calendar.split_day(5)[-1][1] == dt.time(23, 59, 59)
    with pytest.raises(ValueError, match="window_hours"):
        calendar.split_day(0)


def test_default_cdr_date_daily_cron_in_ist_trigger_timetable():
    # "30 3 * * *" in Asia/Kolkata with a trigger timetable: empty interval at 03:30 IST.
    run = ist(2026, 11, 20, 3, 30)
    assert calendar.default_cdr_date(run, run, run) == dt.date(2026, 11, 19)


def test_default_cdr_date_daily_utc_with_data_intervals():
    # @daily in UTC with data intervals: [19th 00:00 UTC, 20th 00:00 UTC) -> the 19th in IST (05:30).
    start = pendulum.datetime(2026, 11, 19, tz="UTC")
    end = pendulum.datetime(2026, 11, 20, tz="UTC")
    assert calendar.default_cdr_date(start, end, start) == dt.date(2026, 11, 19)


def test_default_cdr_date_daily_utc_trigger_timetable():
    # @daily without data intervals: runs at 00:00 UTC = 05:30 IST on the 20th -> the 19th.
    run = pendulum.datetime(2026, 11, 20, tz="UTC")
    assert calendar.default_cdr_date(run, run, run) == dt.date(2026, 11, 19)


def test_default_cdr_date_manual_run_near_midnight_utc():
    # A manual run at 20:00 UTC on the 19th is 01:30 IST on the 20th: the day before (IST) is the 19th.
    run = pendulum.datetime(2026, 11, 19, 20, 0, tz="UTC")
    assert calendar.default_cdr_date(None, None, run) == dt.date(2026, 11, 19)


def test_default_cdr_date_without_any_date():
    with pytest.raises(ValueError, match="cdr_date"):
        calendar.default_cdr_date(None, None, None)


# ---------------------------------------------------------------- retention arithmetic


def test_a_day_leaves_the_window_at_ist_midnight_fifteen_days_on():
    assert calendar.leaves_window_at(dt.date(2026, 11, 6)) == ist(2026, 11, 21)
    # The last moment it is still available is the oldest day of the window.
    assert calendar.oldest_available_date(ist(2026, 11, 20, 23, 59, 59)) == dt.date(2026, 11, 6)
    assert calendar.oldest_available_date(ist(2026, 11, 21)) == dt.date(2026, 11, 7)


@pytest.mark.parametrize(
    ("now", "newest"),
    [
        (ist(2026, 11, 20, 2, 59, 59), dt.date(2026, 11, 18)),  # yesterday is not readable yet
        (ist(2026, 11, 20, 3, 0), dt.date(2026, 11, 19)),
        (ist(2026, 11, 20, 23, 0), dt.date(2026, 11, 19)),
    ],
)
def test_newest_complete_day(now, newest):
    assert calendar.newest_complete_day(now) == newest


def test_retained_days_oldest_first_limited_by_days_and_since():
    now = ist(2026, 11, 20, 12)
    every = calendar.retained_days(now)
    assert (every[0], every[-1], len(every)) == (dt.date(2026, 11, 6), dt.date(2026, 11, 19), 14)
    assert calendar.retained_days(now, days=2) == [dt.date(2026, 11, 18), dt.date(2026, 11, 19)]
    assert calendar.retained_days(now, days=40) == every
    assert calendar.retained_days(now, since=dt.date(2026, 11, 18)) == [
        dt.date(2026, 11, 18),
        dt.date(2026, 11, 19),
    ]
    assert calendar.retained_days(now, since=dt.date(2026, 11, 21)) == []


def test_at_risk_is_missing_days_leaving_within_alarm_days():
    now = ist(2026, 11, 20, 12)
    missing = [dt.date(2026, 11, 6), dt.date(2026, 11, 8), dt.date(2026, 11, 9), dt.date(2026, 11, 5)]
    # The 6th leaves in 12 h, the 8th in 60 h, the 9th in 84 h; the 5th is already gone (lost, not at risk).
    assert calendar.at_risk(missing, 3, now) == [dt.date(2026, 11, 6), dt.date(2026, 11, 8)]
    assert calendar.at_risk(missing, 1, now) == [dt.date(2026, 11, 6)]
    assert calendar.at_risk(missing, 0, now) == []
    assert calendar.hours_left(dt.date(2026, 11, 6), now) == 12.0


def test_lost_days_start_at_since_or_the_oldest_day_held():
    now = ist(2026, 11, 20, 12)
    held = {dt.date(2026, 11, 1), dt.date(2026, 11, 3), dt.date(2026, 11, 6)}
    assert calendar.lost_days(held, since=None, now=now) == [
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 4),
        dt.date(2026, 11, 5),
    ]
    assert calendar.lost_days(held, since=dt.date(2026, 11, 4), now=now) == [
        dt.date(2026, 11, 4),
        dt.date(2026, 11, 5),
    ]
    assert calendar.lost_days(set(), since=None, now=now) == []  # nothing held, no since: a new pipeline
    assert calendar.lost_days(set(), since=dt.date(2026, 11, 10), now=now) == []  # since inside the window
