"""Typed rows to Parquet with an explicit Arrow schema, streamed in row groups.

Needs ``pyarrow`` (the ``[parquet]`` extra). Only the sink imports this module, at execute time, so
pyarrow is never loaded while DAG files are parsed, nor by a task writing jsonl or csv.

The Arrow schema follows the published row schema (:mod:`airflow_provider_ozonetel.columns`), column
for column, in the CSV header's order:

* ids and every other text as ``string`` (ids exceed 2**53: a float would corrupt them);
* ``*_seconds`` as ``int64``, ``rating`` as ``float64``, ``call_date`` as ``date32``;
* each time keeps the IST wall-clock string the jsonl rows carry (``start_time``,
  ``2026-11-19T12:20:00+05:30``) and has its instant as ``timestamp[us, tz=UTC]`` in the
  ``<name>_utc`` column: ``start_time_utc`` and ``end_time_utc`` (strings in jsonl), plus
  ``pickup_time_utc``, ``wrap_up_start_time_utc`` and ``wrap_up_end_time_utc``, which only Parquet has;
* ``extra_fields``: a JSON object (as a string) of any field outside these columns, as in the CSV.

Memory stays flat whatever the size of the day: rows are converted to Arrow ``CHUNK_ROWS`` at a time
(Python dicts cost ~3.5 KB a row, Arrow columns a fraction of that), and every ``row_group_rows``
rows the chunks are written out as one row group. Pages are zstd-compressed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, BinaryIO

from airflow_provider_ozonetel.columns import Column, Kind, parquet_columns, row_columns

#: Arrow's allocator for a task that writes Parquet (see bench/NOTES.md, "Parquet memory"): jemalloc,
#: which the Linux wheels bundle, keeps the least resident and grows the least with the day; the C
#: library's elsewhere (the wheels' default, mimalloc, keeps ~20 MB more).
ALLOCATOR = "jemalloc" if sys.platform.startswith("linux") else "system"

try:
    _first_import = "pyarrow" not in sys.modules and "ARROW_DEFAULT_MEMORY_POOL" not in os.environ
    if _first_import:
        # The Parquet writer's buffers come from Arrow's default pool whatever pool the caller
        # passes, and only this variable, read once as pyarrow loads, chooses it. Set for the
        # import only; a choice of the user's (the variable set) or an earlier import is kept.
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = ALLOCATOR
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pa.default_memory_pool()
    finally:
        if _first_import:
            del os.environ["ARROW_DEFAULT_MEMORY_POOL"]
except ImportError as exc:  # the optional extra is not installed
    raise ImportError(
        "file_format='parquet' needs pyarrow, which is not installed here: "
        "pip install 'airflow-provider-ozonetel[parquet]' (or choose file_format='jsonl' or 'csv')"
    ) from exc

__all__ = [
    "ARROW_TYPES",
    "COMPRESSION",
    "ROW_GROUP_ROWS",
    "ParquetRowWriter",
    "arrow_schema",
    "batch_rows",
    "file_rows",
]

#: Rows per row group: the unit of buffering (memory) and of reading (readers skip whole groups).
#: Arrow holds a group's columns uncompressed until it is written (~7 MB at 8,192 rows, ~14 at
#: 16,384): 8,192 keeps a 500k-call pull under 200 MB of peak RSS with Airflow and pyarrow loaded,
#: with room to spare (bench/NOTES.md, "Parquet memory"); ~0.45 MB a group once compressed.
ROW_GROUP_ROWS = 8_192
#: Rows held as Python dicts (~3.5 KB each) before they are converted to (smaller) Arrow columns.
CHUNK_ROWS = 1_024
COMPRESSION = "zstd"
#: Bytes of Parquet output gathered before they are passed on within a row group.
GATHER_BYTES = 4 << 20
SCHEMA_ID = "urn:airflow-provider-ozonetel:cdr-record"
#: Columns whose values nearly all differ (ids, phone numbers, recordings; and every time, by kind):
#: plain-encoded. A dictionary for them would be given up after its 1 MB page anyway, having cost
#: memory and bytes; every other column (agents, campaigns, dispositions, durations) keeps one.
UNIQUE_COLUMNS = frozenset({"call_id", "ucid", "caller_id", "e164", "dialed_number", "call_audio"})

TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.STRING: pa.string(),
    Kind.INTEGER: pa.int64(),
    Kind.NUMBER: pa.float64(),
    Kind.DATE: pa.date32(),
    Kind.TIME_IST: pa.string(),  # the wall-clock string, as in jsonl; its instant is the _utc twin
    Kind.TIME_UTC: TIMESTAMP,
    Kind.JSON: pa.string(),
}


def arrow_schema() -> pa.Schema:
    """The Arrow schema of the Parquet file: the typed row's columns, typed, with their descriptions."""
    fields = [
        pa.field(column.name, ARROW_TYPES[column.kind], metadata={"description": column.description})
        for column in parquet_columns()
    ]
    return pa.schema(fields, metadata={"schema": SCHEMA_ID})


def _text(value: Any) -> Any:
    """A string column's value: text as is; a dict or a list as JSON; anything else as its str()."""
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


class ParquetRowWriter:
    """Typed rows to ``stream`` as Parquet: ``write`` each row, then ``finish`` (or ``abort``)."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        on_row: Callable[[dict[str, Any], bytes], None] | None = None,
        scrubber: Any = None,
    ):
        if row_group_rows < 1:
            raise ValueError(f"row_group_rows: expected a positive number of rows, got {row_group_rows!r}")
        self._columns = parquet_columns()
        self._schema = arrow_schema()
        self._known = frozenset(column.name for column in row_columns())
        self._rows: list[dict[str, Any]] = []
        self._chunk_rows = min(CHUNK_ROWS, row_group_rows)
        self._batches: list[pa.RecordBatch] = []
        self._batched_rows = 0
        self._row_group_rows = row_group_rows
        self._on_row = on_row
        self._scrubber = scrubber or None  # a row holding the API key is written scrubbed (scrub.py)
        self._out = _Gathered(stream)
        self._writer = pq.ParquetWriter(
            self._out,
            self._schema,
            compression=COMPRESSION,
            use_dictionary=dictionary_columns(),
        )

    def write(self, row: dict[str, Any]) -> None:
        if self._scrubber is not None:
            row = self._scrubber.clean(row)
        rows = self._rows
        rows.append(row)
        if len(rows) >= self._chunk_rows:
            self._convert()

    def finish(self) -> None:
        self._convert()
        self._write_row_group()
        self._writer.close()
        self._out.drain()

    def abort(self) -> None:
        """Drop what is buffered; the stream is being discarded anyway."""
        self._rows, self._batches = [], []
        self._writer.close()
        self._out.discard()

    def write_batch(self, batch: Any) -> None:
        """A batch typed by ``shapes.py`` (``FastBatch``): its columns go to Arrow as they are, with
        no row dicts. Row by row instead when rows are watched (``on_row``) or the key may be in it."""
        if self._on_row is not None or (self._scrubber is not None and batch.may_hold(self._scrubber)):
            for row in batch.dicts():
                self.write(row)
            return
        self._convert()  # rows written one by one before this batch go first
        n = len(batch)
        index = {name: at for at, name in enumerate(batch.names)}
        unknown = [name for name in batch.names if name not in self._known]
        arrays = []
        for column in self._columns:
            if column.kind is Kind.JSON:
                values = self._extras(batch, unknown) if unknown else [None] * n
            else:
                at = index.get(column.key)
                values = batch.columns[at] if at is not None else [None] * n
            arrays.append(self._array(column, values))
        self._add(pa.RecordBatch.from_arrays(arrays, schema=self._schema))

    def _convert(self) -> None:
        rows = self._rows
        if not rows:
            return
        self._rows = []
        arrays = []
        for column in self._columns:
            key = column.key
            if column.kind is Kind.JSON:
                values = [self._extra(row) for row in rows]
            else:
                values = [row.get(key) for row in rows]
            arrays.append(self._array(column, values))
        batch = pa.RecordBatch.from_arrays(arrays, schema=self._schema)
        if self._on_row is not None:  # the rows as stored, as file_rows() reads them back
            for row, encoded in batch_rows(batch):
                self._on_row(row, encoded)
        self._add(batch)

    def _add(self, batch: pa.RecordBatch) -> None:
        """Buffer ``batch``; write each row group as soon as it is whole (exactly its rows)."""
        while batch.num_rows:
            room = self._row_group_rows - self._batched_rows
            part, batch = batch.slice(0, room), batch.slice(room)  # views, no copies
            self._batches.append(part)
            self._batched_rows += part.num_rows
            if self._batched_rows >= self._row_group_rows:
                self._write_row_group()

    def _write_row_group(self) -> None:
        if not self._batches:
            return
        table = pa.Table.from_batches(self._batches, schema=self._schema)
        self._batches, self._batched_rows = [], 0
        self._writer.write_table(table, row_group_size=table.num_rows)  # one row group
        del table
        self._out.drain()  # the row group's pages, in one piece

    def _array(self, column: Column, values: list[Any]) -> pa.Array:
        kind, key = column.kind, column.key
        arrow_type = ARROW_TYPES[kind]
        raw = values
        try:
            # ISO-8601 text to numbers here rather than with Arrow's cast kernels: loading Arrow's
            # compute library costs ~15 MB of resident memory, a tenth of a day pull's budget.
            if kind is Kind.TIME_UTC:
                values = [None if value is None else _epoch_us(value) for value in values]
            elif kind is Kind.DATE:
                values = [None if value is None else _day(value) for value in values]
            elif kind is Kind.NUMBER:
                values = [_double(value) for value in values]
            try:
                return pa.array(values, arrow_type)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                if arrow_type != pa.string():
                    raise
                return pa.array([_text(value) for value in values], pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError) as exc:
            bad = next((value for value in raw if not _fits(value, kind)), None)
            raise ValueError(f"{key}: cannot write {bad!r} as {arrow_type} in Parquet ({exc})") from None

    @staticmethod
    def _extras(batch: Any, unknown: list[str]) -> list[str]:
        """``extra_fields`` of each row of a batch whose columns ``unknown`` are not the schema's."""
        return [
            json.dumps(dict(zip(unknown, values, strict=True)), ensure_ascii=False, default=str)
            for values in zip(*(batch.columns[batch.names.index(name)] for name in unknown), strict=True)
        ]

    def _extra(self, row: dict[str, Any]) -> str | None:
        keys = row.keys() - self._known
        if not keys:
            return None
        return json.dumps({key: row[key] for key in row if key in keys}, ensure_ascii=False, default=str)


def dictionary_columns() -> list[str]:
    """The columns written with a dictionary: all but ``UNIQUE_COLUMNS`` and the times."""
    times = (Kind.TIME_IST, Kind.TIME_UTC)
    return [c.name for c in parquet_columns() if c.kind not in times and c.name not in UNIQUE_COLUMNS]


class _Gathered:
    """The Parquet writer's output, gathered: it writes each page header and page separately
    (hundreds of small writes a row group), and every write to an ``ObjectStoragePath`` goes
    through its Python wrapper and Airflow's lineage hook. Here they become one write per row group
    (``drain``), or per ``GATHER_BYTES`` within one."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._buffer = bytearray()
        self._offset = 0

    def write(self, data: bytes | memoryview) -> int:
        self._buffer += data
        self._offset += len(data)
        if len(self._buffer) >= GATHER_BYTES:
            self.drain()
        return len(data)

    def tell(self) -> int:  # the Parquet writer records column chunk offsets
        return self._offset

    @property
    def closed(self) -> bool:
        return bool(getattr(self._stream, "closed", False))

    def flush(self) -> None:
        """Nothing: pages are passed on by ``drain``, at the end of each row group."""

    def drain(self) -> None:
        if self._buffer:
            self._stream.write(self._buffer)
            self._buffer = bytearray()  # a new one: the stream may keep a reference to the old

    def discard(self) -> None:
        self._buffer = bytearray()


def batch_rows(batch: pa.RecordBatch) -> Iterator[tuple[dict[str, Any], bytes]]:
    """Each row of ``batch`` with its canonical bytes (JSON of the values as stored): what the
    row-by-row comparison of two pulls (``rowdiff``) hashes, the same when written and read back."""
    import msgspec

    encode = msgspec.json.Encoder(enc_hook=str, decimal_format="number").encode
    for row in batch.to_pylist():
        yield row, encode(row)


def file_rows(stream: BinaryIO) -> Iterator[tuple[dict[str, Any], bytes]]:
    """The rows of a Parquet file this module wrote, a row group at a time, as :func:`batch_rows`."""
    for batch in pq.ParquetFile(stream).iter_batches():
        yield from batch_rows(batch)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CACHE_LIMIT = 100_000
_MINUTES: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM" + offset -> microseconds since the epoch
_DAYS: dict[str, dt.date] = {}


def _epoch_us(text: str) -> int:
    """``2026-11-19T12:20:00+05:30`` or ``...Z`` -> microseconds since 1970-01-01 UTC."""
    if len(text) > 19 and text[16] == ":" and text[17:19].isdigit() and text[19] in "Z+-":
        key = text[:16] + text[19:]
        minute = _MINUTES.get(key)
        if minute is None:
            instant = dt.datetime.fromisoformat(text[:16] + ":00" + text[19:])
            if instant.tzinfo is None:
                raise ValueError(f"{text!r} has no UTC offset")
            minute = (instant - _EPOCH) // dt.timedelta(microseconds=1)
            if len(_MINUTES) >= _CACHE_LIMIT:
                _MINUTES.clear()
            _MINUTES[key] = minute
        return minute + int(text[17:19]) * 1_000_000
    instant = dt.datetime.fromisoformat(text)  # other shapes (fractions of a second): the slow way
    if instant.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return (instant - _EPOCH) // dt.timedelta(microseconds=1)


def _day(text: str) -> dt.date:
    day = _DAYS.get(text)
    if day is None:
        day = dt.date.fromisoformat(text)
        if len(_DAYS) >= _CACHE_LIMIT:
            _DAYS.clear()
        _DAYS[text] = day
    return day


def _double(value: Any) -> Any:
    """A rating for the ``float64`` column: the parser's exact Decimal as a float when it has one
    (a Parquet reader expects a double there); one beyond a double's range is left for Arrow to
    refuse, never written as infinity."""
    if value.__class__ is Decimal:
        number = float(value)
        return number if math.isfinite(number) else value
    return value


def _fits(value: Any, kind: Kind) -> bool:
    """Whether Arrow takes ``value`` for a column of ``kind`` (to name the culprit in an error)."""
    if value is None:
        return True
    try:
        if kind is Kind.TIME_UTC:
            _epoch_us(value)
        elif kind is Kind.DATE:
            _day(value)
        elif kind is Kind.NUMBER:
            pa.array([_double(value)], ARROW_TYPES[kind])
        else:
            pa.array([value], ARROW_TYPES[kind] if kind in (Kind.INTEGER, Kind.NUMBER) else pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError):
        return False
    return True
