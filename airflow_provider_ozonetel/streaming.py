"""Incremental parsing of fetchCDRDetails answers. Pure: no Airflow import.

A day's answer is one JSON object, ``{"details": [...], "message": ..., "status": ...}``,
that can run to hundreds of megabytes. ``ijson.items`` (C backend) builds the
``details`` records one at a time and validates the whole document through EOF,
faster than ``json.loads`` on the full body. It cannot also hand back the
top-level ``status``/``message`` (which the vendor puts after the array), so the
reader keeps the first and last few kilobytes of the body and the envelope is
read back from them once the records are done: the body minus the array.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any, Protocol

import ijson

_EDGE_BYTES = 16 * 1024
_ARRAY_KEY = b'"details"'


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class MalformedBody(ValueError):
    """The body is not the complete JSON document the API documents."""

    def __init__(self, detail: str, bytes_read: int, records: int):
        super().__init__(detail)
        self.bytes_read = bytes_read
        self.records = records


class _EdgeRecorder:
    """A file-like pass-through that remembers the head and the tail of what was read."""

    def __init__(self, source: Readable):
        self._source = source
        self.head = bytearray()
        self.tail = bytearray()
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        if chunk:
            self.bytes_read += len(chunk)
            if len(self.head) < _EDGE_BYTES:
                self.head += chunk[: _EDGE_BYTES - len(self.head)]
            self.tail += chunk
            if len(self.tail) > 2 * _EDGE_BYTES:
                del self.tail[: len(self.tail) - _EDGE_BYTES]
        return chunk


def iter_details(source: Readable) -> Generator[dict[str, Any], None, dict[str, Any]]:
    """Yield each record of ``details``; return the envelope (the body without ``details``).

    Integers stay exact Python ints (UCIDs exceed 2**53); decimals become floats.
    Raises :class:`MalformedBody` for truncated or otherwise invalid JSON, after
    yielding the records read so far.
    """
    reader = _EdgeRecorder(source)
    records = 0
    try:
        for record in ijson.items(reader, "details.item", use_float=True):
            records += 1
            yield record
    except ijson.JSONError as exc:
        raise MalformedBody(_describe(exc), reader.bytes_read, records) from None
    return _envelope(reader, records)


def _describe(exc: Exception) -> str:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"incomplete or invalid JSON ({first_line})"


def _envelope(reader: _EdgeRecorder, records: int) -> dict[str, Any]:
    if reader.bytes_read <= _EDGE_BYTES:
        body = bytes(reader.head)
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise MalformedBody(_describe(exc), reader.bytes_read, records) from None
        if not isinstance(parsed, dict):
            raise MalformedBody("the answer is not a JSON object", reader.bytes_read, records)
        parsed.pop("details", None)
        return parsed
    # Large body: stitch "head up to the array" + null + "tail after the array".
    head = bytes(reader.head)
    tail = bytes(reader.tail)
    key_at = head.find(_ARRAY_KEY)
    open_at = head.find(b"[", key_at) if key_at >= 0 else -1
    if open_at < 0:
        raise MalformedBody("the answer has no 'details' array", reader.bytes_read, records)
    prefix = head[:open_at]
    close_at = len(tail)
    while (close_at := tail.rfind(b"]", 0, close_at)) >= 0:
        try:
            parsed = json.loads(prefix + b"null" + tail[close_at + 1 :])
        except ValueError:
            continue
        if isinstance(parsed, dict):
            parsed.pop("details", None)
            return parsed
    raise MalformedBody("could not read the answer's status", reader.bytes_read, records)
