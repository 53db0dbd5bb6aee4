"""Load one day file of typed rows into a PostgreSQL table, idempotently. No Airflow import.

What ``example_dags/ozonetel_cdr_to_postgres.py`` runs after the day pull, on a DB-API connection
from ``PostgresHook.get_conn()`` (psycopg2 or psycopg 3, whichever the Postgres provider uses on
that Airflow):

* the table is created when missing, from the published row schema (``columns.row_columns()``:
  the CSV header's columns, PostgreSQL types below), with an index on ``call_date``;
* in **one transaction**: a transaction-scoped advisory lock for the table, so two loads never
  interleave; ``DELETE`` of the day's rows; ``COPY ... FROM STDIN`` of the file; then a
  check that the table holds exactly the file's rows for the day. Any failure rolls back: the
  table keeps its earlier rows for the day, never a half of them;
* the file is a csv (optionally ``.gz``) or a parquet file written by the operators (typed rows);
  csv is streamed to ``COPY`` as is (its header is checked first), parquet is read a row group at a
  time and turned into csv on the way (needs pyarrow).

Types: ids and text ``text``; ``*_seconds`` ``bigint``; ``rating`` ``double precision``;
``call_date`` ``date``; every time (IST and UTC twins alike) ``timestamptz``; ``extra_fields``
``jsonb``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from airflow_provider_ozonetel.columns import Column, Kind, row_columns

__all__ = ["POSTGRES_TYPES", "create_table_sql", "load_day_file", "quote_table"]

POSTGRES_TYPES = {
    Kind.STRING: "text",
    Kind.INTEGER: "bigint",
    Kind.NUMBER: "double precision",
    Kind.DATE: "date",
    Kind.TIME_IST: "timestamptz",
    Kind.TIME_UTC: "timestamptz",
    Kind.JSON: "jsonb",
}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_CHUNK = 1 << 20


def quote_table(table: str) -> str:
    """``schema.table`` or ``table`` as a quoted SQL identifier; anything else is refused."""
    parts = table.split(".")
    if not 1 <= len(parts) <= 2 or not all(_NAME.match(part) for part in parts):
        raise ValueError(
            f"table: {table!r} is not a table name; use letters, digits and underscores, "
            "optionally schema-qualified (e.g. 'ozonetel_cdr' or 'warehouse.ozonetel_cdr')"
        )
    return ".".join(f'"{part}"' for part in parts)


def _index_name(table: str) -> str:
    return f'"{table.split(".")[-1][:50]}_call_date_idx"'


def create_table_sql(table: str) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` from the row schema, and the ``call_date`` index."""
    quoted = quote_table(table)
    lines = [f'    "{column.name}" {POSTGRES_TYPES[column.kind]}' for column in row_columns()]
    return [
        f"CREATE TABLE IF NOT EXISTS {quoted} (\n" + ",\n".join(lines) + "\n)",
        f"CREATE INDEX IF NOT EXISTS {_index_name(table)} ON {quoted} (call_date)",
    ]


def load_day_file(
    conn: Any, table: str, cdr_date: dt.date | str, path: Any, *, expected_rows: int | None = None
) -> int:
    """Replace ``cdr_date``'s rows of ``table`` with the rows of the day file at ``path``.

    ``conn``: a DB-API connection (psycopg2 or psycopg 3); committed on success, rolled back on
    failure. ``path``: anything with ``.name`` and ``.open("rb")`` (an ``ObjectStoragePath``, a
    ``pathlib.Path``). ``expected_rows``: the rows the pull wrote (its XCom), checked against
    the table. Returns the rows the table holds for the day.
    """
    day = dt.date.fromisoformat(cdr_date) if isinstance(cdr_date, str) else cdr_date
    quoted = quote_table(table)
    columns = row_columns()
    names = ", ".join(f'"{column.name}"' for column in columns)
    copy_sql = f"COPY {quoted} ({names}) FROM STDIN WITH (FORMAT csv)"
    try:
        with conn.cursor() as cursor:
            # Loads into one table wait for each other (the lock ends with the transaction): two
            # loads of one day never interleave, two first loads never both create the table.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ozonetel-load|{quoted}",))
            for statement in create_table_sql(table):
                cursor.execute(statement)
            cursor.execute(f"DELETE FROM {quoted} WHERE call_date = %s", (day,))
            with path.open("rb") as raw:
                _copy(cursor, copy_sql, _csv_chunks(raw, path.name, columns))
            cursor.execute(f"SELECT count(*) FROM {quoted} WHERE call_date = %s", (day,))
            loaded = cursor.fetchone()[0]
            if expected_rows is not None and loaded != expected_rows:
                raise ValueError(
                    f"{path.name}: {expected_rows} rows were pulled but the table holds {loaded} for "
                    f"{day.isoformat()} after the load (rows of another call_date in the file?); "
                    "rolled back, the table is unchanged"
                )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return loaded


def _csv_chunks(raw: BinaryIO, name: str, columns: tuple[Column, ...]) -> Iterator[bytes]:
    """The file's rows as csv bytes without a header, in the order of ``columns``."""
    if name.endswith(".parquet"):
        return _parquet_as_csv(raw, columns)
    if name.endswith(".csv.gz"):
        return _csv_body(gzip.GzipFile(fileobj=raw, mode="rb"), name, columns)
    if name.endswith(".csv"):
        return _csv_body(raw, name, columns)
    raise ValueError(f"{name}: load a .csv, .csv.gz or .parquet file of typed rows (file_format)")


def _csv_body(stream: BinaryIO, name: str, columns: tuple[Column, ...]) -> Iterator[bytes]:
    header = stream.readline().decode("utf-8").rstrip("\r\n").split(",")
    expected = [column.name for column in columns]
    if header != expected:
        raise ValueError(
            f"{name}: its header is not the typed row's columns (written with normalize=False, or by "
            f"another version?); expected {','.join(expected[:4])},... got {','.join(header[:4])},..."
        )
    return iter(lambda: stream.read(_CHUNK), b"")


def _parquet_as_csv(raw: BinaryIO, columns: tuple[Column, ...]) -> Iterator[bytes]:
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    names = [column.name for column in columns]
    parquet = pq.ParquetFile(raw)
    for batch in parquet.iter_batches(columns=names):  # one row group at a time: flat memory
        out = io.BytesIO()
        pa_csv.write_csv(batch, out, write_options=pa_csv.WriteOptions(include_header=False))
        yield out.getvalue()


def _copy(cursor: Any, sql: str, chunks: Iterable[bytes]) -> None:
    """``COPY ... FROM STDIN`` with psycopg 3 (``cursor.copy``) or psycopg2 (``copy_expert``)."""
    if hasattr(cursor, "copy"):
        with cursor.copy(sql) as copy:
            for chunk in chunks:
                copy.write(chunk)
    else:
        cursor.copy_expert(sql, io.BufferedReader(_ChunkReader(chunks), buffer_size=_CHUNK))


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (psycopg2's copy_expert reads a file)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size
