"""The PostgreSQL load's pure parts: table names, the table from the row schema, the file's rows as
COPY's csv (the load itself runs against a real server: tests/integration/test_postgres_day.py)."""

from __future__ import annotations

import gzip
import io

import pytest

from airflow_provider_ozonetel.columns import row_columns
from airflow_provider_ozonetel.postgres_load import POSTGRES_TYPES, create_table_sql, quote_table


@pytest.mark.parametrize(
    ("table", "quoted"),
    [("ozonetel_cdr", '"ozonetel_cdr"'), ("warehouse.Ozonetel_CDR", '"warehouse"."Ozonetel_CDR"')],
)
def test_table_names_are_quoted(table, quoted):
    assert quote_table(table) == quoted


@pytest.mark.parametrize("table", ["", "a.b.c", "cdr; DROP TABLE x", '"cdr"', "1cdr", "a" * 64])
def test_anything_but_a_plain_table_name_is_refused(table):
    with pytest.raises(
        ValueError, match=r"table: .* is not a table name; use letters, digits and underscores"
    ):
        quote_table(table)


def test_the_table_has_a_typed_column_for_each_csv_column_and_a_call_date_index():
    create, index = create_table_sql("warehouse.ozonetel_cdr")
    assert create.startswith('CREATE TABLE IF NOT EXISTS "warehouse"."ozonetel_cdr" (')
    for column in row_columns():
        assert f'"{column.name}" {POSTGRES_TYPES[column.kind]}' in create
    assert '"ucid" text' in create and '"duration_seconds" bigint' in create
    assert '"start_time" timestamptz' in create and '"extra_fields" jsonb' in create
    assert index == (
        'CREATE INDEX IF NOT EXISTS "ozonetel_cdr_call_date_idx" ON "warehouse"."ozonetel_cdr" (call_date)'
    )


class _File:
    """What load_day_file reads: a name and open("rb") (an ObjectStoragePath, a pathlib.Path)."""

    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def open(self, mode: str):
        assert mode == "rb"
        return io.BytesIO(self._data)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("day.csv", b"UCID,CallID\n1,2\n", r"day.csv: its header is not the typed row's columns"),
        ("day.csv.gz", gzip.compress(b"UCID,CallID\n"), r"day.csv.gz: its header is not the typed row's"),
        ("day.jsonl", b"{}\n", r"day.jsonl: load a .csv, .csv.gz or .parquet file of typed rows"),
    ],
)
def test_a_file_that_is_not_typed_csv_or_parquet_is_refused_and_rolled_back(name, data, message):
    from airflow_provider_ozonetel.postgres_load import load_day_file

    class Cursor:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, sql, args=None):
            pass

        def copy(self, sql):
            raise AssertionError("nothing is copied from a refused file")

    class Connection:
        rolled_back = committed = False

        def cursor(self):
            return Cursor()

        def commit(self):
            self.committed = True

        def rollback(self):
            self.rolled_back = True

    connection = Connection()
    with pytest.raises(ValueError, match=message):
        load_day_file(connection, "ozonetel_cdr", "2026-11-19", _File(name, data))
    assert connection.rolled_back and not connection.committed
