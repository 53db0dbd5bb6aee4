"""A day's typed rows made by code compiled for the shape of its records. Pure: no Airflow import.

``records.normalize_cdr`` types any record, one at a time: every key looked up, every value
dispatched on its kind, a dict built (~8 us a record, more than decoding it). A day's records
all have the same keys, so this module compiles, per shape (the keys of a record, in order):

* a msgspec ``Struct`` the records of a batch are decoded into in one call, whose field types
  admit only what the compiled code handles (text, integers, booleans, null; the asked day's
  ``CallDate``; no unknown or missing key): any other record makes msgspec refuse the batch;
* straight-line Python that types a row from the struct's values, with each field's kind
  known in advance, into a row struct whose names are the columns (msgspec then encodes it
  in C) or a CSV record in the writer's column order.

A batch that does not fit (another shape, a value the compiled code does not take, a
malformed duration...) is decoded again as dicts and typed by ``records.normalize_cdr``, so
its rows, and its errors, are exactly those: this module only ever takes the fast way to the
same rows. ``tests/unit/test_shapes.py`` compares the two on emulator days and on generated
records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from airflow_provider_ozonetel import records
from airflow_provider_ozonetel.batches import decode_records
from airflow_provider_ozonetel.dedup import UCID_FIELDS

if TYPE_CHECKING:
    from airflow_provider_ozonetel.scrub import RowScrubber

#: Shapes compiled per pull at most (a day whose records keep changing shape is typed the general way).
MAX_SHAPES = 8
#: Entries per memo table (see :class:`Memo`).
MEMO_LIMIT = 1 << 14

_ENCODE = msgspec.json.Encoder(decimal_format="number").encode
_TEXT = str | int | bool | None
_MISS = object()
_NULLS: dict[Any, None] = {None: None, "": None, "None": None}
#: A time of day as ``records._check_time_of_day`` accepts it.
_CLOCK = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]")


class _Slow(Exception):
    """The compiled code met a value it does not take: the batch is typed the general way."""


class Memo:
    """Typed values of one day by the vendor's text, validated once, then looked up.

    Durations (``HH:MM:SS`` -> seconds) and times of day (-> ISO-8601 on the day, and the UTC
    twin). Records come in order of their start, so each time of day is looked up a few times
    close together (the start, pickup, end and wrap-up of calls a few minutes apart): a table of
    the last :data:`MEMO_LIMIT` values takes most lookups in ~3 MB (all 86,400 times of a day
    would take ~25 MB). A lookup costs ~5x less than checking and building the text.
    """

    def __init__(self, day: str):
        self.day = day
        self.next_day = records._next_day(day)
        self.durations: dict[Any, int | None] = dict(_NULLS)
        self.ist: dict[str, str] = {}
        self.utc: dict[str, str] = {}
        self._on_day = day + "T"
        self._utc_minutes: dict[str, str] = {}  # "HH:MM" -> UTC "YYYY-MM-DDTHH:MM"

    def duration(self, value: str) -> int:
        try:
            seconds = records._duration(value, "")
        except ValueError:
            raise _Slow from None  # the general way says what is wrong
        if len(self.durations) >= MEMO_LIMIT:
            self.durations.clear()
            self.durations.update(_NULLS)
        self.durations[value] = seconds
        return seconds

    def place(self, value: str) -> str:
        """A time of day (``HH:MM:SS``, as ``records`` checks it) on the day; remembered, with its
        UTC twin."""
        if _CLOCK.fullmatch(value) is None:
            raise _Slow  # malformed, or a full date and time: the general way
        ist = self._on_day + value + records.IST_OFFSET
        minute = value[:5]
        utc = self._utc_minutes.get(minute)
        if utc is None:
            utc = self._utc_minutes[minute] = records._utc(self._on_day + minute + ":00+05:30")[:16]
        if len(self.ist) >= MEMO_LIMIT:
            self.ist.clear()
            self.utc.clear()
        self.ist[value] = ist
        self.utc[value] = utc + value[5:] + "Z"
        return ist

    def place_utc(self, value: str) -> str:
        self.place(value)
        return self.utc[value]

    def place_next(self, value: str) -> str:
        """A time of day on the next day (a call across midnight): rare, not remembered."""
        self.place(value)  # validates
        return self.next_day + "T" + value + records.IST_OFFSET

    def place_next_utc(self, value: str) -> str:
        return records._utc(self.place_next(value))

    def number(self, value: str) -> int | float:
        try:
            return records._number(value, "")
        except ValueError:
            raise _Slow from None


class Shape:
    """The compiled decoder and typers of one record shape (its keys, in order), for one day."""

    def __init__(self, keys: Sequence[str], memo: Memo, csv_columns: Sequence[str] | None):
        specs = [records._SPEC.get(key) or records._resolve(key) for key in keys]
        columns = [column for column, _ in specs]
        if len(set(columns)) != len(columns):
            raise ValueError("two keys share a column")  # records._check_collisions judges each record
        if "call_date" not in columns or specs[columns.index("call_date")][1] != records._DATE:
            raise ValueError("no CallDate")  # the struct's CallDate is what proves the day
        self.keys = tuple(keys)
        self.kinds = tuple(kind for _, kind in specs)
        self._index = {column: i for i, column in enumerate(columns)}
        # the UTC twins follow the vendor's fields, as in records.normalize_cdr
        twins = [
            twin for twin in ("start_time_utc", "end_time_utc") if twin.removesuffix("_utc") in self._index
        ]
        self.columns = (*columns, *twins)
        day_type = Literal[memo.day]  # type: ignore[valid-type]
        types = [_field_type(kind, day_type) for kind in self.kinds]
        self.struct = msgspec.defstruct(
            "Record",
            [(f"f{i}", kind) for i, kind in enumerate(types)],
            rename={f"f{i}": key for i, key in enumerate(keys)},
            forbid_unknown_fields=True,
            gc=False,  # only scalars: no reference cycles
        )
        self.row = msgspec.defstruct(
            "Row",
            [(f"c{i}", Any) for i in range(len(self.columns))],
            rename={f"c{i}": column for i, column in enumerate(self.columns)},
            gc=False,
        )
        self.decode = msgspec.json.Decoder(list[self.struct]).decode  # type: ignore[name-defined]
        self.type_jsonl = self._compile(memo, "jsonl", None)
        self.csv_columns = tuple(csv_columns) if csv_columns is not None else None
        self.type_csv = self._compile(memo, "csv", self.csv_columns) if self.csv_columns else None
        self.names_hold: bool | None = None  # whether the column names hold a secret (_may_hold)
        self._ucid = self._getter(*UCID_FIELDS)
        self._call_id = self._getter("CallID")
        self._start = self._getter("StartTime")
        self._end = self._getter("EndTime")

    def _getter(self, *keys: str) -> Callable[[Any], Any]:
        """The value of the first of ``keys`` the shape has, as ``record.get`` reads it."""
        for key in keys:
            if key in self.keys:
                return attrgetter(f"f{self.keys.index(key)}")
        return lambda record: None

    def ucids(self, structs: list[Any]) -> list[Any]:
        """The vendor's UCID of each record (``dedup.ucid_key`` reads the same field)."""
        return list(map(self._ucid, structs))

    def call_ids(self, structs: list[Any]) -> list[Any]:
        """The vendor's ``CallID`` of each record."""
        return list(map(self._call_id, structs))

    def times(self, struct: Any) -> dict[str, Any]:
        """The vendor's ``StartTime`` and ``EndTime`` of a record (what ``dedup`` reads of it)."""
        return {"StartTime": self._start(struct), "EndTime": self._end(struct)}

    def _compile(
        self, memo: Memo, file_format: str, csv_columns: tuple[str, ...] | None
    ) -> Callable[[list[Any], list[Any]], None]:
        """Generate ``type_rows(structs, out)``: appends each struct's typed row to ``out``."""
        n = len(self.kinds)
        names = [f"v{i}" for i in range(n)]
        lines = [
            "def type_rows(structs, out):",
            "    append = out.append",
            "    for r in structs:",
            f"        {', '.join(names)}, = astuple(r)",
        ]
        add = lines.append
        start = self._index.get("start_time")
        end = self._index.get("end_time")
        if start is not None:  # first: the other times are placed against it
            add(f"        st = v{start}")
            add("        if st is None or st == '' or st == 'None':")
            add(f"            st = v{start} = us = None")
            add("        else:")
            add(f"            v{start} = IST.get(st) or place(st)")
            add("            us = UTC.get(st) or place_utc(st)")
        for i, kind in enumerate(self.kinds):
            v = f"v{i}"
            if kind == records._PLAIN:
                add(f"        if {v} == '' or {v} == 'None': {v} = None")
            elif kind == records._DURATION:
                add(f"        x = DUR.get({v}, MISS)")
                add(f"        {v} = duration({v}) if x is MISS else x")
            elif kind == records._ID:
                add(f"        if {v}.__class__ is int: {v} = str({v})")
                add(f"        elif {v} == '' or {v} == 'None': {v} = None")
            elif kind == records._NUMBER:
                add(f"        if {v}.__class__ is str:")
                add(f"            {v} = None if {v} == '' or {v} == 'None' else number({v})")
            elif kind == records._REDACT:
                add(f"        {v} = None")
            elif kind == records._TIME and i != start:
                twin = i == end
                add(f"        x = {v}")
                add("        if x is None or x == '' or x == 'None':")
                add(f"            {v} = None" + ("; ue = None" if twin else ""))
                if start is not None:
                    add("        elif st is not None and x < st:")
                    add(f"            {v} = place_next(x)" + ("; ue = place_next_utc(x)" if twin else ""))
                add("        else:")
                add(
                    f"            {v} = IST.get(x) or place(x)"
                    + ("; ue = UTC.get(x) or place_utc(x)" if twin else "")
                )
            # _DATE: the struct's Literal type already holds the asked day
        twins = [name for name, column in (("us", "start_time"), ("ue", "end_time")) if column in self._index]
        if file_format == "jsonl":
            add(f"        append(Row({', '.join([*names, *twins])}))")
        else:
            assert csv_columns is not None
            where = {column: var for column, var in zip(self.columns, [*names, *twins], strict=True)}
            cells = [where.get(column, "None") for column in csv_columns]
            extra = [column for column in self.columns if column not in set(csv_columns)]
            if extra:
                pairs = ", ".join(f"{column!r}: {where[column]}" for column in extra)
                cells.append(f"json_text({{{pairs}}})")
            else:
                cells.append("''")
            add(f"        append(({', '.join(cells)},))")
        namespace = {
            "astuple": msgspec.structs.astuple,
            "Row": self.row,
            "MISS": _MISS,
            "DUR": memo.durations,
            "IST": memo.ist,
            "UTC": memo.utc,
            "duration": memo.duration,
            "place": memo.place,
            "place_utc": memo.place_utc,
            "place_next": memo.place_next,
            "place_next_utc": memo.place_next_utc,
            "number": memo.number,
            "json_text": _json_text,
        }
        exec("\n".join(lines), namespace)
        return namespace["type_rows"]


def _json_text(value: dict[str, Any]) -> str:
    return _ENCODE(value).decode("utf-8")


def _field_type(kind: int, day_type: Any) -> Any:
    if kind == records._DATE:
        return day_type
    if kind == records._DURATION or kind == records._TIME:
        return str | None
    if kind == records._ID or kind == records._NUMBER:
        return int | str | None
    if kind == records._REDACT:
        return Any
    return _TEXT


class FastBatch:
    """A batch typed by a :class:`Shape`: its records (decoded structs), their typed rows (row
    structs for jsonl, CSV records for csv) and the answer's bytes they came from."""

    __slots__ = ("data", "file_format", "rows", "shape", "structs")

    def __init__(self, shape: Shape, structs: list[Any], rows: list[Any], data: bytes, file_format: str):
        self.shape = shape
        self.structs = structs
        self.rows = rows
        self.data = data
        self.file_format = file_format

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def csv_columns(self) -> tuple[str, ...] | None:
        return self.shape.csv_columns

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as ``records.normalize_cdr`` gives them (for writers without a fast way)."""
        if self.file_format == "jsonl":
            columns = self.shape.columns
            return [dict(zip(columns, msgspec.structs.astuple(row), strict=True)) for row in self.rows]
        return [records.normalize_cdr(record) for record in decode_records(self.data)]

    def may_hold(self, scrubber: RowScrubber) -> bool:
        """Whether a row could hold one of the scrubber's secrets (see :func:`_may_hold`)."""
        return _may_hold(scrubber, self)

    def select(self, keep: list[int]) -> FastBatch:
        """Only the rows at ``keep`` (a leg the vendor sent twice is dropped)."""
        return FastBatch(
            self.shape,
            [self.structs[i] for i in keep],
            [self.rows[i] for i in keep],
            decode_records_subset(self.data, keep),
            self.file_format,
        )


def decode_records_subset(data: bytes, keep: list[int]) -> bytes:
    """``data`` (a JSON array) with only the elements at ``keep``."""
    raw = msgspec.json.decode(data, type=list[msgspec.Raw])
    return b"[" + b",".join(bytes(raw[i]) for i in keep) + b"]"


class DayDecoder:
    """The ``batches.Decoder`` of a day pull that writes typed rows: compiles a :class:`Shape` for
    the records it meets and hands out :class:`FastBatch`es, or the records as dicts (then typed
    by ``records.normalize_cdr``) for a batch the shape does not take."""

    def __init__(self, day: str, *, file_format: str, csv_columns: Sequence[str] | None = None):
        if file_format not in ("jsonl", "csv"):
            raise ValueError(f"no compiled rows for {file_format!r}")
        self._memo = Memo(day)
        self._format = file_format
        self._csv_columns = tuple(csv_columns) if csv_columns is not None else None
        self._shapes: dict[tuple[str, ...], Shape | None] = {}
        self._shape: Shape | None = None
        #: Batches typed by a compiled shape, and the others (tests and benchmarks read these).
        self.fast_batches = 0
        self.general_batches = 0

    def __call__(self, data: bytes) -> FastBatch | list[dict[str, Any]]:
        if self._shape is not None:
            fast = self._fast(self._shape, data)
            if fast is not None:
                return fast
        found = decode_records(data)  # not a whole array of objects: raises for the batch reader
        if found and self._learn(found[0]):  # a shape not met before: try it on this batch
            fast = self._fast(self._shape, data)  # type: ignore[arg-type]
            if fast is not None:
                return fast
        self.general_batches += 1
        return found

    def _learn(self, record: dict[str, Any]) -> bool:
        """Use the shape of ``record`` from now on; False when that changes nothing."""
        keys = tuple(record)
        if keys not in self._shapes:
            if len(self._shapes) >= MAX_SHAPES:
                return False
            try:
                self._shapes[keys] = Shape(keys, self._memo, self._csv_columns)
            except ValueError:  # two keys share a column, or no CallDate: the general way
                self._shapes[keys] = None
        shape = self._shapes[keys]
        if shape is None or shape is self._shape:
            return False
        self._shape = shape
        return True

    def _fast(self, shape: Shape, data: bytes) -> FastBatch | None:
        try:
            structs = shape.decode(data)
        except msgspec.ValidationError:  # another shape, or a value the compiled code does not take
            return None
        # Any other DecodeError (not a whole JSON array) goes up: the batch reader tries another cut.
        rows: list[Any] = []
        typer = shape.type_jsonl if self._format == "jsonl" else shape.type_csv
        if typer is None:
            return None
        try:
            typer(structs, rows)
        except _Slow:
            return None
        self.fast_batches += 1
        return FastBatch(shape, structs, rows, data, self._format)


# Characters typed rows add to the vendor's text (column names aside): times, numbers, JSON.
_DERIVED = frozenset('0123456789-:+.,TZ[]{}" eEnultrfas')


def _may_hold(scrubber: RowScrubber, batch: FastBatch) -> bool:
    """Whether a row of ``batch`` could hold a secret where the writers' check (a row's JSON, as
    msgspec encodes it) would find it: then the batch is written row by row, scrubbed.

    Without a backslash in the answer's bytes, each vendor text reads the same there as in the
    encoded row, so the answer's bytes can be searched instead, provided no secret could be
    spelled by what the typed row adds (column names, times, numbers, JSON's own words).
    """
    shape = batch.shape
    if shape.names_hold is None:
        shape.names_hold = scrubber.found_in(_ENCODE(shape.columns))
    if shape.names_hold:
        return True
    if b"\\" not in batch.data and all(
        not _DERIVED.issuperset(n.decode("utf-8", "replace")) for n in scrubber.needles
    ):
        return scrubber.found_in(batch.data)
    rows: list[Any] = []
    shape.type_jsonl(batch.structs, rows)
    return scrubber.found_in(b"\n".join(map(_ENCODE, rows)))
