"""A day's typed rows, a column at a time, by the shape of its records. Pure: no Airflow import.

``records.normalize_cdr`` types any record, one at a time: every key looked up, every value
dispatched on its kind, a dict built (~8 us a record, more than decoding it). A day's records
all have the same keys, so this module builds, per shape (the keys of a record, in order):

* a msgspec ``Struct`` the records of a batch are decoded into in one call, whose field types
  admit only what the column typers handle (text, integers, booleans, null; the asked day's
  ``CallDate``; no unknown or missing key): any other record makes msgspec refuse the batch;
* column typers: the batch is transposed once, and each column, whose kind is known in advance,
  is typed by calls that loop in C (``map``, ``in``, one regular expression over the joined
  column); the writers take the typed columns as row structs (msgspec encodes them), CSV text
  joined column by column, or Arrow arrays.

A batch that does not fit (another shape, a value the typers do not take, a malformed
duration...) is decoded again as dicts and typed by ``records.normalize_cdr``, so its rows, and
its errors, are exactly those: this module only ever takes the fast way to the same rows.
``tests/unit/test_shapes.py`` compares the two on emulator days and on generated records.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import attrgetter, itemgetter, lt
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from airflow_provider_ozonetel import records
from airflow_provider_ozonetel.batches import decode_records
from airflow_provider_ozonetel.dedup import UCID_FIELDS, ucid_text

if TYPE_CHECKING:
    from airflow_provider_ozonetel.scrub import RowScrubber

#: Shapes compiled per pull at most (a day whose records keep changing shape is typed the general way).
MAX_SHAPES = 8
#: Entries per memo table (see :class:`Memo`).
MEMO_LIMIT = 1 << 14

_ENCODE = msgspec.json.Encoder(decimal_format="number").encode
#: Rows as jsonl lines, as the jsonl writer encodes a row (``sink.py``).
_ROW_LINES = msgspec.json.Encoder(enc_hook=str, decimal_format="number").encode_lines
_TEXT = str | int | bool | None
_MISS = object()
_NULLS: dict[Any, None] = {None: None, "": None, "None": None}
#: A time of day as ``records._check_time_of_day`` accepts it.
_CLOCK = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]")


class _Slow(Exception):
    """A column typer met a value it does not take: the batch is typed the general way."""


class Memo:
    """What one day's columns are typed with: durations by the vendor's text (validated once,
    then looked up), and the UTC minute of each IST minute of the day and the next.

    Durations repeat (most calls last minutes): the last :data:`MEMO_LIMIT` are kept (~2 MB).
    Times of day are not remembered: a time is placed on the day by two string concatenations
    in C, checked a column at a time by one regular expression, and its UTC twin is the minute's
    (all 2 x 1,440 of them, built once) followed by its seconds.
    """

    def __init__(self, day: str):
        self.day = day
        self.next_day = records._next_day(day)
        self.durations: dict[Any, int | None] = dict(_NULLS)
        self.on_day = day + "T"
        self.on_next_day = self.next_day + "T"
        self.utc_minutes = _utc_minutes(self.on_day)
        self.next_utc_minutes = _utc_minutes(self.on_next_day)

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

    def number(self, value: str) -> int | float:
        try:
            return records._number(value, "")
        except ValueError:
            raise _Slow from None


def _utc_minutes(on_day: str) -> dict[str, str]:
    """``"HH:MM"`` -> the UTC ``"YYYY-MM-DDTHH:MM"`` of that IST minute of the day (as
    ``records._utc`` places it; ~2 ms, once per day a pull types)."""
    day = on_day[:-1]  # "YYYY-MM-DD"
    day_before = records._prev_day(day)
    minutes = {}
    for ist in range(24 * 60):
        utc = ist - records._IST_MINUTES
        date = day if utc >= 0 else day_before
        utc %= 24 * 60
        minutes[f"{ist // 60:02d}:{ist % 60:02d}"] = f"{date}T{utc // 60:02d}:{utc % 60:02d}"
    return minutes


class Shape:
    """The compiled decoder and column typers of one record shape (its keys, in order), for one day."""

    def __init__(self, keys: Sequence[str], memo: Memo, csv_columns: Sequence[str] | None):
        specs = [records._SPEC.get(key) or records._resolve(key) for key in keys]
        columns = [column for column, _ in specs]
        if len(set(columns)) != len(columns):
            raise ValueError("two keys share a column")  # records._check_collisions judges each record
        if "call_date" not in columns or specs[columns.index("call_date")][1] != records._DATE:
            raise ValueError("no CallDate")  # the struct's CallDate is what proves the day
        self.keys = tuple(keys)
        self.kinds = tuple(kind for _, kind in specs)
        self._memo = memo
        self._index = {column: i for i, column in enumerate(columns)}
        self._start = self._index.get("start_time")
        self._end = self._index.get("end_time")
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
        self.csv_columns = tuple(csv_columns) if csv_columns is not None else None
        where = {column: i for i, column in enumerate(self.columns)}
        if self.csv_columns is not None:
            #: the column each CSV column is (None: the shape has not got it), and those it does not know
            self.csv_sources = [where.get(column) for column in self.csv_columns]
            known = set(self.csv_columns)
            self.csv_extra = [(column, i) for i, column in enumerate(self.columns) if column not in known]
        self.names_hold: bool | None = None  # whether the column names hold a secret (_may_hold)
        self._ucid = self._getter(*UCID_FIELDS)
        self._call_id = self._getter("CallID")
        self._start_key = self._getter("StartTime")
        self._end_key = self._getter("EndTime")

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
        return {"StartTime": self._start_key(struct), "EndTime": self._end_key(struct)}

    def type_columns(self, structs: list[Any]) -> list[Sequence[Any]]:
        """The typed values of ``structs``, a sequence per column of :attr:`columns` (a column
        that typing leaves as it is stays the decoded tuple).

        Each column is typed by a few calls that loop in C (``map``, ``in``, ``join``, a regular
        expression) rather than by Python bytecode for every field of every row."""
        n = len(structs)
        if not n:
            return [[] for _ in self.columns]
        memo = self._memo
        fields = list(zip(*map(astuple, structs), strict=True))
        start = self._start
        starts = _nulled(fields[start]) if start is not None else None
        start_keys = _start_keys(starts) if starts is not None else None
        out: list[Sequence[Any]] = []
        twins: dict[int, list[Any]] = {}  # the start's and the end's UTC twins
        for i, kind in enumerate(self.kinds):
            values = fields[i]
            if kind == records._PLAIN:
                out.append(list(map(_NULL, values, values)) if _has_null_text(values) else values)
            elif kind == records._DURATION:
                out.append(_durations(values, memo))
            elif kind == records._TIME:
                nulled = starts if i == start else _nulled(values)
                later = None if i == start or start_keys is None else _next_day_rows(nulled, start_keys)
                out.append(_place(nulled, later, memo))
                if i == start or i == self._end:
                    twins[i] = _utc(nulled, later, memo)
            elif kind == records._ID:
                out.append(_ids(values))
            elif kind == records._NUMBER:
                out.append(_numbers(values, memo))
            elif kind == records._REDACT:
                out.append([None] * n)
            else:  # _DATE: the struct's Literal type already holds the asked day
                out.append(values)
        out.extend(twins[i] for i in (start, self._end) if i is not None)
        return out

    def jsonl_rows(self, columns: list[Sequence[Any]]) -> list[Any]:
        """Row structs (msgspec encodes them in C), one a row."""
        return list(map(self.row, *columns))

    def csv_text(self, columns: list[Sequence[Any]]) -> str:
        """CSV records, as ``csv.writer`` (``QUOTE_MINIMAL``, ``"\\n"`` ends a line) writes them:
        the values of :attr:`csv_columns` in order, then ``extra_fields`` (JSON). Built a column
        at a time: the csv module spends ~13-17 us a row of 46 cells, this ~6."""
        n = len(columns[0]) if columns else 0
        empty = [""] * n
        cells = [empty if i is None else _csv_cells(columns[i]) for i in self.csv_sources]
        if self.csv_extra:
            names = [column for column, _ in self.csv_extra]
            extra = zip(*(columns[i] for _, i in self.csv_extra), strict=True)
            cells.append(_csv_cells([_json_text(dict(zip(names, values, strict=True))) for values in extra]))
        else:
            cells.append(empty)
        if not n:
            return ""
        return "\n".join(map(",".join, zip(*cells, strict=True))) + "\n"


astuple = msgspec.structs.astuple
_NULL = {"": None, "None": None}.get  # the null rule, as records applies it: _NULL(v, v)
_NEVER_EARLIER = {None: "~"}.get
_NOTHING_EARLIER = {None: ""}.get
_TIMES = re.compile(rf"(?:{_CLOCK.pattern},)*{_CLOCK.pattern}")
_HOUR_MINUTE, _SECONDS = itemgetter(slice(5)), itemgetter(slice(5, None))  # "HH:MM", ":SS"


#: What may make the csv module quote a cell (or refuse it): its delimiter, quote and line ends.
_EMPTY_FOR_NULL = {None: ""}.get
_CSV_SPECIAL_CHARS = ',"\r\n\x00'
_CSV_SPECIAL = re.compile(f"[{_CSV_SPECIAL_CHARS}]")


def _csv_cells(values: Sequence[Any]) -> list[str]:
    """A column's cells as the csv module writes them: null empty, other values ``str()``'d, and
    quoted where needed (by the csv module itself: its rules vary with Python's version)."""
    if None in values:
        values = list(map(_EMPTY_FOR_NULL, values, values))
    try:
        joined = "\x01".join(values)
    except TypeError:  # numbers, booleans (str() leaves the texts as they are)
        values = list(map(str, values))
        joined = "\x01".join(values)
    if not any(char in joined for char in _CSV_SPECIAL_CHARS):  # each a C scan, faster than a regex
        return values if values.__class__ is list else list(values)
    return [_csv_cell(value) if _CSV_SPECIAL.search(value) else value for value in values]


def _csv_cell(value: str) -> str:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow((value,))
    return text.getvalue()[:-1]


def _has_null_text(values: Sequence[Any]) -> bool:
    return "" in values or "None" in values


def _nulled(values: Sequence[Any]) -> list[Any]:
    """``values`` with the null rule applied (``""`` and ``"None"`` are null)."""
    return list(map(_NULL, values, values)) if _has_null_text(values) else list(values)


def _durations(values: Sequence[Any], memo: Memo) -> list[Any]:
    known = memo.durations
    typed = list(map(known.get, values, repeat(_MISS)))
    if _MISS in typed:
        for at, value in enumerate(values):
            if typed[at] is _MISS:
                typed[at] = memo.duration(value)
    return typed


def _next_day_rows(times: list[Any], starts: list[Any]) -> list[int]:
    """The rows whose time of day is earlier than their start (a call across midnight); ``starts``
    as :func:`_start_keys` gives them. A null time is never earlier ("~" sorts after digits)."""
    keyed = list(map(_NEVER_EARLIER, times, times)) if None in times else times
    earlier = list(map(lt, keyed, starts))
    return [at for at, yes in enumerate(earlier) if yes] if True in earlier else []


def _start_keys(starts: list[Any]) -> list[Any]:
    """The starts to compare times with: a null start is ``""``, which no time is earlier than."""
    return list(map(_NOTHING_EARLIER, starts, starts)) if None in starts else starts


def _place(times: list[Any], later: list[int] | None, memo: Memo) -> list[Any]:
    """Times of day (nulls already None) on the day, ISO-8601 with the IST offset; ``later`` rows on
    the next. A value that is not ``HH:MM:SS`` sends the batch the general way."""
    present = [value for value in times if value is not None] if None in times else times
    if present and _TIMES.fullmatch(",".join(present)) is None:
        raise _Slow  # malformed, or a date and time: the general way says or places it
    if None in times:
        placed = [None if value is None else memo.on_day + value + records.IST_OFFSET for value in times]
    else:  # two concatenations a value, each looped in C
        placed = list(map(str.__add__, map(memo.on_day.__add__, times), repeat(records.IST_OFFSET)))
    for at in later or ():
        placed[at] = memo.on_next_day + times[at] + records.IST_OFFSET
    return placed


def _utc(times: list[Any], later: list[int] | None, memo: Memo) -> list[Any]:
    """The UTC twins of :func:`_place`'s times (validated there)."""
    minutes = memo.utc_minutes
    if None in times:
        twins = [None if value is None else minutes[value[:5]] + value[5:] + "Z" for value in times]
    else:  # the UTC minute, then the seconds, then "Z": each looped in C
        utc = map(str.__add__, map(minutes.__getitem__, map(_HOUR_MINUTE, times)), map(_SECONDS, times))
        twins = list(map(str.__add__, utc, repeat("Z")))
    for at in later or ():
        value = times[at]
        twins[at] = memo.next_utc_minutes[value[:5]] + value[5:] + "Z"
    return twins


def _ids(values: Sequence[Any]) -> list[Any]:
    try:
        return list(map(int.__repr__, values))  # the common case: every id a JSON integer (not str:
        # int.__str__ is object.__str__, which would take any value)
    except TypeError:
        return [str(value) if value.__class__ is int else _NULL(value, value) for value in values]


def _numbers(values: Sequence[Any], memo: Memo) -> list[Any]:
    return [
        value
        if value.__class__ is not str
        else None
        if value == "" or value == "None"
        else memo.number(value)
        for value in values
    ]


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
    """A batch typed by a :class:`Shape`: its records (decoded structs), their typed values (a
    list per column of ``shape.columns``) and the answer's bytes they came from. Each writer takes
    the rows in its own form: :meth:`jsonl_rows`, :meth:`csv_text`, or the columns themselves."""

    __slots__ = ("columns", "data", "file_format", "shape", "structs")

    def __init__(
        self, shape: Shape, structs: list[Any], columns: list[Sequence[Any]], data: bytes, file_format: str
    ):
        self.shape = shape
        self.structs = structs
        self.columns = columns
        self.data = data
        self.file_format = file_format

    def __len__(self) -> int:
        return len(self.structs)

    @property
    def csv_columns(self) -> tuple[str, ...] | None:
        return self.shape.csv_columns

    @property
    def names(self) -> tuple[str, ...]:
        """The name of each column (of :attr:`columns`)."""
        return self.shape.columns

    def jsonl_rows(self) -> list[Any]:
        return self.shape.jsonl_rows(self.columns)

    def jsonl_lines(self) -> bytes:
        """The rows as the jsonl writer writes them, each ending in a newline."""
        return _ROW_LINES(self.jsonl_rows())

    def csv_text(self) -> str:
        return self.shape.csv_text(self.columns)

    def ucid_keys(self) -> list[str | None]:
        """Each leg's UCID as ``dedup`` keys it."""
        ucids = self.shape.ucids(self.structs)
        return [str(ucid) if ucid.__class__ is int else ucid_text(ucid) for ucid in ucids]

    def leg_times(self, at: int) -> dict[str, Any]:
        """The ``StartTime`` and ``EndTime`` of row ``at``, as the vendor sent them (``dedup`` reads them)."""
        return self.shape.times(self.structs[at])

    def leg_time_columns(self) -> tuple[list[Any], list[Any]]:
        """Every row's ``StartTime``, and every row's ``EndTime`` (what :meth:`leg_times` reads)."""
        shape = self.shape
        return list(map(shape._start_key, self.structs)), list(map(shape._end_key, self.structs))

    def leg_call_ids(self) -> list[Any]:
        """Each row's ``CallID``, as the vendor sent it."""
        return self.shape.call_ids(self.structs)

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as ``records.normalize_cdr`` gives them (for writers without a fast way)."""
        names = self.shape.columns
        return [dict(zip(names, values, strict=True)) for values in zip(*self.columns, strict=True)]

    def may_hold(self, scrubber: RowScrubber) -> bool:
        """Whether a row could hold one of the scrubber's secrets (see :func:`_may_hold`)."""
        return _may_hold(scrubber, self)

    def select(self, keep: list[int]) -> FastBatch:
        """Only the rows at ``keep`` (a leg the vendor sent twice is dropped)."""
        return FastBatch(
            self.shape,
            [self.structs[i] for i in keep],
            [[column[i] for i in keep] for column in self.columns],
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
        if file_format not in ("jsonl", "csv", "parquet"):
            raise ValueError(f"no compiled rows for {file_format!r}")
        if file_format == "csv" and csv_columns is None:
            raise ValueError("csv rows need csv_columns")
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
        except msgspec.ValidationError:  # another shape, or a value the typers do not take
            return None
        # Any other DecodeError (not a whole JSON array) goes up: the batch reader tries another cut.
        try:
            columns = shape.type_columns(structs)
        except _Slow:
            return None
        self.fast_batches += 1
        return FastBatch(shape, structs, columns, data, self._format)


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
    return scrubber.found_in(b"\n".join(map(_ENCODE, batch.jsonl_rows())))
