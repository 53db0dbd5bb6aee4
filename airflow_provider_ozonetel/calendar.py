"""IST calendar rules of the Ozonetel CDR APIs. Pure: no Airflow import.

All vendor times are IST wall-clock times (Asia/Kolkata, UTC+05:30, no DST).

* fetchCDRDetails answers one IST calendar day per request, for days within the
  last 15 days (today included), never a future day.
* The CallBacks API keeps a call in the ``currentday`` store while its day is
  today; after midnight the day moves to the ``historical`` store, readable from
  03:00 IST. Between 00:00 and 03:00 IST yesterday's calls are in neither.
"""

from __future__ import annotations

import datetime as dt

import pendulum

IST = pendulum.timezone("Asia/Kolkata")

#: How many IST days the vendor keeps, today included.
RETENTION_DAYS = 15
#: When yesterday's calls become readable in the historical store (IST, next day).
HISTORICAL_READY_TIME = dt.time(3, 0)

CURRENT_DAY = "currentday"
HISTORICAL = "historical"
REPORT_TYPES = (CURRENT_DAY, HISTORICAL)

_DATE_FORMAT = "%Y-%m-%d"
_WIRE_FORMAT = "%Y-%m-%d %H:%M:%S"


def now_ist(now: dt.datetime | None = None) -> pendulum.DateTime:
    """The current (or given, timezone-aware) moment as an IST DateTime."""
    if now is None:
        return pendulum.now(IST)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return pendulum.instance(now).in_timezone(IST)


def today_ist(now: dt.datetime | None = None) -> dt.date:
    return now_ist(now).date()


def parse_date(value: dt.date | str, field: str = "cdr_date") -> dt.date:
    """Accept a ``date`` (or datetime: its IST date) or a ``YYYY-MM-DD`` string."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.date()
        return now_ist(value).date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.strptime(value.strip(), _DATE_FORMAT).date()
        except ValueError:
            pass
    raise ValueError(f"{field}: expected a date or a 'YYYY-MM-DD' string, got {value!r}")


def parse_time(value: dt.time | str, field: str) -> dt.time:
    """Accept a ``time`` or an ``HH:MM[:SS]`` string (IST wall clock)."""
    if isinstance(value, dt.time):
        return value.replace(microsecond=0, tzinfo=None)
    if isinstance(value, str):
        for fmt in ("%H:%M:%S", "%H:%M"):
            try:
                return dt.datetime.strptime(value.strip(), fmt).time()
            except ValueError:
                continue
    raise ValueError(f"{field}: expected an 'HH:MM:SS' time of day (IST), got {value!r}")


def oldest_available_date(now: dt.datetime | None = None) -> dt.date:
    """The oldest IST day the vendor still holds completely.

    The vendor keeps "the past 15 days from the time of the request"; the day
    before this one is at best partly kept, so asking for it would silently
    return a short day.
    """
    return today_ist(now) - dt.timedelta(days=RETENTION_DAYS - 1)


def check_retention(day: dt.date, now: dt.datetime | None = None, field: str = "cdr_date") -> None:
    """Raise ValueError naming ``field`` unless ``day`` is within the retention window."""
    today = today_ist(now)
    oldest = oldest_available_date(now)
    if day > today:
        raise ValueError(
            f"{field}={day.isoformat()} is in the future (today is {today.isoformat()} IST); "
            f"use a date from {oldest.isoformat()} to {today.isoformat()}"
        )
    if day < oldest:
        raise ValueError(
            f"{field}={day.isoformat()} is older than the vendor's {RETENTION_DAYS}-day retention: "
            f"Ozonetel no longer holds that day's data (it would come back empty). "
            f"Use a date from {oldest.isoformat()} to {today.isoformat()} IST"
        )


def day_bounds(
    day: dt.date, from_time: dt.time | str | None = None, to_time: dt.time | str | None = None
) -> tuple[str, str]:
    """``fromDate``/``toDate`` strings for one IST day, or a window of it (both bounds inclusive)."""
    start = parse_time(from_time, "from_time") if from_time is not None else dt.time(0, 0, 0)
    end = parse_time(to_time, "to_time") if to_time is not None else dt.time(23, 59, 59)
    if start > end:
        raise ValueError(
            f"from_time={start.isoformat()} is after to_time={end.isoformat()}; "
            "a request covers one IST day, so from_time must be <= to_time"
        )
    return (
        dt.datetime.combine(day, start).strftime(_WIRE_FORMAT),
        dt.datetime.combine(day, end).strftime(_WIRE_FORMAT),
    )


#: The most requests one day's pull may take (windows); at 2 a minute, 24 minutes of pacing.
MAX_REQUESTS_PER_DAY = 48
MIN_WINDOW_HOURS = 24 / MAX_REQUESTS_PER_DAY


def split_day(window_hours: int | float) -> list[tuple[dt.time, dt.time]]:
    """Cut an IST day into consecutive inclusive windows of ``window_hours``.

    At most :data:`MAX_REQUESTS_PER_DAY` windows: ``window_hours`` from 0.5 to 24.
    """
    if (
        isinstance(window_hours, bool)
        or not isinstance(window_hours, int | float)
        or not MIN_WINDOW_HOURS <= window_hours <= 24  # False for nan
    ):
        raise ValueError(
            f"window_hours: expected a number of hours in [{MIN_WINDOW_HOURS:g}, 24], got {window_hours!r} "
            f"(a day may take at most {MAX_REQUESTS_PER_DAY} requests: at the vendor's 2 a minute, "
            f"{MAX_REQUESTS_PER_DAY // 2} minutes)"
        )
    step = dt.timedelta(seconds=max(1, round(window_hours * 3600)))
    midnight = dt.datetime(2000, 1, 1)
    day_end = midnight + dt.timedelta(days=1)
    windows = []
    start = midnight
    while start < day_end:
        stop = min(start + step, day_end)
        windows.append((start.time(), (stop - dt.timedelta(seconds=1)).time()))
        start = stop
    return windows


def historical_ready_at(day: dt.date) -> pendulum.DateTime:
    """When the vendor's historical store holds ``day``: 03:00 IST the next day."""
    nxt = day + dt.timedelta(days=1)
    return pendulum.datetime(
        nxt.year, nxt.month, nxt.day, HISTORICAL_READY_TIME.hour, HISTORICAL_READY_TIME.minute, tz=IST
    )


def callbacks_report_type(call_date: dt.date, now: dt.datetime | None = None) -> str:
    """The CallBacks ``reportType`` holding calls that started on ``call_date`` (IST).

    Scenario 3 of the vendor's page: a call that started today is ``currentday``.
    Scenarios 1 and 2: a call that started before today's midnight is
    ``historical``, readable from 03:00 IST. Raises :class:`DataNotReady` in the
    gap between midnight and 03:00 for yesterday's calls.
    """
    current = now_ist(now)
    today = current.date()
    if call_date >= today:
        return CURRENT_DAY
    ready = historical_ready_at(call_date)
    if current < ready:
        raise DataNotReady(call_date, ready)
    return HISTORICAL


class DataNotReady(Exception):
    """The day's calls are in neither CallBacks store yet (00:00-03:00 IST)."""

    def __init__(self, day: dt.date, ready_at: pendulum.DateTime):
        self.day = day
        self.ready_at = ready_at
        super().__init__(
            f"calls of {day.isoformat()} are moving to the historical store and are readable "
            f"from {ready_at.isoformat()} ({ready_at.in_timezone('UTC').isoformat()})"
        )


def default_cdr_date(
    data_interval_start: dt.datetime | None,
    data_interval_end: dt.datetime | None,
    logical_date: dt.datetime | None,
) -> dt.date:
    """The day an operator pulls when ``cdr_date`` is None.

    The IST date of ``data_interval_start`` when the run's data interval is
    non-empty (e.g. ``@daily`` with data intervals: the interval's day);
    otherwise (trigger timetables, manual runs) the IST day before the run's
    logical date, which is the last complete day at run time.
    """
    if (
        data_interval_start is not None
        and data_interval_end is not None
        and (data_interval_end > data_interval_start)
    ):
        return now_ist(data_interval_start).date()
    anchor = logical_date or data_interval_end or data_interval_start
    if anchor is None:
        raise ValueError("cdr_date: no date given and the run has no logical date; pass cdr_date")
    return now_ist(anchor).date() - dt.timedelta(days=1)


# ---------------------------------------------------------------- retention arithmetic
# The vendor holds the IST days from ``oldest_available_date`` (today - 14) to today. A day
# therefore leaves the window at the IST midnight that starts its 16th day: after that a
# request for it comes back quietly empty (see ``check_retention``).


def leaves_window_at(day: dt.date) -> pendulum.DateTime:
    """The moment ``day`` stops being available from the vendor (IST midnight, 15 days on)."""
    gone = day + dt.timedelta(days=RETENTION_DAYS)
    return pendulum.datetime(gone.year, gone.month, gone.day, tz=IST)


def newest_complete_day(now: dt.datetime | None = None) -> dt.date:
    """The newest IST day that is over and readable: yesterday from 03:00 IST, else the day before."""
    current = now_ist(now)
    yesterday = current.date() - dt.timedelta(days=1)
    if current >= historical_ready_at(yesterday):
        return yesterday
    return yesterday - dt.timedelta(days=1)


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """``first`` to ``last``, both included, oldest first (empty when ``first > last``)."""
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def retained_days(
    now: dt.datetime | None = None, *, days: int | None = None, since: dt.date | None = None
) -> list[dt.date]:
    """The complete days the vendor still holds, oldest first (they leave the window first).

    ``days`` keeps only the newest ``days`` of them; ``since`` drops those before it (where a
    pipeline started).
    """
    newest = newest_complete_day(now)
    first = oldest_available_date(now)
    if days is not None:
        first = max(first, newest - dt.timedelta(days=days - 1))
    if since is not None:
        first = max(first, since)
    return days_between(first, newest)


def hours_left(day: dt.date, now: dt.datetime | None = None) -> float:
    """Hours until ``day`` leaves the vendor's window (negative once it has)."""
    return (leaves_window_at(day) - now_ist(now)).total_seconds() / 3600


def at_risk(missing: list[dt.date], alarm_days: int, now: dt.datetime | None = None) -> list[dt.date]:
    """The ``missing`` days still in the window that leave it within ``alarm_days`` days."""
    return [day for day in missing if 0 < hours_left(day, now) <= alarm_days * 24]


def lost_days(
    held: set[dt.date] | frozenset[dt.date],
    *,
    since: dt.date | None,
    now: dt.datetime | None = None,
) -> list[dt.date]:
    """Days gone for good: older than the window, not in ``held``, from ``since`` on.

    Without ``since``, the oldest day in ``held`` (the oldest day the folder holds) is where
    the pipeline started; with neither, nothing can be said to be lost.
    """
    start = since if since is not None else min(held, default=None)
    if start is None:
        return []
    newest_gone = oldest_available_date(now) - dt.timedelta(days=1)
    return [day for day in days_between(start, newest_gone) if day not in held]
