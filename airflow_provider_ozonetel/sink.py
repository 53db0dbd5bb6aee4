"""Write rows to storage atomically: a temporary object first, the destination only on success.

A failure at any point (network drop, truncated answer, vendor error at the end
of a body) leaves no file at the destination and an earlier file there
untouched; a rerun replaces the destination as a whole, and first deletes the
temporary objects a killed earlier write left (``temporaries.py``). The bytes written are
counted and hashed (sha256) on their way out, so a day's manifest needs no
second read of the file.

jsonl and csv are written here; parquet by :mod:`airflow_provider_ozonetel.parquet`, imported
only when a sink writes parquet (it needs pyarrow, an optional extra).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import hashlib
import io
import logging
import os
import stat
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from airflow_provider_ozonetel.temporaries import remove_stale_temporaries, temporary_for

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_ozonetel.scrub import RowScrubber

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv", "parquet")
COMPRESSIONS = (None, "gzip")
#: CSV (and Parquet) column that collects the fields outside the fixed header, as a JSON object.
EXTRA_COLUMN = "extra_fields"
#: How a CSV row is written; ``rowdiff`` writes rows it reads back the same way to compare them.
CSV_LINE_TERMINATOR = "\n"

#: Called with each row and its bytes as written (a JSON line, a CSV record; no line end).
RowObserver = Callable[[dict[str, Any], bytes], None]


class TypedBatch(Protocol):
    """Rows typed in one go for one file format (``shapes.FastBatch``)."""

    file_format: str
    csv_columns: tuple[str, ...] | None

    def __len__(self) -> int: ...

    def jsonl_rows(self) -> list[Any]:
        """Row structs, which msgspec encodes as the rows' JSON objects."""
        ...

    def jsonl_lines(self) -> bytes:
        """The rows encoded as this module's jsonl writer encodes a row, each ending in a newline."""
        ...

    def csv_text(self) -> str:
        """CSV records (as ``csv.writer`` writes them): ``csv_columns`` in order, then ``extra_fields``."""
        ...

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as dicts, as ``records.normalize_cdr`` makes them."""
        ...

    def may_hold(self, scrubber: RowScrubber) -> bool:
        """Whether a row could hold one of the scrubber's secrets."""
        ...


def check_format(file_format: str, compression: str | None, normalize: bool = True) -> None:
    if file_format not in FORMATS:
        raise ValueError(f"file_format: {file_format!r} is not one of {', '.join(FORMATS)}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression: {compression!r} is not None or 'gzip'")
    if file_format == "parquet" and compression is not None:
        # A gzip-wrapped Parquet file is unreadable by every Parquet reader; Parquet compresses
        # its own pages instead (zstd), so no compression setting applies.
        raise ValueError(
            f"compression: {compression!r} does not apply to parquet, which compresses its own pages "
            "(zstd); leave compression=None"
        )
    if file_format == "parquet" and not normalize:
        raise ValueError(
            "file_format: 'parquet' writes the typed row schema and needs normalize=True; "
            "use jsonl or csv for the vendor's records unchanged"
        )


def parquet_support() -> Any:
    """The Parquet writer's module; its ImportError names the extra to install when pyarrow is missing."""
    import importlib

    return importlib.import_module("airflow_provider_ozonetel.parquet")


def file_suffix(file_format: str, compression: str | None) -> str:
    return f".{file_format}" + (".gz" if compression == "gzip" else "")


#: fsspec protocols that read but never write (an HTTP URL is not a place to put a file).
READ_ONLY_PROTOCOLS = frozenset(
    {"http", "https", "github", "git", "zip", "tar", "libarchive", "data", "reference"}
)
_LOCAL_PROTOCOLS = frozenset({"", "file", "local"})


def as_storage_path(destination: Any, default_name: str) -> ObjectStoragePath:
    """An ``ObjectStoragePath`` from a path or URL; a value ending in "/" is a folder for ``default_name``.

    Raises ``ValueError`` naming ``destination`` for what cannot hold the file, before anything
    is sent or written: an empty value or the text "None" (a template that rendered nothing; the
    rows would land in ``./None`` or the working folder), a scheme no installed filesystem
    writes (``https://``), and locally anything but a regular file at the path (``/dev/null``, a
    FIFO, a symbolic link: the final rename would replace it) or a file where a folder must be.
    """
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    text = str(destination)
    if isinstance(destination, str) and text.strip().lower() in ("", "none", "null"):
        raise ValueError(
            f"destination: {destination!r} names no place; give a folder ending in / or a file URL "
            "(file:///..., s3://...), or the value None (not the text) to return the rows as XCom"
        )
    try:
        path = destination if isinstance(destination, ObjectStoragePath) else ObjectStoragePath(text)
        path.fs  # noqa: B018 - Airflow 2 looks the scheme's filesystem up only here, not when constructing
    except ValueError as exc:
        raise ValueError(
            f"destination: {text!r} cannot be written ({exc}); use file:// or the scheme of an "
            "installed filesystem (s3:// with the Amazon provider, gs:// with the Google one...)"
        ) from None
    protocol = str(getattr(path, "protocol", "") or "")
    if protocol in READ_ONLY_PROTOCOLS:
        raise ValueError(
            f"destination: {protocol}:// is read-only storage; rows cannot be written to {text!r}"
        )
    if text.endswith("/") or (path.exists() and path.is_dir()):
        path = path / default_name
    if protocol in _LOCAL_PROTOCOLS:
        _check_local_target(str(path.path))
    return path


def _check_local_target(target: str) -> None:
    """A local file path the atomic rename may replace: a regular file or nothing, in folders."""
    try:
        mode = os.lstat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except OSError as exc:
        raise ValueError(f"destination: {target} cannot be checked ({exc.strerror})") from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "a device or other special file"
        raise ValueError(
            f"destination: {target} is {kind}, not a regular file; writing there would replace it "
            "(the file is moved into place by a rename). Give a regular file or a folder ending in /"
        )
    parent = os.path.dirname(target)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent) if os.path.dirname(parent) != parent else ""
    if parent and not os.path.isdir(parent):
        raise ValueError(f"destination: {parent} is a file, not a folder; {target} cannot be written")


_BATCH_BYTES = 1 << 20


class _JsonlWriter:
    """One JSON object a line. msgspec encodes ~5x faster than the stdlib (Airflow 3 already
    requires it); rows are batched so the storage object sees ~1 MB writes, not one per row
    (each write through ObjectStoragePath is tracked for lineage)."""

    def __init__(
        self, stream: BinaryIO, on_row: RowObserver | None = None, scrubber: RowScrubber | None = None
    ):
        import msgspec

        self._stream = stream
        # decimal_format="number": the vendor's decimals (exact Decimals from the parser) stay
        # JSON numbers, digit for digit
        encoder = msgspec.json.Encoder(enc_hook=str, decimal_format="number")
        self._encode_into = encoder.encode_into
        self._batch = bytearray()
        self._on_row = on_row
        self._scrubber = scrubber or None

    def write_batch(self, batch: TypedBatch) -> None:
        """A batch typed by ``shapes.py``: its row structs are encoded in C; a batch in which the
        key turns up is written row by row (and scrubbed) instead."""
        if batch.file_format != "jsonl":
            return self._write_rows(batch.dicts())
        if not len(batch):
            return None
        encoded = batch.jsonl_lines()  # each row and its newline
        if self._scrubber is not None and self._scrubber.found_in(encoded):
            return self._write_rows(batch.dicts())
        if self._on_row is not None:
            for row, line in zip(batch.dicts(), encoded.split(b"\n")[:-1], strict=True):
                self._on_row(row, line)
        self._batch += encoded
        if len(self._batch) >= _BATCH_BYTES:
            self._stream.write(self._batch)
            self._batch.clear()
        return None

    def _write_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.write(row)

    def write(self, row: dict[str, Any]) -> None:
        batch = self._batch
        start = len(batch)
        self._encode_into(row, batch, -1)
        if self._scrubber is not None and self._scrubber.found_in(batch, start):
            del batch[start:]  # the row holds the key: encoded again, scrubbed
            row = self._scrubber.scrub(row)
            self._encode_into(row, batch, -1)
        if self._on_row is not None:
            self._on_row(row, bytes(batch[start:]))
        batch += b"\n"
        if len(batch) >= _BATCH_BYTES:
            self._stream.write(batch)
            batch.clear()

    def finish(self) -> None:
        if self._batch:
            self._stream.write(self._batch)
            self._batch.clear()


class _CsvWriter:
    """A fixed header (``columns`` then ``extra_fields``): loaders want a stable schema, and a
    streamed file cannot go back to widen its header when a new vendor field shows up."""

    def __init__(
        self,
        stream: BinaryIO,
        columns: Iterable[str] | None,
        on_row: RowObserver | None = None,
        scrubber: RowScrubber | None = None,
    ):
        self._scrubber = scrubber or None
        self._stream = stream
        self._columns: list[str] | None = list(columns) if columns else None
        self._column_tuple = tuple(self._columns or ())
        self._known: frozenset[str] = frozenset()
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator=CSV_LINE_TERMINATOR)
        self._on_row = on_row

    def write(self, row: dict[str, Any]) -> None:
        if self._scrubber is not None:
            row = self._scrubber.clean(row)
        if self._columns is None:  # raw records: the first record's fields make the header
            self._columns = [key for key in row if key != EXTRA_COLUMN]
        if not self._known:
            self._header()
        extra = {key: value for key, value in row.items() if key not in self._known}
        values = [_cell(row.get(column)) for column in self._columns]
        values.append(_json_text(extra) if extra else "")
        if self._on_row is None:
            self._writer.writerow(values)
        else:
            start = self._text.tell()
            self._writer.writerow(values)
            self._text.seek(start)
            record = self._text.read()  # the record just written; read() leaves us at the end again
            self._on_row(row, record[: -len(CSV_LINE_TERMINATOR)].encode("utf-8"))
        if self._text.tell() >= _BATCH_BYTES:
            self._drain()

    def write_batch(self, batch: TypedBatch) -> None:
        """A batch typed by ``shapes.py`` for these columns: its records go to the C writer at
        once. Row by row instead when the key may be in it, or rows are watched (``on_row``)."""
        if (
            batch.file_format != "csv"
            or self._on_row is not None
            or self._columns is None
            or batch.csv_columns != self._column_tuple
            or (self._scrubber is not None and batch.may_hold(self._scrubber))
        ):
            for row in batch.dicts():
                self.write(row)
            return
        if not self._known:
            self._header()
        self._text.write(batch.csv_text())
        if self._text.tell() >= _BATCH_BYTES:
            self._drain()

    def finish(self) -> None:
        if not self._known and self._columns:  # no rows: still write the header
            self._header()
        self._drain()

    def _header(self) -> None:
        self._known = frozenset(self._columns or ())
        self._writer.writerow([*(self._columns or ()), EXTRA_COLUMN])

    def _drain(self) -> None:
        self._stream.write(self._text.getvalue().encode("utf-8"))
        self._text.seek(0)
        self._text.truncate()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return _json_text(value)
    return value


@functools.cache
def _json_encoder() -> Any:
    import msgspec

    return msgspec.json.Encoder(enc_hook=str, decimal_format="number")


def _json_text(value: Any) -> str:
    return _json_encoder().encode(value).decode("utf-8")


class UnwritableRow(ValueError):
    """A row no writer can encode (a value nested deeper than Python's recursion limit)."""


class _CountingHash:
    """A write-only stream that hashes (sha256) and counts the bytes on their way to ``stream``."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.sha256.update(data)
        self.bytes += len(data)
        return self._stream.write(data)

    def tell(self) -> int:  # the Parquet writer records column chunk offsets
        return self.bytes

    @property
    def closed(self) -> bool:
        return bool(getattr(self._stream, "closed", False))

    def flush(self) -> None:
        self._stream.flush()


class AtomicRowSink:
    """Rows to ``destination`` in ``jsonl`` or ``csv``, optionally gzip-compressed, atomically.

    Use as a context manager: leaving the block normally commits (the temporary
    object is moved onto the destination); leaving it with an exception deletes
    the temporary object and re-raises. With ``commit_on_exit=False`` the caller
    decides after the block: :meth:`commit` or :meth:`discard` (e.g. keep an
    unchanged file as it is).

    After the block, ``rows``, ``bytes`` and ``sha256`` describe the object as
    stored (compressed bytes for gzip). ``on_row`` sees each row with its bytes
    as written (``rowdiff`` compares pulls with it). With a ``scrubber``, a row
    holding one of its secrets is written scrubbed (``scrub.py``).
    """

    def __init__(
        self,
        destination: ObjectStoragePath,
        *,
        file_format: str = "jsonl",
        compression: str | None = None,
        csv_columns: Iterable[str] | None = None,
        on_row: RowObserver | None = None,
        commit_on_exit: bool = True,
        scrubber: RowScrubber | None = None,
    ):
        check_format(file_format, compression)
        self._scrubber = scrubber
        # Before any object is opened: a missing optional package fails here, leaving nothing behind.
        self._parquet = parquet_support() if file_format == "parquet" else None
        self.destination = destination
        self.file_format = file_format
        self.compression = compression
        self.rows = 0
        self.bytes = 0
        self.sha256 = ""
        self.committed = False
        self._csv_columns = csv_columns
        self._on_row = on_row
        self._commit_on_exit = commit_on_exit
        self.temporary = temporary_for(destination)
        self._stack = contextlib.ExitStack()
        self._counter: _CountingHash | None = None
        self._writer: Any = None

    def __enter__(self) -> AtomicRowSink:
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.destination)  # left by an earlier write that was killed
        try:
            raw: BinaryIO = self._stack.enter_context(self.temporary.open("wb"))
            self._counter = _CountingHash(raw)
            stream: BinaryIO = self._counter  # type: ignore[assignment]
            if self.compression == "gzip":
                # No name and no time in the gzip header: the same rows give the same bytes (and
                # sha256) on every pull, so an unchanged day is recognised as unchanged.
                stream = self._stack.enter_context(
                    gzip.GzipFile(filename="", fileobj=stream, mode="wb", compresslevel=6, mtime=0)
                )
            if self._parquet is not None:
                self._writer = self._parquet.ParquetRowWriter(
                    stream, on_row=self._on_row, scrubber=self._scrubber
                )
            elif self.file_format == "csv":
                self._writer = _CsvWriter(stream, self._csv_columns, self._on_row, self._scrubber)
            else:
                self._writer = _JsonlWriter(stream, self._on_row, self._scrubber)
        except BaseException:
            self._stack.close()
            self.discard()
            raise
        return self

    def write(self, row: dict[str, Any]) -> None:
        self._writer.write(row)  # type: ignore[union-attr]
        self.rows += 1

    def write_all(self, rows: Iterable[dict[str, Any]]) -> int:
        return self.write_batches([row] for row in rows)

    def write_batches(self, batches: Iterable[list[dict[str, Any]] | TypedBatch]) -> int:
        """Rows in batches: lists of row dicts, or batches typed by ``shapes.py`` (written at C
        speed by the writers that know how, else as dicts)."""
        writer = self._writer
        write = writer.write  # type: ignore[union-attr]
        write_batch = getattr(writer, "write_batch", None)
        count = 0
        try:
            for batch in batches:
                if batch.__class__ is list:
                    for row in batch:  # type: ignore[union-attr]
                        write(row)
                        count += 1
                    continue
                if not len(batch):  # type: ignore[arg-type]
                    continue  # every leg a repeat
                if write_batch is not None:
                    write_batch(batch)
                else:
                    for row in batch.dicts():  # type: ignore[union-attr]
                        write(row)
                count += len(batch)
        except RecursionError:
            raise UnwritableRow(
                f"row {self.rows + count + 1} holds a value nested too deeply to write "
                f"(over {sys.getrecursionlimit()} levels)"
            ) from None
        self.rows += count
        return count

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None and self._writer is not None:
                self._writer.finish()
            elif exc_type is not None:
                self._abort_writer()
            self._stack.close()
        except BaseException:
            self.discard()
            raise
        if exc_type is not None:
            self.discard()
            return
        if self._counter is not None:
            self.bytes = self._counter.bytes
            self.sha256 = self._counter.sha256.hexdigest()
        if self._commit_on_exit:
            self.commit()

    def _abort_writer(self) -> None:
        """Let a writer that holds native resources (Parquet) release them; the object is discarded."""
        abort = getattr(self._writer, "abort", None)
        if abort is not None:
            with contextlib.suppress(Exception):
                abort()

    def commit(self) -> None:
        """Move the temporary object onto the destination."""
        try:
            self.temporary.rename(self.destination)
        except BaseException:
            self.discard()
            raise
        self.committed = True
        log.info("Wrote %d rows to %s", self.rows, self.destination)

    def discard(self) -> None:
        """Delete the temporary object (nothing to do once committed)."""
        if self.committed:
            return
        try:
            self.temporary.unlink(missing_ok=True)
        except Exception:  # best effort: the destination is untouched either way
            log.warning("Could not delete the temporary object %s", self.temporary)


def write_atomically(destination: ObjectStoragePath, data: bytes) -> None:
    """Small bytes (a manifest) to ``destination`` through a temporary object and a rename."""
    temporary = temporary_for(destination)
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
        temporary.rename(destination)
    except BaseException:
        with contextlib.suppress(Exception):
            temporary.unlink(missing_ok=True)
        raise
