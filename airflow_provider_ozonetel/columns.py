"""The typed row's columns and what each holds, read from the published schema. Pure: no Airflow import.

Everything that needs a type per column (the Parquet writer, the SQL table of the example DAG, the
schema facet of the lineage) reads it here, so ``cdr_record.schema.json`` stays the one source:

* the columns are ``records.CSV_COLUMNS`` (the typed row's known columns, in their stable order)
  then ``extra_fields``, the JSON object of any field outside them, exactly the CSV header;
* each column's :class:`Kind` follows from its JSON Schema: ``integer``, ``number``, a ``date``
  string, a ``date-time`` string with the IST offset or with ``Z`` (the UTC twins), and plain
  strings (ids included: they exceed 2**53);
* a Parquet file has typed instants for every time: :func:`parquet_columns` adds the UTC twin
  (``pickup_time_utc``...) of each IST time that has none in the row.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

from airflow_provider_ozonetel.records import CSV_COLUMNS, load_schema
from airflow_provider_ozonetel.sink import EXTRA_COLUMN

__all__ = ["EXTRA_COLUMN", "Column", "Kind", "file_columns", "parquet_columns", "row_columns", "utc_twin"]


class Kind(enum.StrEnum):
    """What a column's values are, whatever the file format writes them as."""

    STRING = "string"
    INTEGER = "integer"  # whole numbers (the *_seconds durations)
    NUMBER = "number"  # int or float (rating)
    DATE = "date"  # YYYY-MM-DD
    TIME_IST = "time_ist"  # ISO-8601 with +05:30, e.g. 2026-11-19T12:20:00+05:30
    TIME_UTC = "time_utc"  # ISO-8601 with Z, e.g. 2026-11-19T06:50:00Z
    JSON = "json"  # a JSON object, as text (extra_fields)


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    description: str
    #: The row's key the value comes from, when not ``name`` (a Parquet UTC twin reads the IST time).
    source: str | None = None

    @property
    def key(self) -> str:
        return self.source or self.name


def _kind(prop: dict) -> Kind:
    types = prop.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "integer" in types:
        return Kind.INTEGER
    if "number" in types:
        return Kind.NUMBER
    if prop.get("format") == "date":
        return Kind.DATE
    if prop.get("format") == "date-time":
        return Kind.TIME_UTC if prop.get("pattern", "").endswith("Z$") else Kind.TIME_IST
    # strings, the always-null api_key and conference_data (kept as sent; a dict or list as JSON)
    return Kind.STRING


@cache
def row_columns() -> tuple[Column, ...]:
    """The columns of a typed-row file (the CSV header), each with its kind and description."""
    properties = load_schema()["properties"]
    missing = [name for name in CSV_COLUMNS if name not in properties]
    if missing:  # a guard for whoever edits records.py or the schema
        raise RuntimeError(f"records.CSV_COLUMNS has columns the schema lacks: {', '.join(missing)}")
    columns = [
        Column(name, _kind(properties[name]), properties[name].get("description", "")) for name in CSV_COLUMNS
    ]
    columns.append(
        Column(
            EXTRA_COLUMN,
            Kind.JSON,
            "Every field outside the columns above (a vendor field added after this schema), as one "
            "JSON object; null when there is none.",
        )
    )
    return tuple(columns)


def utc_twin(name: str) -> str:
    """The name of the UTC instant column of an IST time column (``start_time`` -> ``start_time_utc``)."""
    return f"{name}_utc"


@cache
def parquet_columns() -> tuple[Column, ...]:
    """The columns of a Parquet file: the row's, plus a UTC twin after each IST time that lacks one."""
    columns = row_columns()
    names = {column.name for column in columns}
    out: list[Column] = []
    for column in columns:
        out.append(column)
        twin = utc_twin(column.name)
        if column.kind is Kind.TIME_IST and twin not in names:
            description = (
                f"The instant of {column.name}, in UTC. Parquet only: jsonl and csv rows carry the "
                "IST time alone."
            )
            out.append(Column(twin, Kind.TIME_UTC, description, source=column.name))
    return tuple(out)


def file_columns(file_format: str) -> tuple[Column, ...]:
    """The typed columns of a file of typed rows: parquet's; csv's header; jsonl's known keys."""
    if file_format == "parquet":
        return parquet_columns()
    if file_format == "csv":
        return row_columns()
    return tuple(column for column in row_columns() if column.kind is not Kind.JSON)
