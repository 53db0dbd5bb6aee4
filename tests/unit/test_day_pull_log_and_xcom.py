"""A day pull's task log (progress at a steady rhythm, a summary) and its XCom without a destination
(bounded, stopped while streaming)."""

from __future__ import annotations

import io
import itertools
import logging
import re

import pendulum
import pytest

from airflow_provider_ozonetel import progress
from airflow_provider_ozonetel.exceptions import OzonetelRequestError
from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRDetailsOperator
from airflow_provider_ozonetel.pacing import Clock
from airflow_provider_ozonetel.progress import Progress, Totals, duration
from tests.answers import CDR_URL, TOKEN, TOKEN_URL, cdr_body, cdr_record

RUN = pendulum.datetime(2026, 11, 20, 3, 30, tz="Asia/Kolkata")
CONTEXT = {"data_interval_start": RUN, "data_interval_end": RUN, "logical_date": RUN, "run_id": "manual_1"}
PROGRESS = "airflow_provider_ozonetel.progress"


@pytest.fixture
def vendor(requests_mock, hook):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    return requests_mock


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == PROGRESS]


# ---------------------------------------------------------------------------------- progress, pure
class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_every_interval_and_a_summary(caplog):
    caplog.set_level(logging.INFO, logger=PROGRESS)
    clock = Ticking()
    totals = Totals(rows=0, calls=0, requests=1, bytes_read=0)
    report = Progress("CDRs of 2026-11-19 (IST)", lambda: totals, monotonic=clock, every=30)
    clock.now += 29.9
    report.check()
    assert lines(caplog) == []  # not due yet
    clock.now += 0.1
    totals = Totals(rows=120_000, calls=61_234, requests=1, bytes_read=180_250_000)
    report.check()
    clock.now += 10
    report.check()  # the next line is due 30 s after the last one, not before
    clock.now += 42.5
    totals = Totals(rows=500_000, calls=250_001, requests=2, bytes_read=750_300_000)
    assert report.finish() == totals
    assert lines(caplog) == [
        "CDRs of 2026-11-19 (IST): 120,000 rows, 61,234 calls, 1 request(s), 180.2 MB read, "
        "4,000 rows/s, 30.0 s elapsed",
        "CDRs of 2026-11-19 (IST): done, 500,000 rows, 250,001 calls in 2 request(s), 750.3 MB read "
        "in 1 min 22 s (6,061 rows/s)",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0.0 s"), (59.94, "59.9 s"), (185, "3 min 05 s"), (3725, "1 h 02 min")]
)
def test_durations_read_like_a_clock(seconds, text):
    assert duration(seconds) == text


def test_totals_are_computed_only_when_a_line_is_due():
    clock = Ticking()
    asked = []
    report = Progress("x", lambda: asked.append(1) or Totals(0, 0, 0, 0), monotonic=clock, every=30)
    for _ in range(1000):
        report.check()
    assert asked == []


# ---------------------------------------------------------------------------------- the day operator
def test_a_long_day_pull_logs_progress_and_a_summary(vendor, caplog, monkeypatch, fake_clock):
    caplog.set_level(logging.INFO, logger=PROGRESS)
    monkeypatch.setattr(progress, "CHECK_EVERY_ROWS", 500)
    seconds = itertools.count(1000)  # each look at the clock is a second later
    clock = Clock(monotonic=lambda: float(next(seconds)), sleep=fake_clock.sleep, wall=fake_clock.wall)
    monkeypatch.setattr(progress, "EVERY_SECONDS", 2)
    body = cdr_body([cdr_record(i) for i in range(3000)])  # 3,000 legs of 1,500 calls
    vendor.get(CDR_URL, text=body)
    OzonetelCDRDetailsOperator(
        task_id="pull", cdr_date="2026-11-19", destination=None, hook_params={"clock": clock}
    ).execute(CONTEXT)

    *steps, summary = lines(caplog)
    # The clock is looked at every 500 rows, a second later each time: a line every 1,000 rows.
    mb = r"[0-9.]+ MB"
    assert len(steps) == 3
    for n, line in enumerate(steps, start=1):
        assert re.fullmatch(
            rf"CDRs of 2026-11-19 \(IST\): {n},000 rows, {n * 500:,} calls, 1 request\(s\), {mb} read, "
            rf"500 rows/s, {2 * n}.0 s elapsed",
            line,
        ), line
    assert summary == (
        "CDRs of 2026-11-19 (IST): done, 3,000 rows, 1,500 calls in 1 request(s), "
        f"{progress.megabytes(len(body))} read in 7.0 s (429 rows/s)"
    )


def test_bytes_read_count_the_answers_bytes(hook, vendor):
    body = cdr_body([cdr_record(i) for i in range(50)])
    vendor.get(CDR_URL, text=body)
    hook.get_cdr_details("2026-11-19")
    assert hook.bytes_received["fetchCDRDetails"] == len(body.encode())


# ---------------------------------------------------------------------------------- XCom
class _ReadTracker(io.BytesIO):
    """A body that remembers how far it was read (after the response closed it too)."""

    furthest = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.furthest = self.tell()
        return chunk


def test_without_a_destination_the_pull_stops_at_the_row_limit(vendor, fake_clock):
    body = cdr_body([cdr_record(i) for i in range(5_000)]).encode()
    raw = _ReadTracker(body)
    vendor.get(CDR_URL, body=raw)
    operator = OzonetelCDRDetailsOperator(
        task_id="pull",
        cdr_date="2026-11-19",
        destination=None,
        max_xcom_rows=100,
        hook_params={"clock": fake_clock.as_clock()},
    )
    with pytest.raises(OzonetelRequestError) as info:
        operator.execute(CONTEXT)
    assert str(info.value) == (
        "destination: without a destination the rows become the task's XCom, which lives in Airflow's "
        "metadata database, and 2026-11-19 has more than max_xcom_rows=100 rows (the pull stopped "
        "there). Set destination to a folder or file URL (e.g. 'file:///data/ozonetel/cdr/' or "
        "'s3://bucket/ozonetel/cdr/') to store the day, or narrow the pull (from_time/to_time, filters)"
    )
    assert (
        raw.closed and raw.furthest < len(body) / 10
    )  # stopped while streaming, long before the day was read
    assert operator.hook.bytes_received["fetchCDRDetails"] < len(body) / 10


def test_up_to_the_limit_the_rows_are_the_xcom(vendor, fake_clock):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(i) for i in range(100)]))
    rows = OzonetelCDRDetailsOperator(
        task_id="pull",
        cdr_date="2026-11-19",
        destination=None,
        max_xcom_rows=100,
        hook_params={"clock": fake_clock.as_clock()},
    ).execute(CONTEXT)
    assert len(rows) == 100


def test_the_default_limit_is_documented_and_checked():
    assert OzonetelCDRDetailsOperator(task_id="pull").max_xcom_rows == 5_000
    for bad in (-1, 1.5, True, "100"):
        with pytest.raises(ValueError, match="max_xcom_rows: expected an integer >= 0"):
            OzonetelCDRDetailsOperator(task_id="pull", max_xcom_rows=bad)
