"""fetchCDRDetails answers read in batches of whole records, cut at C speed. Pure: no Airflow import.

``streaming.iter_details`` (ijson) builds one record at a time, through Python for every value:
about half of a day pull's time went there. Here the ``details`` array is read in chunks; the
bytes read are cut after their last ``}`` and the caller's decoder (msgspec, into typed structs
or dicts) decodes ``[`` + those bytes + ``]`` in one call.

Why a guessed cut is safe: JSON is read left to right without ambiguity, and a batch always
starts where a record starts. So ``[`` + the bytes up to a ``}`` + ``]`` decodes only when that
``}`` closes a record: one inside a string leaves the string open, one closing an object
inside a record leaves the record open, and either way the decoder fails. A failed decode tries
the ``}`` before it (at most :data:`MAX_CUTS` a round).

Everything else is handed to ``streaming.iter_details``, together with the answer's own bytes
before the array and the rest of the answer from the record where this reader stopped, so that
each odd answer is read, bounded, judged and refused exactly as there: an answer that does not
begin ``{... "details": [``, an element that is not an object, bytes that will not cut into
records within :data:`MAX_PENDING`, a cut-off answer, a run of digits longer than
``streaming.MAX_DIGITS`` (msgspec would read one inside a string, or refuse an integer, where
``iter_details`` refuses the answer: the rest is handed over from the chunk that holds it,
before any of its records is decoded). The end of the array is handed over too:
``iter_details`` then reads only the envelope after it (``status``, ``message``).
"""

from __future__ import annotations

import codecs
import decimal
import re
from collections.abc import Callable, Generator, Sized
from dataclasses import dataclass
from typing import Any

import msgspec

from airflow_provider_ozonetel.streaming import (
    CLASSES,
    DigitRuns,
    Envelope,
    Readable,
    _prefix,
    iter_details,
)

#: Bytes asked of the source at a time (a batch is about this size: ~250 records).
CHUNK_BYTES = 1 << 18
#: The most bytes held without a record cut off them; past it the rest is handed over (whose
#: bounds then apply). A record is about 1 KB.
MAX_PENDING = 1 << 18
#: The most ``}`` tried as the end of a batch in one round (a round follows each new chunk).
MAX_CUTS = 16
#: The most bytes read while looking for the ``details`` array before handing the answer over.
MAX_HEAD = 1 << 16
#: Records per batch when ``streaming.iter_details`` reads (after a hand-over).
HANDED_OVER_BATCH = 256

_WS = re.compile(rb"[ \t\n\r]*")
_BOM = codecs.BOM_UTF8
_COMMA, _CLOSE, _OPEN = ord(","), ord("]"), ord("{")
_AFTER_RECORD, _AFTER_COMMA = b"{}", b"{},"  # what puts iter_details's reader where this one was


class NotRecords(Exception):
    """Raised by a decoder: the bytes are a JSON array, but not one of objects only."""


#: Decodes ``[record,...]`` (bytes); raises ``ValueError`` or ``RecursionError`` when the bytes
#: are not a complete JSON array, :class:`NotRecords` when an element is not an object.
Decoder = Callable[[bytes], Sized]


_RECORDS = msgspec.json.Decoder(float_hook=decimal.Decimal)  # as ijson reads: exact ints, Decimals


def decode_records(data: bytes) -> list[dict[str, Any]]:
    """The :data:`Decoder` of plain records: ``[record, ...]`` as dicts holding exactly the values
    ``streaming.iter_details`` gives (integers of any size, numbers with a fraction as Decimals)."""
    items = _RECORDS.decode(data)
    for item in items:
        if item.__class__ is not dict:
            raise NotRecords
    return items


@dataclass(frozen=True)
class Batch:
    """Consecutive records of ``details``: what the decoder made of them, or dicts (read by
    ``streaming.iter_details`` after a hand-over)."""

    first: int  # the index in ``details`` of the first record
    records: Any  # Sized: the decoder's result, or a list of dicts
    decoded: bool  # made by the decoder (else: dicts from streaming.iter_details)
    #: Where the records are in the answer (byte offsets, end excluded): the decoder was given
    #: ``[`` + those bytes + ``]``. None for records read by ``streaming.iter_details``.
    span: tuple[int, int] | None = None


class _Prepend:
    """A readable: ``data``, then the rest of ``source``."""

    def __init__(self, data: bytes, source: Readable):
        self._data = data
        self._source = source

    def read(self, size: int = -1) -> bytes:
        if self._data:
            if size < 0 or size >= len(self._data):
                data, self._data = self._data, b""
                return data
            data, self._data = self._data[:size], self._data[size:]
            return data
        return self._source.read(size)


def iter_batches(
    source: Readable,
    decode: Decoder,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    digit_runs: Callable[[bytes], bool] | None = None,
) -> Generator[Batch, None, Envelope]:
    """Yield the records of ``details`` in batches; return the :class:`Envelope`.

    Raises what ``streaming.iter_details`` raises (:class:`MalformedBody`,
    :class:`UnexpectedBody`), for the same answers, after the batches read before.
    ``digit_runs(chunk)`` says whether the chunks read so far hold too long a run of digits
    (:func:`digit_runs_of`, unless the caller has found that out already: ``typing_process``).
    """
    return _Reader(source, decode, chunk_bytes, digit_runs or digit_runs_of()).run()


def digit_runs_of() -> Callable[[bytes], bool]:
    """Whether the chunks given so far, one after the other, hold too long a run of digits."""
    runs = DigitRuns()
    return lambda chunk: runs.too_long(chunk.translate(CLASSES))  # ~0.3 ms a chunk


class _Reader:
    def __init__(
        self, source: Readable, decode: Decoder, chunk_bytes: int, digit_runs: Callable[[bytes], bool]
    ):
        self._source = source
        self._decode = decode
        self._chunk_bytes = chunk_bytes
        self._buf = bytearray()
        self._eof = False
        self._bytes_read = 0
        self._count = 0  # records handed out
        self._digit_runs = digit_runs
        self._odd_digits = False  # the last chunk read holds too long a run of digits: hand over

    def _more(self) -> bool:
        """Read a chunk into the buffer; False at the end of the answer."""
        if self._eof:
            return False
        chunk = self._source.read(self._chunk_bytes)
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        self._bytes_read += len(chunk)
        if self._digit_runs(chunk):
            self._odd_digits = True
        return True

    def run(self) -> Generator[Batch, None, Envelope]:
        head = self._head()
        if head is None:  # not the answer this reader knows how to cut: all of it goes over
            return (yield from self._hand_over(b"", 0))
        buf = self._buf
        pos = len(head)  # where the next record starts (after "[" or ",")
        after_record = False  # a record just ended: "," or "]" comes next
        after_comma = False
        tried_to = pos  # the "}" before this were tried as batch ends, in vain
        while True:
            if self._odd_digits:  # iter_details refuses the answer where its own reader meets them
                resume = _AFTER_RECORD if after_record else _AFTER_COMMA if after_comma else b""
                return (yield from self._hand_over(head, pos, resume))
            at = _WS.match(buf, pos).end()  # type: ignore[union-attr]
            if at == len(buf):  # nothing but white space yet
                if not self._more():  # cut off: iter_details says so
                    resume = _AFTER_RECORD if after_record else _AFTER_COMMA if after_comma else b""
                    return (yield from self._hand_over(head, pos, resume))
                continue
            byte = buf[at]
            if after_record:
                if byte == _COMMA:
                    pos, after_record, after_comma = at + 1, False, True
                    continue
                if byte == _CLOSE:
                    return (yield from self._hand_over(head, at))  # the envelope
                return (yield from self._hand_over(head, at, _AFTER_RECORD))  # invalid: it says how
            if byte == _CLOSE and not after_comma:
                return (yield from self._hand_over(head, at))  # "details": []
            resume = _AFTER_COMMA if after_comma else b""
            if byte != _OPEN:  # not an object, or "]" after ",": iter_details words it
                return (yield from self._hand_over(head, pos, resume))
            try:
                found = self._cut(pos, max(tried_to, pos))
            except NotRecords:
                return (yield from self._hand_over(head, pos, resume))
            tried_to = len(buf)
            if found is None:
                if len(buf) - pos > MAX_PENDING or not self._more():
                    return (yield from self._hand_over(head, pos, resume))
                continue
            records, end = found
            start = self._bytes_read - len(buf)  # where the buffer begins in the answer
            yield Batch(self._count, records, decoded=True, span=(start + pos, start + end))
            self._count += len(records)
            pos, after_record, after_comma = end, True, False
            if pos > len(buf) // 2:  # keep the buffer about one chunk long
                del buf[:pos]
                tried_to -= pos
                pos = 0

    def _head(self) -> bytes | None:
        """The answer's bytes up to and including the ``[`` of ``details``; None when the answer
        does not begin ``{... "details": [`` (or begins with a byte order mark)."""
        buf = self._buf
        while True:
            if len(buf) >= len(_BOM) and buf.startswith(_BOM):
                return None
            if len(buf) >= len(_BOM):
                try:
                    _, at = _prefix(bytes(buf))
                except ValueError:  # UnexpectedBody, UnicodeDecodeError...
                    pass  # not there yet, or not this shape
                else:
                    return bytes(buf[: at + 1])
            if len(buf) >= MAX_HEAD or not self._more() or self._odd_digits:
                return None

    def _cut(self, pos: int, tried_to: int) -> tuple[Sized, int] | None:
        """Decode the longest run of records from ``pos`` ending at a ``}`` after ``tried_to``."""
        buf = self._buf
        end = len(buf)
        for _ in range(MAX_CUTS):
            cut = buf.rfind(b"}", tried_to, end)
            if cut < 0:
                return None
            try:
                return self._decode(b"[" + buf[pos : cut + 1] + b"]"), cut + 1
            except (ValueError, RecursionError):
                end = cut  # inside a string or an inner object: try the one before
        return None

    def _hand_over(self, head: bytes, at: int, resume: bytes = b"") -> Generator[Batch, None, Envelope]:
        """Let ``streaming.iter_details`` read the rest of the answer, ``self._buf[at:]`` and on,
        with ``head`` (the answer's bytes up to its array) before it.

        ``resume`` puts its reader where this one was: right after a record (``{}``) or after the
        comma that follows one (``{},``); that stand-in record is read first and dropped.
        """
        rest = _Prepend(head + resume + self._buf[at:], self._source)
        self._buf.clear()
        records = iter_details(rest, first_index=self._count - 1 if resume else self._count)
        if resume:
            try:
                next(records)  # the stand-in
            except StopIteration:  # pragma: no cover - it is a record: ijson yields it
                raise AssertionError("the stand-in record was not read") from None
        pending: list[dict[str, Any]] = []
        while True:
            try:
                pending.append(next(records))
            except StopIteration as done:
                envelope: Envelope = done.value
                break
            except BaseException:
                if pending:  # the records read before the failure are handed out first
                    yield Batch(self._count, pending, decoded=False)
                raise
            if len(pending) == HANDED_OVER_BATCH:
                yield Batch(self._count, pending, decoded=False)
                self._count += len(pending)
                pending = []
        if pending:
            yield Batch(self._count, pending, decoded=False)
            self._count += len(pending)
        return envelope
