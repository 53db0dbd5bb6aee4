"""Incremental parsing of fetchCDRDetails answers. Pure: no Airflow import.

A day's answer is one JSON object, ``{"details": [...], "message": ..., "status": ...}``,
that can run to hundreds of megabytes. ``ijson.items`` (C backend) builds the
``details`` records one at a time and validates the whole document through EOF,
faster than ``json.loads`` on the full body. It cannot also hand back the
top-level ``status``/``message`` (which the vendor may put before or after the
array), so the reader keeps the bytes up to the first record and the bytes after
the last one, and the envelope (the body minus the array) is read back from them,
with the standard library's JSON scanner, once the records are done.

What is refused, and why (the hook turns these into typed errors):

* invalid or cut-off JSON: :class:`MalformedBody` (transient: a retry may get it whole);
* valid JSON that is not the documented shape: :class:`UnexpectedBody`: a ``details``
  element that is not an object (``null``, a number, a string, a list); one record, or
  the envelope, larger than :data:`MAX_RECORD_BYTES` (a crafted body cannot make the
  reader hold more than that); a top-level key given twice (which value is meant?);
  an envelope nested deeper than Python's JSON reader goes.

Whether ``details`` was a list is reported in :class:`Envelope`, not judged here: a
success without a ``details`` list is the caller's to refuse (only ``[]`` is an
empty day), but an error body has no ``details`` and must be judged by its message.

Numbers: integers stay exact Python ints of any size (UCIDs exceed 2**53, and yajl's
64-bit integers overflow at 2**63 when ``use_float`` is on, so it is off); numbers with
a fraction or an exponent are exact ``decimal.Decimal``. A UTF-8 byte order mark before
the body is skipped.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

import ijson

#: The most bytes the reader reads without completing a record (and the most the envelope
#: may take): a CDR record is about 1 KB, so 1 MiB is generous, and it bounds the memory a
#: crafted body (one endless record, deep nesting) can make the reader hold.
MAX_RECORD_BYTES = 1 << 20
#: The most opening brackets (``[`` or ``{``, in strings or not) the reader hands ijson without
#: completing a record: a CDR record has one. ijson's time and memory grow with the square of
#: the nesting depth (16,000 levels take seconds, a megabyte of ``[`` would take hours).
MAX_OPENS = 1024
#: The longest run of digits the reader hands ijson: Python refuses to read an integer of more
#: digits (``sys.get_int_max_str_digits()``, 4300), and ijson's C backend then crashes the whole
#: process (a segmentation fault) instead of raising. A UCID has 17 digits.
MAX_DIGITS = 4300
_PIECE_OPENS = 256
_OPEN = re.compile(rb"[\[{]")
# One pass classifies every byte: "2" an opening bracket, "1" a digit, "0" anything else.
CLASSES = bytes(0x32 if byte in b"[{" else 0x31 if byte in b"0123456789" else 0x30 for byte in range(256))
_TOO_MANY_DIGITS = b"1" * (MAX_DIGITS + 1)
_BOM = codecs.BOM_UTF8
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class MalformedBody(ValueError):
    """The body is not the complete JSON document the API documents."""

    def __init__(self, detail: str, bytes_read: int, records: int):
        super().__init__(detail)
        self.bytes_read = bytes_read
        self.records = records

    def __reduce__(self) -> tuple[Any, ...]:  # pickled whole (from a typing process)
        return (type(self), (str(self), self.bytes_read, self.records))


class UnexpectedBody(ValueError):
    """The body is valid JSON but not the answer the API documents.

    ``envelope`` is the answer's top-level fields when they could be read (the caller
    prefers the vendor's own error, when the envelope holds one, to this one).
    """

    def __init__(self, detail: str, *, records: int = 0, envelope: Envelope | None = None):
        super().__init__(detail)
        self.records = records
        self.envelope = envelope

    def __reduce__(self) -> tuple[Any, ...]:  # pickled whole (from a typing process)
        return (_unexpected_body, (str(self), self.records, self.envelope))


def _unexpected_body(detail: str, records: int, envelope: Envelope | None) -> UnexpectedBody:
    return UnexpectedBody(detail, records=records, envelope=envelope)


@dataclass(frozen=True)
class Envelope:
    """The answer without its records: its other top-level fields, and what ``details`` was."""

    fields: dict[str, Any] = field(default_factory=dict)
    #: ``"list"`` when ``details`` was a JSON array; otherwise ``"missing"`` or its JSON type
    #: (``"an object"``, ``"a string"``, ``"null"``...).
    details: str = "missing"

    @property
    def has_details_list(self) -> bool:
        return self.details == "list"


def json_type(value: Any) -> str:
    """A value's JSON type, as a phrase for error messages."""
    return _JSON_TYPES.get(type(value), "a number")


class DigitRuns:
    """Finds a run of more than :data:`MAX_DIGITS` digits in consecutive chunks (a run may span
    chunks). Each chunk is given classified: ``chunk.translate(CLASSES)``."""

    def __init__(self) -> None:
        self._trailing = 0  # digits at the end of the chunks seen so far

    def too_long(self, classes: bytes) -> bool:
        first_other = min(
            (i for i in (classes.find(b"0"), classes.find(b"2")) if i >= 0), default=len(classes)
        )
        if self._trailing + first_other > MAX_DIGITS or classes.find(_TOO_MANY_DIGITS) >= 0:
            return True
        last_other = max(classes.rfind(b"0"), classes.rfind(b"2"))
        self._trailing = self._trailing + len(classes) if last_other < 0 else len(classes) - 1 - last_other
        return False


class _EdgeRecorder:
    """A file-like pass-through that bounds what one record may hold, and keeps the bytes before
    the first record and after the last (for the envelope).

    ``mark()`` is called at each record: the tail restarts from the chunk in which that
    record ended, and the per-record budgets restart. Between two records the reader hands
    ijson at most :data:`MAX_RECORD_BYTES` bytes and :data:`MAX_OPENS` opening brackets
    (give or take one chunk): past that it raises instead of reading on. The bracket budget
    bounds nesting, which ijson handles in time and memory quadratic in the depth.
    """

    def __init__(self, source: Readable):
        self._source = source
        self.head: list[bytes] = []  # every chunk until the first record
        self.tail: list[bytes] = []  # the chunk the last record ended in, and every one since
        self.bytes_read = 0
        self._since_record = 0
        self._opens_since_record = 0
        self._any_record = False
        self._marked = False
        self._started = False
        self._last = b""
        self._pieces: list[tuple[bytes, int]] = []  # a bracket-dense chunk, cut up, in reverse
        self._digits = DigitRuns()

    def mark(self) -> None:
        self._any_record = self._marked = True
        self._since_record = self._opens_since_record = 0

    @property
    def tail_start(self) -> int:
        """The offset in the body of the first byte kept in ``tail``."""
        return self.bytes_read - sum(map(len, self.tail))

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # ijson probes the stream's type with read(0)
        if self._since_record > MAX_RECORD_BYTES:
            raise UnexpectedBody(
                f"the answer holds more than {MAX_RECORD_BYTES // 1024} KiB without a complete "
                "record (a CDR record is about 1 KB): refusing to hold it in memory"
            )
        if self._opens_since_record > MAX_OPENS:
            raise UnexpectedBody(
                f"the answer is nested too deeply: more than {MAX_OPENS} '[' or '{{' without a "
                "complete record (a CDR record is one flat object)"
            )
        chunk, opens = self._pieces.pop() if self._pieces else self._next_chunk(size)
        if self._marked:
            self.tail = [self._last]
            self._marked = False
        if chunk:
            self.bytes_read += len(chunk)
            self._since_record += len(chunk)
            self._opens_since_record += opens
            (self.tail if self._any_record else self.head).append(chunk)
            self._last = chunk
        return chunk

    def _next_chunk(self, size: int) -> tuple[bytes, int]:
        chunk = self._source.read(size) if self._started else self._first_chunk(size)
        classes = chunk.translate(CLASSES)  # C speed, about 1 GB/s
        self._check_digits(classes)
        opens = classes.count(b"2")
        if opens <= _PIECE_OPENS:
            return chunk, opens
        # Cut the chunk after every _PIECE_OPENS-th bracket, so the budget is checked between
        # pieces (rare: CDR chunks hold one '{' a record, about 60 in 64 KiB).
        cuts = [m.end() for m in _OPEN.finditer(chunk)][_PIECE_OPENS - 1 :: _PIECE_OPENS]
        view = memoryview(chunk)
        bounds = [0, *cuts[:-1], len(chunk)] if cuts[-1] == len(chunk) else [0, *cuts, len(chunk)]
        pieces = [
            (bytes(view[a:b]), min(_PIECE_OPENS, opens - i * _PIECE_OPENS))
            for i, (a, b) in enumerate(itertools.pairwise(bounds))
        ]
        self._pieces = pieces[:0:-1]
        return pieces[0]

    def _check_digits(self, classes: bytes) -> None:
        """Refuse a run of more than MAX_DIGITS digits, within a chunk or across chunks."""
        if self._digits.too_long(classes):
            raise UnexpectedBody(
                f"the answer holds a number (or a run of digits) longer than {MAX_DIGITS} digits; "
                "no call record has one, and Python's JSON readers refuse such integers"
            )

    def _first_chunk(self, size: int) -> bytes:
        """The first bytes, without a UTF-8 byte order mark (which may arrive split over reads)."""
        self._started = True
        chunk = self._source.read(size)
        while chunk and len(chunk) < len(_BOM) and _BOM.startswith(chunk):
            more = self._source.read(size)
            if not more:
                return chunk
            chunk += more
        if not chunk.startswith(_BOM):
            return chunk
        chunk = chunk[len(_BOM) :]
        return chunk or self._source.read(size)


def iter_details(source: Readable, *, first_index: int = 0) -> Generator[dict[str, Any], None, Envelope]:
    """Yield each record of ``details``; return the :class:`Envelope` (the body without ``details``).

    Raises :class:`MalformedBody` for truncated or otherwise invalid JSON and
    :class:`UnexpectedBody` for valid JSON of another shape, after yielding the records
    read so far. A ``details`` element that is not an object stops the records; the rest
    of the body is still read, so that an error in the envelope can be reported instead.
    ``first_index`` is the index of the first element in the answer (``batches.py`` hands this
    reader the rest of an answer, after the records it read itself).
    """
    reader = _EdgeRecorder(source)
    records = first_index
    bad: str | None = None
    try:
        for record in ijson.items(reader, "details.item"):
            reader.mark()
            if record.__class__ is dict and bad is None:
                records += 1
                yield record
            elif bad is None:
                bad = f"details[{records}] is {json_type(record)}, not a call record"
    except ijson.JSONError as exc:
        raise MalformedBody(_describe(exc), reader.bytes_read, records) from None
    read_here = records - first_index  # elements this reader saw: the envelope's reading needs it
    if bad is not None:
        try:
            envelope = _envelope(reader, read_here + 1)
        except (MalformedBody, UnexpectedBody):
            envelope = None
        raise UnexpectedBody(bad, records=records, envelope=envelope)
    return _envelope(reader, read_here)


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    return f"incomplete or invalid JSON ({first_line})"


def _envelope(reader: _EdgeRecorder, items: int) -> Envelope:
    if items == 0:  # the whole body is the head (at most MAX_RECORD_BYTES)
        return _whole(b"".join(reader.head), reader.bytes_read)
    head = b"".join(reader.head)
    try:
        before, details_at = _prefix(head)
        after = _suffix(b"".join(reader.tail), reader.tail_start, details_at)
    except RecursionError:
        raise UnexpectedBody("the answer's envelope is nested too deeply to read", records=items) from None
    return Envelope(_fields([*before, ("details", None), *after], drop="details"), "list")


def _whole(body: bytes, bytes_read: int) -> Envelope:
    """A body without records, read whole: the exact reading of the document."""
    top: list[list[tuple[str, Any]]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        top[:] = [pairs]  # objects close inside out: the last one is the top level
        return dict(pairs)

    try:
        parsed = json.loads(body, object_pairs_hook=pairs_hook)
    except RecursionError:
        raise UnexpectedBody("the answer is nested too deeply to read") from None
    except ValueError as exc:
        raise MalformedBody(_describe(exc), bytes_read, 0) from None
    if not isinstance(parsed, dict):
        raise UnexpectedBody(f"the answer is {json_type(parsed)}, not a JSON object")
    fields = _fields(top[0])
    if "details" not in fields:
        return Envelope(fields, "missing")
    details = fields.pop("details")
    return Envelope(fields, "list" if isinstance(details, list) else json_type(details))


def _fields(pairs: list[tuple[str, Any]], drop: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            raise UnexpectedBody(f"the answer gives the top-level key {key!r} twice")
        fields[key] = value
    if drop is not None:
        del fields[drop]
    return fields


def _ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def _member(text: str, pos: int) -> tuple[str, int]:
    """Read ``"key" :`` at ``pos``; return the key and where its value starts."""
    if text[pos : pos + 1] != '"':
        raise ValueError("expected a key")
    key, pos = _scanstring(text, pos + 1)
    pos = _ws(text, pos)
    if text[pos : pos + 1] != ":":
        raise ValueError("expected ':'")
    return key, _ws(text, pos + 1)


def _prefix(head: bytes) -> tuple[list[tuple[str, Any]], int]:
    """The top-level members before ``details`` and the byte offset where its array opens."""
    text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    pairs: list[tuple[str, Any]] = []
    try:
        pos = _ws(text, 0)
        if text[pos : pos + 1] != "{":
            raise ValueError("expected an object")
        pos = _ws(text, pos + 1)
        while True:
            key, pos = _member(text, pos)
            if key == "details":
                break
            value, pos = _DECODER.raw_decode(text, pos)
            pairs.append((key, value))
            pos = _ws(text, pos)
            if text[pos : pos + 1] != ",":
                raise ValueError("expected ','")
            pos = _ws(text, pos + 1)
    except ValueError:
        raise UnexpectedBody("could not read the answer's fields before its 'details' array") from None
    if text[pos : pos + 1] != "[":
        raise UnexpectedBody("the answer gives the top-level key 'details' twice")
    return pairs, len(text[:pos].encode("utf-8"))


def _suffix(tail: bytes, tail_start: int, details_at: int) -> list[tuple[str, Any]]:
    """The top-level members after the ``details`` array, from the bytes after the last record.

    The array's closing bracket is the first ``]`` after which the rest of the body reads as
    the rest of an object: a ``]`` inside a string leaves an odd number of quotes after it,
    and one inside a record leaves more closing brackets than one object has, so neither
    reads (ijson already checked that the whole body is valid JSON).
    """
    skip = max(0, details_at + 1 - tail_start)
    while skip < len(tail) and 0x80 <= tail[skip] < 0xC0:
        skip += 1  # the kept bytes may start inside a multi-byte character
    text = tail[skip:].decode("utf-8", "replace")
    at = text.find("]")
    while at >= 0:
        try:
            return _rest_of_object(text, at + 1)
        except ValueError:
            at = text.find("]", at + 1)
    raise UnexpectedBody("could not read the answer's fields after its 'details' array")


def _rest_of_object(text: str, pos: int) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    pos = _ws(text, pos)
    while text[pos : pos + 1] == ",":
        key, pos = _member(text, _ws(text, pos + 1))
        value, pos = _DECODER.raw_decode(text, pos)
        pairs.append((key, value))
        pos = _ws(text, pos)
    if text[pos : pos + 1] != "}" or _ws(text, pos + 1) != len(text):
        raise ValueError("not the end of the object")
    return pairs
