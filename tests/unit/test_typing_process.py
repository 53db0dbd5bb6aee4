"""typing_process reads and types an answer in a child process exactly as the pull does in one.

The reference is ``batches.iter_batches`` with a ``shapes.DayDecoder`` in this process: for the
emulator's days, generated days and odd answers of every kind, the child's batches hold the same
records (the same rows, encoded for the file, byte for byte), the same checks' inputs (UCID keys,
times, CallIDs, whether a row may hold the key), at the same places, and the answer ends the same
way: the same envelope, or the same error after the same batches. Each test forks real children.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
import os
import signal
import sys

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings

from airflow_provider_ozonetel import typing_process
from airflow_provider_ozonetel.batches import iter_batches
from airflow_provider_ozonetel.emulator.data import Dataset
from airflow_provider_ozonetel.emulator.streaming import body_chunks
from airflow_provider_ozonetel.records import CSV_COLUMNS
from airflow_provider_ozonetel.scrub import RowScrubber
from airflow_provider_ozonetel.shapes import DayDecoder, FastBatch
from airflow_provider_ozonetel.typing_process import RemoteBatch, TypingProcess, TypingProcessFailed
from tests.answers import SEED_CDR
from tests.fuzz_bodies import cases
from tests.unit.test_batches import drain, outcome
from tests.unit.test_shapes import DAY, KEY, days

SCRUBBER = RowScrubber([KEY])


def in_process(body: bytes, file_format: str, day: str = DAY) -> tuple[list, object]:
    decoder = DayDecoder(day, file_format=file_format, csv_columns=CSV_COLUMNS)
    return drain(iter_batches(io.BytesIO(body), decoder))


def in_child(body: bytes, file_format: str, day: str = DAY, source=None) -> tuple[list, object]:
    process = TypingProcess(day, file_format=file_format, csv_columns=CSV_COLUMNS, scrubber=SCRUBBER)
    return drain(process.read_batches(source or io.BytesIO(body)))


def seen(batch, file_format: str) -> tuple:
    """What a pull reads of a batch: where it is, its rows as written, and the checks' inputs."""
    records = batch.records
    if records.__class__ is list:
        return (batch.first, batch.decoded, "dicts", records)
    rows = records.jsonl_lines() if file_format == "jsonl" else records.csv_text()
    times = [records.leg_times(at) for at in range(len(records))]
    checks = (records.ucid_keys(), times, records.leg_call_ids(), records.may_hold(SCRUBBER))
    return (batch.first, batch.decoded, batch.span, len(records), rows, checks)


def assert_same(body: bytes, file_format: str, day: str = DAY) -> list:
    found, end = in_child(body, file_format, day)
    expected, expected_end = in_process(body, file_format, day)
    assert [seen(batch, file_format) for batch in found] == [seen(batch, file_format) for batch in expected]
    assert outcome(end) == outcome(expected_end)
    return found


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_emulator_days_come_back_byte_for_byte_and_all_typed_in_the_child(file_format):
    data = Dataset(seed=3, calls_per_day=1500, account="demo_user")
    for day in (dt.date(2026, 11, 18), dt.date(2026, 11, 19)):
        body = b"".join(body_chunks(data.iter_day(day), encode=data.encode_record))
        found = assert_same(body, file_format, day.isoformat())
        assert len(found) > 5 and all(isinstance(batch.records, RemoteBatch) for batch in found)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=days())
def test_generated_days_come_back_as_the_pull_reads_them_in_process(day):
    body, _ = day
    assert_same(body, "jsonl")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_odd_answers_end_as_they_end_in_process(case):
    """Cut off, not JSON, BOMs, other encodings, nesting, vendor errors: same batches, same end."""
    assert_same(case.body, "csv")


@pytest.mark.parametrize("depth", [500, 900, 990, 1200, 5000, 200_000])
def test_records_nested_as_deep_as_the_reader_takes_cross_to_this_process(depth):
    """Pickling nests deeper than decoding: a record the reader took must still reach the parent."""
    body = b'{"status":"success","details":[{"a":' + b"[" * depth + b"]" * depth + b"}]}"
    found, end = in_child(body, "jsonl")
    expected, expected_end = in_process(body, "jsonl")
    assert outcome(end) == outcome(expected_end)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(4 * limit)  # comparing nested lists recurses as deep as they nest
    try:
        assert [seen(batch, "jsonl") for batch in found] == [seen(batch, "jsonl") for batch in expected]
    finally:
        sys.setrecursionlimit(limit)


def test_what_the_writers_need_as_objects_is_typed_here_from_the_kept_bytes():
    records = [dict(SEED_CDR, CallDate=DAY, UCID=31733467784618299 + n) for n in range(600)]
    body = json.dumps({"details": records, "status": "success"}).encode()
    found, _ = in_child(body, "jsonl")
    expected, _ = in_process(body, "jsonl")
    assert len(found) == len(expected) > 1
    for remote, local in zip(found, expected, strict=True):
        assert isinstance(local.records, FastBatch)
        assert remote.records.dicts() == local.records.dicts()
        # row structs of two decoders are of two classes: compared as what msgspec makes of them
        encode = msgspec.json.encode
        assert encode(remote.records.jsonl_rows()) == encode(local.records.jsonl_rows())
        keep = list(range(0, len(local.records), 3))
        assert remote.records.select(keep).jsonl_lines() == local.records.select(keep).jsonl_lines()


def test_a_row_with_the_key_is_flagged_for_the_writers_to_scrub():
    records = [dict(SEED_CDR, CallDate=DAY, UCID=31733467784618299 + n) for n in range(50)]
    records[7]["Comments"] = f"key was {KEY}"
    body = json.dumps({"details": records, "status": "success"}).encode()
    (batch,), _ = in_child(body, "csv")
    assert batch.records.may_hold(SCRUBBER)


class FailsAfter(io.RawIOBase):
    """A socket that delivers ``good`` bytes, then fails."""

    def __init__(self, data: bytes, good: int):
        self._data, self._good, self._at = data, good, 0

    def read(self, size: int = -1) -> bytes:
        if self._at >= self._good:
            raise ConnectionResetError("connection reset by peer")
        chunk = self._data[self._at : min(self._at + size, self._good)]
        self._at += len(chunk)
        return chunk


def test_a_read_error_is_raised_here_after_the_batches_read_before_it():
    records = [dict(SEED_CDR, CallDate=DAY, UCID=31733467784618299 + n) for n in range(3000)]
    body = json.dumps({"details": records, "status": "success"}).encode()
    good = 3 * (1 << 18)  # three whole chunks arrive
    found, end = in_child(body, "jsonl", source=FailsAfter(body, good))
    expected, expected_end = drain(iter_batches(FailsAfter(body, good), DayDecoder(DAY, file_format="jsonl")))
    assert isinstance(end, ConnectionResetError) and isinstance(expected_end, ConnectionResetError)
    assert [seen(b, "jsonl") for b in found] == [seen(b, "jsonl") for b in expected]
    assert found, "batches before the error"


def test_a_child_that_dies_is_a_clear_error(monkeypatch):
    forked: list[int] = []
    fork = TypingProcess._fork

    def remembering(self):
        pid, results, answer = fork(self)
        forked.append(pid)
        return pid, results, answer

    monkeypatch.setattr(TypingProcess, "_fork", remembering)
    records = [dict(SEED_CDR, CallDate=DAY, UCID=31733467784618299 + n) for n in range(3000)]
    body = json.dumps({"details": records, "status": "success"}).encode()
    process = TypingProcess(DAY, file_format="jsonl", csv_columns=None, scrubber=SCRUBBER)
    batches = process.read_batches(io.BytesIO(body))
    next(batches)
    os.kill(forked[0], signal.SIGKILL)
    with pytest.raises(TypingProcessFailed, match=r"the typing process ended without an answer \(signal 9\)"):
        for _ in batches:
            pass


def test_the_child_is_gone_once_the_reader_is_closed_early(monkeypatch):
    forked: list[int] = []
    fork = TypingProcess._fork
    monkeypatch.setattr(TypingProcess, "_fork", lambda self: forked.append((got := fork(self))[0]) or got)
    records = [dict(SEED_CDR, CallDate=DAY, UCID=31733467784618299 + n) for n in range(3000)]
    body = json.dumps({"details": records, "status": "success"}).encode()
    batches = TypingProcess(DAY, file_format="jsonl", csv_columns=None, scrubber=SCRUBBER).read_batches(
        io.BytesIO(body)
    )
    next(batches)
    batches.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(forked[0], os.WNOHANG)  # reaped already: no zombie left behind


def test_the_bytes_kept_here_stay_few_whatever_the_answer(monkeypatch):
    """A day typed in the child, then an answer handed over to ijson whole (it begins with a byte
    order mark, which only ijson's reader takes): this process keeps a few chunks at most."""
    most: list[int] = [0]

    class Watched(typing_process._Window):
        def add(self, chunk: bytes) -> None:
            super().add(chunk)
            most[0] = max(most[0], self.kept)

    monkeypatch.setattr(typing_process, "_Window", Watched)
    records = [dict(SEED_CDR, CallDate=DAY, UCID=31733467784618299 + n) for n in range(12_000)]
    typed = json.dumps({"details": records, "status": "success"}).encode()
    handed = codecs.BOM_UTF8 + typed
    for body, decoded in ((typed, True), (handed, False)):
        most[0] = 0
        found, end = in_child(body, "jsonl")
        assert end is not None and not isinstance(end, Exception)
        assert sum(len(batch.records) for batch in found) == len(records)
        assert {batch.decoded for batch in found} == {decoded}
        assert len(body) > 12 * (1 << 20) and most[0] < 5 * (1 << 20)


def test_only_jsonl_and_csv():
    with pytest.raises(ValueError, match="jsonl or csv, not 'parquet'"):
        TypingProcess(DAY, file_format="parquet", csv_columns=None, scrubber=SCRUBBER)


def test_pipes_are_widened_where_the_system_allows():
    import fcntl
    import pathlib

    most = int(pathlib.Path("/proc/sys/fs/pipe-max-size").read_text())
    read, write = os.pipe()
    try:
        typing_process._widen(write)
        size = fcntl.fcntl(write, fcntl.F_GETPIPE_SZ)  # type: ignore[attr-defined]
        assert size >= min(typing_process.PIPE_BYTES, most) > 1 << 16
    finally:
        os.close(read)
        os.close(write)
