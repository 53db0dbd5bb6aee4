"""A day's answer typed in a second process, while this one reads the socket and writes the file.
Pure: no Airflow import.

One process types ~200 MB of answer a second at best here (``bench/ceilings.py``), and reading
the socket, hashing and writing take it a third as long again. With ``typing_process=True`` a
day pull splits the two: this process reads the answer and hands its bytes, as they come, to a
child forked from it, which runs the very reader and typers an in-process pull runs
(``batches.iter_batches`` with ``shapes.DayDecoder``) and sends back, batch by batch and in
order, the rows encoded for the file and what the pull checks of them (each leg's UCID key,
times and CallID, whether a row may hold the key). Nothing is decided differently: the child's
reader meets every odd answer where the in-process one would, and what it raises is raised here,
after the batches read before it.

A batch the writers cannot take as it is (a leg sent twice, a row that may hold the key) is
typed again here from its bytes, which this process kept (a re-pull compared with a stored file
needs every row so: the operator types it in its own process), so
the rows written are an in-process pull's, byte for byte (``tests/unit/test_typing_process.py``).

Forked, not started anew: the child has every module it needs already imported (a new
interpreter would take ~0.1 s to import them), and it runs only this module's loop over its
pipes, which takes no lock another thread could hold (no logging, no imports), then ends with
``os._exit``. It never sees the API key but as the parent's memory it was forked with.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import warnings
from collections.abc import Generator, Sequence
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_ozonetel.batches import CHUNK_BYTES, Batch, digit_runs_of, iter_batches

if TYPE_CHECKING:
    from airflow_provider_ozonetel.scrub import RowScrubber
    from airflow_provider_ozonetel.shapes import DayDecoder
    from airflow_provider_ozonetel.streaming import Envelope, Readable

#: Bytes a pipe between the two processes holds (Linux's default is 64 KB: a batch would not fit,
#: and each side would wait on the other). Capped by ``/proc/sys/fs/pipe-max-size`` (1 MB).
PIPE_BYTES = 1 << 20
# To the child: bytes of the answer (with too long a run of digits in what was sent so far: D),
# the answer's end, a read failure.
_DATA, _DIGITS, _END, _FAILED = b"d", b"D", b"e", b"x"


class TypingProcessFailed(RuntimeError):
    """The typing process ended without an answer (killed, out of memory...)."""


class _ReadFailed(Exception):
    """In the child: reading the answer failed in the parent (which raises the real error)."""


class _Window:
    """The answer's bytes sent to the child and not yet passed by its batches (a few MB at most:
    what the pipes and the child's buffer hold)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._start = 0  # where the first chunk begins in the answer
        self._kept = 0  # bytes held
        self._closed = False
        self._lock = threading.Lock()

    def add(self, chunk: bytes) -> None:
        with self._lock:
            if not self._closed:
                self._chunks.append(chunk)
                self._kept += len(chunk)

    def close(self) -> None:
        """Keep nothing more: the reader handed the rest of the answer over (no batch of the
        decoder's follows, so none will need its bytes)."""
        with self._lock:
            self._closed = True
            self._chunks.clear()
            self._kept = 0

    @property
    def kept(self) -> int:
        return self._kept

    def drop_before(self, offset: int) -> None:
        """Let go of the chunks that end before ``offset`` (the batches before it are written)."""
        with self._lock:
            while self._chunks and self._start + len(self._chunks[0]) <= offset:
                chunk = self._chunks.pop(0)
                self._start += len(chunk)
                self._kept -= len(chunk)

    def array(self, start: int, end: int) -> bytes:
        """``[`` + the answer's bytes ``[start, end)`` + ``]``: a batch's records as its decoder
        was given them. The bytes before ``start`` are let go."""
        self.drop_before(start)
        with self._lock:
            at, pieces = self._start, [b"["]
            for chunk in self._chunks:
                if at >= end:
                    break
                pieces.append(chunk[max(start - at, 0) : end - at])
                at += len(chunk)
            pieces.append(b"]")
            return b"".join(pieces)


class RemoteBatch:
    """A batch typed in the child: its rows encoded for the file, and what the pull checks."""

    __slots__ = (
        "_decoder",
        "_local",
        "call_ids",
        "csv_columns",
        "data",
        "encoded",
        "file_format",
        "hold",
        "keys",
        "times",
    )

    def __init__(
        self, payload: dict[str, Any], data: bytes, decoder: Any, csv_columns: tuple[str, ...] | None
    ):
        self.encoded: bytes = payload["encoded"]  # jsonl lines, or CSV records as UTF-8
        self.keys: list[str | None] = payload["keys"]  # each leg's UCID as dedup keys it
        self.times: tuple[list[Any], list[Any]] = payload["times"]  # StartTime and EndTime, per leg
        self.call_ids: list[Any] = payload["call_ids"]
        self.hold: bool = payload["hold"]  # csv: whether a row may hold the key (shapes._may_hold)
        self.file_format: str = payload["file_format"]
        self.csv_columns = csv_columns
        self.data = data  # the answer's bytes of these records, as the decoder was given them
        self._decoder = decoder
        self._local: Any = None

    def __len__(self) -> int:
        return len(self.keys)

    def local(self) -> Any:
        """The same rows typed here (``shapes.FastBatch``), for the ways that need them as objects."""
        if self._local is None:
            self._local = self._decoder(self.data)
        return self._local

    def jsonl_lines(self) -> bytes:
        return self.encoded

    def csv_text(self) -> str:
        return self.encoded.decode("utf-8")

    def jsonl_rows(self) -> list[Any]:
        return self.local().jsonl_rows()  # type: ignore[no-any-return]

    def dicts(self) -> list[dict[str, Any]]:
        return self.local().dicts()  # type: ignore[no-any-return]

    def may_hold(self, scrubber: RowScrubber) -> bool:
        if self.file_format == "csv":
            return self.hold  # found by the child, with the scrubber of the pull
        return self.local().may_hold(scrubber)  # type: ignore[no-any-return]  # jsonl looks itself

    def ucid_keys(self) -> list[str | None]:
        return self.keys

    def leg_times(self, at: int) -> dict[str, Any]:
        starts, ends = self.times
        return {"StartTime": starts[at], "EndTime": ends[at]}

    def leg_call_ids(self) -> list[Any]:
        return self.call_ids

    def select(self, keep: list[int]) -> Any:
        return self.local().select(keep)


class TypingProcess:
    """The ``batches.Decoder`` of a day pull whose answers are typed in a child process: it gives
    ``cdr.py`` its own reader (:meth:`read_batches`), which yields what ``iter_batches`` would."""

    def __init__(
        self, day: str, *, file_format: str, csv_columns: Sequence[str] | None, scrubber: RowScrubber
    ):
        if file_format not in ("jsonl", "csv"):
            raise ValueError(f"a typing process writes jsonl or csv, not {file_format!r}")
        self._day = day
        self._format = file_format
        self._csv_columns = tuple(csv_columns) if csv_columns is not None else None
        self._scrubber = scrubber
        self._local: DayDecoder | None = None

    def __call__(self, data: bytes) -> Any:
        """Type a batch here (when the writers need its rows as objects), as the child would."""
        if self._local is None:  # made when first needed: most pulls never need it
            from airflow_provider_ozonetel.shapes import DayDecoder

            self._local = DayDecoder(self._day, file_format=self._format, csv_columns=self._csv_columns)
        return self._local(data)

    def read_batches(self, source: Readable) -> Generator[Batch, None, Envelope]:
        """``batches.iter_batches(source, decoder)``, the reading and typing done by a child."""
        pid, results, answer = self._fork()
        window = _Window()
        failure: list[BaseException] = []
        feeder = threading.Thread(target=_feed, args=(source, answer, window, failure), daemon=True)
        feeder.start()
        try:
            while True:
                kind, value = _receive(pid, results)
                if kind == "batch":
                    first, (start, end), payload = value
                    data = window.array(start, end)
                    records = RemoteBatch(payload, data, self, self._csv_columns)
                    yield Batch(first, records, decoded=True, span=(start, end))
                elif kind == "dicts":  # records as dicts, in the child as here
                    batch = Batch(*value)
                    if batch.span is not None:  # a batch the decoder gave as dicts
                        window.drop_before(batch.span[0])
                    else:  # handed over to streaming.iter_details: no bytes will be needed again
                        window.close()
                    yield batch
                elif kind == "end":
                    return value  # type: ignore[no-any-return]
                elif kind == "read failed":
                    feeder.join()
                    raise failure[0]
                else:  # "raise": what the child's reader raised, raised here
                    raise value
        finally:
            _stop(pid, results, answer)
            # The feeder ends at its next read or write; one waiting on a stalled socket ends when
            # cdr.py closes the response, right after this.
            feeder.join(timeout=1)

    def _fork(self) -> tuple[int, IO[bytes], IO[bytes]]:
        from airflow_provider_ozonetel.shapes import DayDecoder  # imported here: never in the child

        from_child, to_parent = os.pipe()
        from_parent, to_child = os.pipe()
        for fd in (to_parent, to_child):
            _widen(fd)
        with warnings.catch_warnings():
            # Python 3.12+ warns of fork() in a process with threads: the child takes no lock
            # another thread could hold (see the module's docstring).
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(from_child)
                os.close(to_child)
                decoder = DayDecoder(self._day, file_format=self._format, csv_columns=self._csv_columns)
                with open(from_parent, "rb") as answer, open(to_parent, "wb") as results:
                    _serve(answer, results, decoder, self._format, self._scrubber)
                code = 0
            finally:
                os._exit(code)
        os.close(to_parent)
        os.close(from_parent)
        return pid, open(from_child, "rb"), open(to_child, "wb")


def _feed(source: Readable, answer: IO[bytes], window: _Window, failure: list[BaseException]) -> None:
    """The answer's bytes to the child as they come (a thread: reading the socket lets go of the
    GIL), each with whether the answer so far holds too long a run of digits (the reader's guard,
    found here, where there is CPU to spare)."""
    digit_runs = digit_runs_of()
    try:
        while True:
            try:
                chunk = source.read(CHUNK_BYTES)
            except BaseException as exc:  # raised by the parent where the child's reader meets it
                failure.append(exc)
                _send(answer, _FAILED)
                return
            if not chunk:
                _send(answer, _END)
                return
            window.add(chunk)
            _send(answer, (_DIGITS if digit_runs(chunk) else _DATA) + chunk)
    except (BrokenPipeError, ValueError, OSError):
        return  # the child is gone (stopped early): the reader says what happened


def _send(pipe: IO[bytes], data: bytes) -> None:
    pipe.write(len(data).to_bytes(4, "little"))
    pipe.write(data)
    pipe.flush()


def _read_frame(pipe: IO[bytes]) -> bytes | None:
    size = pipe.read(4)
    if len(size) < 4:
        return None
    return pipe.read(int.from_bytes(size, "little"))


def _receive(pid: int, results: IO[bytes]) -> tuple[str, Any]:
    frame = _read_frame(results)
    if frame is None:
        _, status = os.waitpid(pid, 0)
        ended = (
            f"signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"exit code {os.WEXITSTATUS(status)}"
        )
        raise TypingProcessFailed(f"the typing process ended without an answer ({ended})")
    return pickle.loads(frame)  # type: ignore[no-any-return]  # our own child's, over its own pipe


def _widen(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or above the system's limit: smaller pipes cost some speed, nothing else


def _stop(pid: int, results: IO[bytes], answer: IO[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)  # done, or stopped early: either way it has nothing left to say
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    for pipe in (results, answer):
        with contextlib.suppress(OSError):
            pipe.close()


# ---------------------------------------------------------------------------------------- the child
class _PipeSource:
    """A readable of the bytes the parent sends (see :func:`_feed`): each read gives what the
    parent's read of the same size gave (a whole chunk), or a part of it for a smaller read."""

    def __init__(self, pipe: IO[bytes]):
        self._pipe = pipe
        self._rest = b""
        self._ended = False
        self._chunk = b""  # the last whole chunk read, and what the parent found of it
        self._digits = False
        self._digit_runs = digit_runs_of()  # for a chunk the parent did not judge alone

    def read(self, size: int = -1, /) -> bytes:
        if not self._rest and not self._ended:
            frame = _read_frame(self._pipe)
            if frame is None or frame[:1] == _FAILED:  # the parent is gone, or its read failed
                raise _ReadFailed
            if frame[:1] == _END:
                self._ended = True
            else:
                self._rest = self._chunk = frame[1:]
                self._digits = frame[:1] == _DIGITS
        if size < 0 or size >= len(self._rest):
            data, self._rest = self._rest, b""
        else:
            data, self._rest = self._rest[:size], self._rest[size:]
        return data

    def digit_runs(self, chunk: bytes) -> bool:
        """The reader's guard for ``chunk``: the parent's finding for a whole chunk it sent (the
        reader reads chunks of the parent's size, so every one)."""
        if chunk is self._chunk:
            return self._digits
        return self._digit_runs(chunk)  # pragma: no cover - the reader reads whole chunks


def _payload(batch: Any, file_format: str, scrubber: RowScrubber) -> dict[str, Any]:
    """What the parent needs of a batch typed here (``shapes.FastBatch``)."""
    return {
        "encoded": batch.jsonl_lines() if file_format == "jsonl" else batch.csv_text().encode("utf-8"),
        "keys": batch.ucid_keys(),
        "times": batch.leg_time_columns(),
        "call_ids": batch.leg_call_ids(),
        # The csv writer asks; the jsonl writer looks in the encoded rows itself (parent's CPU).
        "hold": file_format == "csv" and bool(scrubber) and batch.may_hold(scrubber),
        "file_format": file_format,
    }


def _dumps(value: Any) -> bytes:
    """``value`` pickled. Records nest as deep as the decoder's recursion limit let them, and
    pickling a level takes more than one call: the limit is raised for pickling alone (were it
    raised for decoding too, the child would take records the in-process reader refuses)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(4 * limit)
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        sys.setrecursionlimit(limit)


def _serve(
    answer: IO[bytes], results: IO[bytes], decoder: Any, file_format: str, scrubber: RowScrubber
) -> None:
    """The child's loop: read and type the answer, send each batch's rows, then how it ended."""
    source = _PipeSource(answer)
    reader = iter_batches(source, decoder, digit_runs=source.digit_runs)

    def send(kind: str, value: Any) -> None:
        _send(results, _dumps((kind, value)))

    try:
        while True:
            try:
                batch = next(reader)
            except StopIteration as done:
                send("end", done.value)
                return
            if batch.records.__class__ is not list:  # typed by the decoder (shapes.FastBatch)
                send("batch", (batch.first, batch.span, _payload(batch.records, file_format, scrubber)))
            else:
                send("dicts", (batch.first, batch.records, batch.decoded, batch.span))
    except _ReadFailed:
        send("read failed", None)
    except BrokenPipeError:
        return  # the parent stopped reading
    except Exception as exc:  # the reader's errors, raised in the parent as they were here
        try:
            reply = _dumps(("raise", exc))
        except Exception:  # an error that does not pickle: its class and text
            reply = pickle.dumps(("raise", RuntimeError(f"{type(exc).__name__}: {exc}")))
        _send(results, reply)
