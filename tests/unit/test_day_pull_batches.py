"""The day operator writes the same files, manifests and XComs as before batches (requests-mock).

``reference`` puts the day pull back as it was: ``streaming.iter_details`` hands out one record at
a time and every row is typed by ``records.normalize_cdr`` and written on its own. The same
answers then go through the operator both ways: files, manifests and results must be the same,
and a refused answer refused with the same error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import itertools
import json

import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_ozonetel import shapes
from airflow_provider_ozonetel.batches import Batch
from airflow_provider_ozonetel.emulator.data import Dataset
from airflow_provider_ozonetel.emulator.streaming import body_chunks
from airflow_provider_ozonetel.hooks import cdr as cdr_api
from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRDetailsOperator
from airflow_provider_ozonetel.streaming import iter_details
from tests.answers import CDR_URL, TOKEN, TOKEN_URL
from tests.unit.test_shapes import days

DAY = "2026-11-19"
RUN = pendulum.datetime(2026, 11, 20, 3, 30, tz="Asia/Kolkata")
CONTEXT = {"data_interval_start": RUN, "data_interval_end": RUN, "logical_date": RUN, "run_id": "r1"}
_runs = itertools.count()


def one_by_one(source, decode=None, **_):
    """``batches.iter_batches`` as it was before: ijson, a record at a time, no decoder."""
    records = iter_details(source)
    first = 0
    while True:
        try:
            record = next(records)
        except StopIteration as done:
            return done.value
        yield Batch(first, [record], decoded=False)
        first += 1


@contextlib.contextmanager
def reference(monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(cdr_api, "iter_batches", one_by_one)
        patched.setattr(shapes, "DayDecoder", lambda *args, **kwargs: None)
        yield


@pytest.fixture
def vendor(requests_mock, hook):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    return requests_mock


def pull(tmp_path, fake_clock, **kwargs) -> dict:
    """Run the operator into a fresh folder: its result, file and manifest, or its error."""
    folder = tmp_path / f"run{next(_runs)}"
    op = OzonetelCDRDetailsOperator(
        task_id="pull",
        destination=f"file://{folder}/",
        hook_params={"clock": fake_clock.as_clock()},
        **kwargs,
    )
    try:
        result = op.execute(CONTEXT)
    except Exception as exc:
        return {"error": (type(exc).__name__, str(exc)), "files": sorted(p.name for p in folder.glob("*"))}
    (data,) = [p for p in folder.iterdir() if not p.name.endswith(".manifest.json")]
    (manifest,) = folder.glob("*.manifest.json")
    fields = json.loads(manifest.read_text())
    fields.pop("pulled_at")
    raw = data.read_bytes()
    return {
        # the rate wait depends on the pulls before, in this process: not on how rows are made
        "result": {k: v for k, v in result.items() if k not in ("path", "rate_wait_seconds")},
        "file": gzip.decompress(raw) if kwargs.get("compression") else raw,
        "manifest": fields,
    }


def both_ways(tmp_path, fake_clock, monkeypatch, **kwargs) -> tuple[dict, dict]:
    fast = pull(tmp_path, fake_clock, **kwargs)
    with reference(monkeypatch):
        before = pull(tmp_path, fake_clock, **kwargs)
    return fast, before


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"file_format": "csv"},
        {"compression": "gzip"},
        {"file_format": "csv", "compression": "gzip"},
        {"window_hours": 6},
        {"normalize": False},
    ],
)
def test_an_emulator_day_is_pulled_exactly_as_before(tmp_path, fake_clock, monkeypatch, vendor, options):
    data = Dataset(seed=5, calls_per_day=1200, account="demo_user")
    body = b"".join(body_chunks(data.iter_day(dt.date(2026, 11, 19)), encode=data.encode_record))
    vendor.get(CDR_URL, content=body)
    fast, before = both_ways(tmp_path, fake_clock, monkeypatch, **options)
    assert "error" not in fast
    assert fast == before


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(day=days(), file_format=st.sampled_from(["jsonl", "csv"]))
def test_generated_days_are_pulled_exactly_as_before(
    tmp_path, fake_clock, monkeypatch, vendor, day, file_format
):
    body, one_order = day
    vendor.get(CDR_URL, content=body)
    fast, before = both_ways(tmp_path, fake_clock, monkeypatch, file_format=file_format)
    if one_order or "error" in before or file_format == "csv":
        assert fast == before
    else:  # records that disagree on their keys' order: the same rows, the same counts
        assert fast["result"] == before["result"]
        rows = [sorted(json.loads(line).items()) for line in fast["file"].splitlines()]
        assert rows == [sorted(json.loads(line).items()) for line in before["file"].splitlines()]


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_numbers_with_a_fraction_or_an_exponent_are_written_digit_for_digit(
    tmp_path, fake_clock, monkeypatch, vendor, file_format
):
    """The README promises fractions kept digit for digit: never through a float, on either path."""
    data = Dataset(seed=5, calls_per_day=3, account="demo_user")
    exact = ["1.12345678901234567890123", "4.5E+400", "0.100000000000000000000001"]
    pairs = zip(exact, reversed(exact), strict=True)  # each number once a rating, once an extra
    encoded = []
    for record, (rating, extra) in zip(data.iter_day(dt.date(2026, 11, 19)), pairs, strict=True):
        text = data.encode_record(record)
        text = text.replace('"Rating":', '"Rating_was":', 1).rstrip("}")
        encoded.append(f'{text},"Rating":{rating},"SurveyScore":{extra}}}'.encode())
    vendor.get(CDR_URL, content=b'{"status":"success","details":[' + b",".join(encoded) + b"]}")
    fast, before = both_ways(tmp_path, fake_clock, monkeypatch, file_format=file_format)
    assert "error" not in fast
    assert fast == before
    for digits in exact:
        assert fast["file"].count(digits.encode()) == 2  # once as a rating, once as the extra field
