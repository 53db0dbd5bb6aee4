"""The compiled shapes write exactly the rows (and raise exactly the errors) of the general way.

The reference is the day pull before batches: ``streaming.iter_details`` reads one record at a
time, ``record_checks`` checks it, ``records.normalize_cdr`` types it, and the writers write it row
by row. The fast way is ``batches.iter_batches`` with a ``shapes.DayDecoder``, its batches written
by the writers' ``write_batch``. Both run on the emulator's days and on generated records; the
files they write must be the same, byte for byte (or, where records disagree on their key order,
row for row), and a refused record must be refused with the same message.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_ozonetel.batches import iter_batches
from airflow_provider_ozonetel.emulator.data import Dataset
from airflow_provider_ozonetel.emulator.streaming import body_chunks
from airflow_provider_ozonetel.record_checks import check_cdr_record
from airflow_provider_ozonetel.records import CSV_COLUMNS, normalize_cdr
from airflow_provider_ozonetel.scrub import RowScrubber
from airflow_provider_ozonetel.shapes import DayDecoder, FastBatch
from airflow_provider_ozonetel.sink import _CsvWriter, _JsonlWriter
from airflow_provider_ozonetel.streaming import iter_details
from tests.answers import SEED_CDR
from tests.unit.test_batches import Chunked

DAY = "2026-11-19"
KEY = "sekret-api-key-4711"


def _writer(file_format: str, stream: io.BytesIO):
    scrubber = RowScrubber([KEY])
    if file_format == "jsonl":
        return _JsonlWriter(stream, scrubber=scrubber)
    return _CsvWriter(stream, CSV_COLUMNS, scrubber=scrubber)


def write_rows(writer, body: bytes, day: str = DAY) -> None:
    """The day pull before batches: each record read, checked, typed and written alone."""
    for index, record in enumerate(iter_details(io.BytesIO(body))):
        check_cdr_record(record, day, index)
        writer.write(normalize_cdr(record))


def write_batches(writer, body: bytes, decoder: DayDecoder, chunk: int, day: str = DAY) -> None:
    """The day pull through batches: typed batches to ``write_batch``, the others row by row."""
    for batch in iter_batches(Chunked(body, chunk), decoder, chunk_bytes=chunk):
        if isinstance(batch.records, FastBatch):
            writer.write_batch(batch.records)
            continue
        for offset, record in enumerate(batch.records):
            check_cdr_record(record, day, batch.first + offset)
            writer.write(normalize_cdr(record))


def reference_file(body: bytes, file_format: str, day: str = DAY) -> tuple[bytes, str | None]:
    """The file the day pull wrote before batches, or the error it raised."""
    stream = io.BytesIO()
    writer = _writer(file_format, stream)
    try:
        write_rows(writer, body, day)
        writer.finish()
    except ValueError as exc:
        return b"", str(exc)
    return stream.getvalue(), None


def fast_file(
    body: bytes, file_format: str, chunk: int, day: str = DAY
) -> tuple[bytes, str | None, DayDecoder]:
    """The file written through batches and compiled shapes, or the error raised."""
    stream = io.BytesIO()
    writer = _writer(file_format, stream)
    decoder = DayDecoder(day, file_format=file_format, csv_columns=CSV_COLUMNS)
    try:
        write_batches(writer, body, decoder, chunk, day)
        writer.finish()
    except ValueError as exc:
        return b"", str(exc), decoder
    return stream.getvalue(), None, decoder


def rows_of(data: bytes, file_format: str) -> list:
    """The rows of a file, whatever their keys' order."""
    if file_format == "jsonl":
        return [msgspec.json.decode(line) for line in data.splitlines()]
    return data.splitlines()


# ---------------------------------------------------------------- the emulator's days


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_emulator_days_are_written_byte_for_byte_as_before_and_all_the_fast_way(file_format):
    data = Dataset(seed=3, calls_per_day=1500, account="demo_user")
    for day in (dt.date(2026, 11, 18), dt.date(2026, 11, 19)):
        body = b"".join(body_chunks(data.iter_day(day), encode=data.encode_record))
        expected, error = reference_file(body, file_format, day.isoformat())
        assert error is None
        written, error, decoder = fast_file(body, file_format, 1 << 16, day.isoformat())
        assert error is None
        assert written == expected
        assert decoder.general_batches == 0 and decoder.fast_batches > 5


@pytest.mark.parametrize("day", ["2026-11-19", "2026-01-01", "2024-03-01", "2028-12-31"])
def test_the_days_utc_minutes_are_those_records_places_times_at(day):
    from airflow_provider_ozonetel import records
    from airflow_provider_ozonetel.shapes import _utc_minutes

    expected = {
        f"{h:02d}:{m:02d}": records._utc(f"{day}T{h:02d}:{m:02d}:00+05:30")[:16]
        for h in range(24)
        for m in range(60)
    }
    assert _utc_minutes(f"{day}T") == expected


# ---------------------------------------------------------------- generated records

_TEXT = st.text(alphabet=st.sampled_from('ab Z}]{",:\\\n\u00e9\u2028/-0'), max_size=8)
_KEYISH = st.sampled_from([KEY, "x" + KEY, KEY.upper(), KEY.replace("-", "%2D")])
_ODD = st.one_of(
    st.sampled_from(["", "None", None, True, False, 0, -1, "null", " ", "None "]),
    _TEXT,
    _KEYISH,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(_TEXT, _TEXT, max_size=2),
)


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


# What the vendor sends, by field kind; and what it might send on a bad day.
_GOOD = {
    "duration": st.one_of(st.integers(0, 4000).map(_clock), st.integers(0, 400_000).map(_clock)),
    "time": st.integers(0, 86_399).map(_clock),
    "id": st.integers(min_value=0, max_value=2**66),
    "rating": st.integers(0, 5),
}
_BAD = {
    "duration": st.sampled_from(["0:00:05", "00:60:00", "00:00:5", "1:2:3", "aa:bb:cc", "", "None", None]),
    "time": st.one_of(
        st.integers(0, 86_399).map(lambda s: f"{DAY} {_clock(s)}"),
        st.sampled_from(["24:00:00", "12:60:00", "1:00:00", "12:00", "2026-11-19T10:00:00", "", None]),
    ),
    "id": st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(str), st.sampled_from(["00123", " 7 "])
    ),
    "rating": st.sampled_from(["4", "4.5", "x", "", 4.5, None]),
}
_KINDS = {
    **dict.fromkeys(
        [
            "ConferenceDuration",
            "CustomerRingTime",
            "Duration",
            "HandlingTime",
            "HoldDuration",
            "TalkTime",
            "TimeToAnswer",
            "WrapupDuration",
        ],
        "duration",
    ),
    **dict.fromkeys(["StartTime", "EndTime", "PickupTime", "WrapUpStartTime", "WrapUpEndTime"], "time"),
    "UCID": "id",
    "CallID": "id",
    "Rating": "rating",
}
# Keys a record may carry besides the seed's: new ones, and other spellings of the seed's own.
_EXTRA_KEYS = {"MonitorUCID": None, "SomeNewField": None, "Apikey": None, "Did": "DID", "call_id": "CallID"}
_ALIAS_ONLY = {"calldate": "CallDate", "Ucid": "UCID"}  # replaces the seed's key


@st.composite
def days(draw) -> tuple[bytes, bool]:
    """A fetchCDRDetails body of DAY; and whether all its records list their keys in one order."""
    keys = list(SEED_CDR)
    for alias, key in _ALIAS_ONLY.items():
        if draw(st.integers(0, 9)) == 0:
            keys[keys.index(key)] = alias
    extra = draw(st.lists(st.sampled_from(sorted(_EXTRA_KEYS)), max_size=2, unique=True))
    dropped = draw(st.lists(st.sampled_from(keys), max_size=2, unique=True)) if draw(st.booleans()) else []
    keys = [key for key in keys if key not in dropped] + extra
    if draw(st.booleans()):
        keys = draw(st.permutations(keys))
    odd_rate = draw(st.sampled_from([0.0, 0.0, 0.002, 0.01, 0.05]))
    shuffle_rate = draw(st.sampled_from([0.0, 0.0, 0.1]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    records, one_order = [], True
    for n in range(draw(st.integers(1, 60))):
        record = {}
        for key in keys:
            kind = _KINDS.get(_ALIAS_ONLY.get(key, key))
            odd = rng.random() < odd_rate
            if key in ("CallDate", "calldate"):
                value = DAY if not odd else draw(st.sampled_from(["2026-11-18", "", None]))
            elif kind is not None:
                value = draw(_BAD[kind] if odd else _GOOD[kind])
            elif odd:
                value = draw(_ODD)
            elif key in SEED_CDR:
                value = SEED_CDR[key] if rng.random() < 0.7 else rng.choice(["", "None", "x y", KEY[:4]])
            else:
                value = draw(st.one_of(_TEXT, st.integers()))
            record[key] = value
        for alias, key in _EXTRA_KEYS.items():  # another spelling mostly agrees with the seed's key
            if key and alias in record and key in record and rng.random() < 0.9:
                record[alias] = record[key]
        for ucid in ("UCID", "Ucid"):
            if ucid in record and rng.random() < 0.97:
                record[ucid] = 31733467784618299 + n  # mostly distinct legs; sometimes a repeat
        if rng.random() < shuffle_rate:
            items = list(record.items())
            rng.shuffle(items)
            record = dict(items)
            one_order = False
        records.append(record)
    body = json.dumps(
        {"details": records, "message": "success", "status": "success"},
        default=str,
        ensure_ascii=draw(st.booleans()),
        separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])),
    )
    return body.encode(), one_order


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=days(), file_format=st.sampled_from(["jsonl", "csv"]), chunk=st.sampled_from([700, 4096, 1 << 18]))
def test_generated_days_are_written_as_the_general_way_writes_them(day, file_format, chunk):
    body, one_order = day
    expected, expected_error = reference_file(body, file_format)
    written, error, _ = fast_file(body, file_format, chunk)
    assert error == expected_error
    if one_order or file_format == "csv":
        assert written == expected
    else:
        assert rows_of(written, file_format) == rows_of(expected, file_format)


def test_a_clean_generated_day_goes_the_fast_way():
    records = [dict(SEED_CDR, CallDate=DAY, UCID=31733467784618299 + n) for n in range(400)]
    body = json.dumps({"details": records, "message": "success", "status": "success"}).encode()
    for file_format in ("jsonl", "csv"):
        written, error, decoder = fast_file(body, file_format, 4096)
        assert error is None and written == reference_file(body, file_format)[0]
        assert decoder.general_batches == 0 and decoder.fast_batches > 10


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_a_batch_holding_the_key_is_written_row_by_row_and_scrubbed(file_format):
    records = [dict(SEED_CDR, CallDate=DAY, UCID=31733467784618299 + n) for n in range(50)]
    records[7]["Comments"] = f"key was {KEY}"
    body = json.dumps({"details": records, "message": "success", "status": "success"}).encode()
    written, error, _ = fast_file(body, file_format, 1 << 18)
    assert error is None and KEY.encode() not in written
    assert written == reference_file(body, file_format)[0]


# ---------------------------------------------------------------- Parquet: the batch's columns


def _parquet_tables(body: bytes, chunk: int) -> tuple[object, object, DayDecoder]:
    """The Parquet file written row by row from the general way's rows, and from batches' columns."""
    pq = pytest.importorskip("pyarrow.parquet")
    from airflow_provider_ozonetel.parquet import ParquetRowWriter

    def table(write) -> object:
        stream = io.BytesIO()
        writer = ParquetRowWriter(stream, row_group_rows=97, scrubber=RowScrubber([KEY]))
        write(writer)
        writer.finish()
        return pq.read_table(io.BytesIO(stream.getvalue()))

    decoder = DayDecoder(DAY, file_format="parquet")
    expected = table(lambda writer: write_rows(writer, body))
    return expected, table(lambda writer: write_batches(writer, body, decoder, chunk)), decoder


def test_parquet_from_batch_columns_is_the_file_rows_make():
    records = [dict(SEED_CDR, CallDate=DAY, UCID=31733467784618299 + n, NewField=n) for n in range(300)]
    records[7]["Comments"] = "call back on " + KEY  # the key: that batch goes row by row, scrubbed
    records[9]["EndTime"] = "00:00:01"  # across midnight: on the next day
    body = json.dumps({"details": records, "message": "success", "status": "success"}).encode()
    expected, written, decoder = _parquet_tables(body, 4096)
    assert decoder.fast_batches > 5
    assert written.equals(expected)
    assert written.num_rows == 300 and KEY not in json.dumps(written.to_pylist(), default=str)
    assert json.loads(written.column("extra_fields")[0].as_py()) == {"new_field": 0}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=days(), chunk=st.sampled_from([700, 1 << 18]))
def test_parquet_from_generated_days_is_the_file_rows_make(day, chunk):
    body, _ = day
    if reference_file(body, "jsonl")[1] is not None:
        return  # refused records: the jsonl and csv comparisons above cover the errors
    expected, written, _ = _parquet_tables(body, chunk)
    assert written.equals(expected)
