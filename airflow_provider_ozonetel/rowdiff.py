"""What changed between two pulls of a day: rows added, changed and removed, keyed by UCID.

Pure: no Airflow import. The key is the UCID: a file holds one row per call leg (UCID), and one
call (CallID) can have several legs, so merging by CallID, as a public client of this API does,
would fold legs together. A row's content is its bytes as written to the file (a JSON line or a
CSV record), hashed to 64 bits (two different rows look equal once in ~10^19).

Memory stays flat for a busy day: each side keeps 16 bytes a row (UCID and hash as machine
words in arrays, split into buckets by the UCID's low bits), and the comparison builds one
bucket's dicts at a time (~1/256 of the day).
"""

from __future__ import annotations

import csv
import gzip
import io
from array import array
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from airflow_provider_ozonetel.sink import CSV_LINE_TERMINATOR

_BUCKETS = 256
_MAX = 2**64
_MASK = _MAX - 1
#: The row key: ``ucid`` in typed rows, ``UCID`` in the vendor's records.
KEY_FIELDS = ("ucid", "UCID")


def row_hash(encoded: bytes) -> int:
    """64 bits of the row's bytes. Python's own hash (SipHash, keyed per process) will do, ~4x
    faster than hashlib's: both sides of a comparison are hashed in one process, never stored."""
    return hash(encoded) & _MASK


def _int_key(key: Any) -> int | None:
    """A UCID as a machine word when it is one: an int, or a canonical string of digits."""
    if type(key) is int:
        return key if 0 <= key < _MAX else None
    if type(key) is str and key.isdigit() and (key[0] != "0" or key == "0"):
        value = int(key)
        return value if value < _MAX else None
    return None


class RowIndex:
    """Row hashes by UCID. ``add`` takes a row's key and its bytes as written."""

    def __init__(self) -> None:
        self._buckets = [array("Q") for _ in range(_BUCKETS)]  # ucid, hash, ucid, hash, ...
        self._others: dict[Hashable, int] = {}  # keys that are not machine words (rare)
        self.rows = 0

    def add(self, key: Any, encoded: bytes) -> None:
        digest = row_hash(encoded)
        self.rows += 1
        word = _int_key(key)
        if word is None:
            # Rows without a usable UCID are compared as one group ("" is how CSV writes None).
            other = None if key == "" else key if isinstance(key, Hashable) else repr(key)
            self._others[other] = (self._others.get(other, 0) + digest) & _MASK
            return
        bucket = self._buckets[word & (_BUCKETS - 1)]
        bucket.append(word)
        bucket.append(digest)

    def add_row(self, row: dict[str, Any], encoded: bytes) -> None:
        """A ``sink.RowObserver``: index a row as the sink writes it."""
        self.add(row_key(row), encoded)

    def bucket(self, index: int) -> dict[int, int]:
        """One bucket as ``{ucid: hash}``; a UCID seen twice keeps the sum of its rows' hashes."""
        words = self._buckets[index]
        table: dict[int, int] = {}
        for i in range(0, len(words), 2):
            key = words[i]
            table[key] = (table.get(key, 0) + words[i + 1]) & _MASK
        return table


def row_key(row: dict[str, Any]) -> Any:
    for name in KEY_FIELDS:
        if name in row:
            return row[name]
    return None


@dataclass(frozen=True)
class Changes:
    added: int = 0
    changed: int = 0
    removed: int = 0

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def as_dict(self) -> dict[str, int]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed}


def compare(old: RowIndex, new: RowIndex) -> Changes:
    """Rows of ``new`` not in ``old`` (added), in both with other content (changed), gone (removed)."""
    added = changed = removed = 0
    for i in range(_BUCKETS):
        before, after = old.bucket(i), new.bucket(i)
        added, changed, removed = _tally(before, after, added, changed, removed)
    return Changes(*_tally(old._others, new._others, added, changed, removed))


def _tally(
    before: dict[Any, int], after: dict[Any, int], added: int, changed: int, removed: int
) -> tuple[int, int, int]:
    for key, digest in after.items():
        previous = before.get(key)
        if previous is None:
            added += 1
        elif previous != digest:
            changed += 1
    removed += sum(1 for key in before if key not in after)
    return added, changed, removed


# ---------------------------------------------------------------- reading a written file back


def index_file(stream: BinaryIO, file_format: str, compression: str | None) -> RowIndex:
    """The ``RowIndex`` of a file the sink wrote, read as a stream."""
    index = RowIndex()
    if compression == "gzip":
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    if file_format == "parquet":
        rows = _parquet_rows(stream)
    else:
        rows = _jsonl_rows(stream) if file_format == "jsonl" else _csv_rows(stream)
    for key, encoded in rows:
        index.add(key, encoded)
    return index


def _parquet_rows(stream: BinaryIO) -> Iterator[tuple[Any, bytes]]:
    """A Parquet file's rows in the encoding its writer handed to ``on_row`` (needs pyarrow)."""
    from airflow_provider_ozonetel.parquet import file_rows

    for row, encoded in file_rows(stream):
        yield row.get("ucid"), encoded


def _jsonl_rows(stream: BinaryIO) -> Iterator[tuple[Any, bytes]]:
    import msgspec

    class Key(msgspec.Struct):
        ucid: Any = None
        UCID: Any = None

    decode = msgspec.json.Decoder(Key).decode
    # readline, not iteration: Airflow 2's ObjectStoragePath hands out a file wrapper that cannot
    # be iterated (it proxies item access instead)
    for line in iter(stream.readline, b""):
        encoded = line.rstrip(b"\n")
        if not encoded:
            continue
        key = decode(encoded)
        yield (key.ucid if key.ucid is not None else key.UCID), encoded


def _csv_rows(stream: BinaryIO) -> Iterator[tuple[Any, bytes]]:
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    column = next((header.index(name) for name in KEY_FIELDS if name in header), None)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=CSV_LINE_TERMINATOR)
    for values in reader:
        # Written again as the sink wrote it, so the bytes (and hash) match the new pull's.
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        record = buffer.getvalue()[: -len(CSV_LINE_TERMINATOR)]
        yield (values[column] if column is not None else None), record.encode("utf-8")
