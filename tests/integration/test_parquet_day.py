"""One emulator day pulled as jsonl and as parquet (real HTTP): pyarrow and DuckDB read the Parquet
file back with the documented types and exactly the values of the jsonl rows."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.emulator import run_emulator
from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRDetailsOperator

pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the [parquet] extra) is in the test extras")
duckdb = pytest.importorskip("duckdb", reason="duckdb is in the test extras")

pytestmark = pytest.mark.integration

DAY = calendar.today_ist() - dt.timedelta(days=2)
TIMES = ("start_time", "end_time", "pickup_time", "wrap_up_start_time", "wrap_up_end_time")


@pytest.fixture(scope="module")
def pulled(tmp_path_factory):
    """The same day as jsonl and as parquet; the emulator's truth."""
    folder = tmp_path_factory.mktemp("day")
    with run_emulator(
        user="pq_user", api_key="pq-key-1", calls_per_day=400, minute_seconds=0.2, seed=7
    ) as emu:
        conn = {"conn_type": "ozonetel", "host": emu.base_url, "login": emu.user, "password": "pq-key-1"}
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AIRFLOW_CONN_OZONETEL_DEFAULT", json.dumps(conn))
            results = {
                file_format: OzonetelCDRDetailsOperator(
                    task_id=f"pull_{file_format}",
                    cdr_date=DAY.isoformat(),
                    destination=f"file://{folder}/",
                    file_format=file_format,
                    hook_params={"rate_window_seconds": 0.2},
                ).execute(context={})
                for file_format in ("jsonl", "parquet")
            }
        truth = {str(ucid) for ucid in emu.dataset.ucids(DAY)}
    rows = [json.loads(line) for line in (folder / f"ozonetel_cdr_{DAY}.jsonl").read_text().splitlines()]
    return results, rows, folder / f"ozonetel_cdr_{DAY}.parquet", truth


def instant(text):
    return None if text is None else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_pyarrow_reads_the_days_rows_typed_and_equal_to_jsonl(pulled):
    results, rows, parquet_path, truth = pulled
    assert results["parquet"]["rows"] == results["jsonl"]["rows"] == len(rows) == len(truth)
    assert results["parquet"]["calls"] == results["jsonl"]["calls"]
    table = pq.read_table(parquet_path)
    types = {field.name: str(field.type) for field in table.schema}
    assert types["ucid"] == "string" and types["duration_seconds"] == "int64"
    assert types["start_time_utc"] == "timestamp[us, tz=UTC]" and types["call_date"] == "date32[day]"
    by_ucid = {row["ucid"]: row for row in table.to_pylist()}
    assert set(by_ucid) == truth
    for expected in rows:
        got = by_ucid[expected["ucid"]]
        for column, value in expected.items():
            if column == "call_date":
                assert got[column] == dt.date.fromisoformat(value)
            elif column in ("start_time_utc", "end_time_utc"):
                assert got[column] == instant(value), column
            else:
                assert got[column] == value, column
        for column in TIMES:  # every IST time has its instant
            assert got[f"{column}_utc"] == instant(expected.get(column)), column
        assert got["extra_fields"] is None
    assert any(instant(r["end_time"]).date() > DAY for r in rows), "a call across midnight"


def test_duckdb_reads_the_same_values_with_sql_types(pulled):
    _, rows, parquet_path, truth = pulled
    connection = duckdb.connect()
    query = f"DESCRIBE SELECT * FROM '{parquet_path}'"
    described = {name: kind for name, kind, *_ in connection.execute(query).fetchall()}
    assert described["ucid"] == "VARCHAR"
    assert described["duration_seconds"] == "BIGINT"
    assert described["call_date"] == "DATE"
    assert described["start_time_utc"] == "TIMESTAMP WITH TIME ZONE"
    assert described["rating"] == "DOUBLE"
    count, calls, seconds, first, last = connection.execute(
        "SELECT count(*), count(DISTINCT call_id), sum(duration_seconds), "
        f"epoch(min(start_time_utc)), epoch(max(start_time_utc)) FROM '{parquet_path}'"
    ).fetchone()
    assert count == len(truth)
    assert calls == len({row["call_id"] for row in rows})
    assert seconds == sum(row["duration_seconds"] or 0 for row in rows)
    starts = [instant(row["start_time_utc"]).timestamp() for row in rows]
    assert (first, last) == (min(starts), max(starts))
    day_of = connection.execute(f"SELECT DISTINCT call_date FROM '{parquet_path}'").fetchall()
    assert day_of == [(DAY,)]
