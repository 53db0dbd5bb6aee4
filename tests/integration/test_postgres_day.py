"""``example_dags/ozonetel_cdr_to_postgres.py`` end to end: real Airflow (dag.test), the emulator, and
a real PostgreSQL server started for this module (``postgres_server.py``). The table holds exactly
the emulator's rows of the day, typed; a second run leaves the same table; other days are kept; a
csv day loads to the same rows; a failed load changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.columns import Kind, row_columns
from airflow_provider_ozonetel.emulator import run_emulator
from airflow_provider_ozonetel.records import normalize_cdr
from tests.integration.airflow_runs import keep_for_matrix, run_dag
from tests.integration.postgres_server import postgres_server, why_unavailable

pytestmark = pytest.mark.integration

if (_reason := why_unavailable()) is not None:
    pytest.skip(_reason, allow_module_level=True)
pytest.importorskip(
    "airflow.providers.postgres", reason="apache-airflow-providers-postgres is in the test extras"
)
pytest.importorskip("pyarrow", reason="pyarrow (the [parquet] extra) is in the test extras")

API_KEY = "pg-secret-key-5120"
# Readable in the historical store whenever we run; make test-matrix sets one day for all versions.
DAY = (
    dt.date.fromisoformat(os.environ["OZONETEL_MATRIX_DAY"])
    if os.environ.get("OZONETEL_MATRIX_DAY")
    else calendar.today_ist() - dt.timedelta(days=2)
)
# The example runs at 03:45 IST and pulls the IST day before its logical date.
LOGICAL = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(3, 45), tzinfo=calendar.IST)
COLUMNS = [column.name for column in row_columns()]


@pytest.fixture(scope="module")
def server():
    with postgres_server() as running:
        yield running


@pytest.fixture
def emulator(server, airflow_db, monkeypatch):
    with run_emulator(user="pg_user", api_key=API_KEY, calls_per_day=200, minute_seconds=0.2, seed=11) as emu:
        conn = {"conn_type": "ozonetel", "host": emu.base_url, "login": emu.user, "password": API_KEY}
        monkeypatch.setenv("AIRFLOW_CONN_OZONETEL_DEFAULT", json.dumps(conn))
        monkeypatch.setenv("AIRFLOW_CONN_PG_TEST", server.uri)
        yield emu


def query(sql: str, *args) -> list[tuple]:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    connection = PostgresHook(postgres_conn_id="pg_test").get_conn()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args or None)
            rows = cursor.fetchall() if cursor.description else []
        connection.commit()
        return rows
    finally:
        connection.close()


def table_rows(table: str) -> list[tuple]:
    names = ", ".join(f'"{name}"' for name in COLUMNS)
    return query(f"SELECT {names} FROM {table} WHERE call_date = %s ORDER BY ucid", DAY)


def as_stored(kind: Kind, value):
    """A typed row's value as PostgreSQL gives it back (timestamptz: the same instant)."""
    if value is None:
        return None
    if kind in (Kind.TIME_IST, Kind.TIME_UTC):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind is Kind.DATE:
        return dt.date.fromisoformat(value)
    if kind is Kind.NUMBER:
        return float(value)
    return value


def expected_rows(emu) -> list[tuple]:
    rows = [normalize_cdr(record) for record in emu.dataset.iter_day(DAY)]
    kinds = [column.kind for column in row_columns()]
    typed = [
        tuple(as_stored(kind, row.get(name)) for name, kind in zip(COLUMNS, kinds, strict=True))
        for row in rows
    ]
    return sorted(typed, key=lambda row: row[COLUMNS.index("ucid")])


def test_the_example_loads_exactly_the_days_rows_and_a_rerun_gives_the_same_table(emulator, tmp_path):
    conf = {
        "destination": f"file://{tmp_path}/",
        "postgres_conn_id": "pg_test",
        "table": "ozonetel_cdr",
        "hook_params": {"rate_window_seconds": 0.2},
    }
    first = run_dag("ozonetel_cdr_to_postgres", logical_date=LOGICAL, conf=conf)
    assert first.state == "success", first.states
    assert (tmp_path / f"ozonetel_cdr_{DAY.isoformat()}.parquet").exists()
    expected = expected_rows(emulator)
    loaded = table_rows("ozonetel_cdr")
    assert len(loaded) == len(expected) == first.xcoms["pull_day"]["rows"] > 0
    assert first.xcoms["load_day"] == {
        "cdr_date": DAY.isoformat(),
        "table": "ozonetel_cdr",
        "rows": len(expected),
    }
    assert loaded == expected
    keep_for_matrix(
        "ozonetel_cdr_to_postgres",
        {
            "pulled.parquet": (tmp_path / f"ozonetel_cdr_{DAY.isoformat()}.parquet").read_bytes(),
            # timestamps as ISO text: psycopg's tzinfo object (its repr) differs between versions
            "table.txt": "\n".join(
                repr(tuple(v.isoformat() if isinstance(v, dt.date) else v for v in row)) for row in loaded
            ).encode(),
        },
    )
    types = dict(
        query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
            "ozonetel_cdr",
        )
    )
    assert types["ucid"] == "text" and types["duration_seconds"] == "bigint"
    assert types["start_time"] == "timestamp with time zone" and types["call_date"] == "date"
    assert types["extra_fields"] == "jsonb"

    # another day's row, loaded earlier, must survive a reload of this day
    query("INSERT INTO ozonetel_cdr (ucid, call_date) VALUES ('1', %s)", DAY - dt.timedelta(days=1))
    second = run_dag("ozonetel_cdr_to_postgres", logical_date=LOGICAL, conf=conf)
    assert second.state == "success", second.states
    assert table_rows("ozonetel_cdr") == loaded
    assert query("SELECT count(*) FROM ozonetel_cdr")[0][0] == len(expected) + 1


def test_a_csv_day_loads_the_same_rows_and_a_failed_load_changes_nothing(emulator, tmp_path):
    from airflow.providers.common.compat.sdk import ObjectStoragePath
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRDetailsOperator
    from airflow_provider_ozonetel.postgres_load import load_day_file

    pulled = OzonetelCDRDetailsOperator(
        task_id="pull_csv",
        cdr_date=DAY.isoformat(),
        destination=f"file://{tmp_path}/",
        file_format="csv",
        compression="gzip",
        hook_params={"rate_window_seconds": 0.2},
    ).execute(context={})
    path = ObjectStoragePath(pulled["path"])
    connection = PostgresHook(postgres_conn_id="pg_test").get_conn()
    try:
        assert (
            load_day_file(connection, "warehouse_csv", DAY, path, expected_rows=pulled["rows"])
            == pulled["rows"]
        )
        assert table_rows("warehouse_csv") == expected_rows(emulator)

        with pytest.raises(ValueError, match="rolled back, the table is unchanged"):
            load_day_file(connection, "warehouse_csv", DAY, path, expected_rows=pulled["rows"] + 1)
        assert table_rows("warehouse_csv") == expected_rows(emulator)
    finally:
        connection.close()
