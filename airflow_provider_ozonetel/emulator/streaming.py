"""fetchCDRDetails bodies, streamed a few hundred records per chunk (never one giant string).

The body is ``{"details":[...],"message":"success","status":"success"}``: details
first, as in the vendor's sample. The body faults are variants of the same
stream: ``drop`` stops after the first chunk and breaks the connection,
``truncate`` ends cleanly in the middle of a record, ``error_at_end`` closes
with the vendor's rate-limit error instead of success.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

from starlette.responses import Response, StreamingResponse

#: Records serialized per chunk.
CHUNK_RECORDS = 256
#: Bytes per chunk when a cached body is read back.
FILE_CHUNK = 1 << 20

PREFIX = '{"details":['
SUCCESS_END = '],"message":"success","status":"success"}'
ERROR_END = '],"message":"API rate limit has been exceeded","status":"error"}'

NORMAL = "normal"
DROP = "drop"
TRUNCATE = "truncate"
ERROR_AT_END = "error_at_end"


class InjectedDrop(Exception):
    """Raised inside a body on purpose: the server closes the connection mid-body."""


def body_chunks(
    records: Iterable[dict[str, Any]],
    *,
    mode: str = NORMAL,
    on_records: Callable[[int], None] | None = None,
    encode: Callable[[dict[str, Any]], str] | None = None,
) -> Iterator[bytes]:
    """The chunks of one fetchCDRDetails body (``mode``: normal or a body fault).

    ``encode`` writes one record as JSON (default: the JSON encoder; the dataset has a faster one).
    """
    pending = PREFIX
    sent = 0
    for batch in _batches(records, encode or _encode_json):
        sent += len(batch)
        if on_records is not None:
            on_records(len(batch))
        text = pending + ",".join(batch)
        pending = ","
        if mode == DROP:
            yield text.encode()
            raise InjectedDrop(f"fault drop: connection closed after {sent} records")
        if mode == TRUNCATE:
            # Cut the chunk's last record in half, then end the response normally.
            yield text[: len(text) - len(batch[-1]) // 2].encode()
            return
        yield text.encode()
    if mode == DROP:  # no record at all: the body breaks right after its start
        yield PREFIX.encode()
        raise InjectedDrop("fault drop: connection closed before any record")
    if mode == TRUNCATE:
        yield (PREFIX + '{"AgentDialStatus":"ans').encode()
        return
    tail = ERROR_END if mode == ERROR_AT_END else SUCCESS_END
    yield ((PREFIX if sent == 0 else "") + tail).encode()


_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode


def _batches(
    records: Iterable[dict[str, Any]], encode: Callable[[dict[str, Any]], str]
) -> Iterator[list[str]]:
    batch: list[str] = []
    for record in records:
        batch.append(encode(record))
        if len(batch) == CHUNK_RECORDS:
            yield batch
            batch = []
    if batch:
        yield batch


class BodyCache:
    """Complete bodies kept as files, so a repeated request streams at disk speed.

    Only for answers that cannot change: days before today, no filters, no fault.
    A body is written while it is first streamed (to a temporary name, renamed
    when complete), so the first request is not slower. Files are named by
    account, seed, calls per day, day and window; delete the directory to
    start over.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def read(self, key: str) -> tuple[Iterator[bytes], int] | None:
        """The cached body's chunks and its record count, or None."""
        try:
            count = int((self.directory / f"{key}.count").read_text())
            handle = (self.directory / f"{key}.json").open("rb")
        except (FileNotFoundError, ValueError):
            return None
        return _read_chunks(handle), count

    def write_through(
        self, key: str, chunks: Iterable[bytes], *, records: Callable[[], int]
    ) -> Iterator[bytes]:
        """Yield ``chunks``, and keep them under ``key`` once all went through."""
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.", suffix=".part")
        done = False
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    yield chunk
            (self.directory / f"{key}.count").write_text(str(records()))
            os.replace(tmp, self.directory / f"{key}.json")
            done = True
        finally:
            if not done:
                pathlib.Path(tmp).unlink(missing_ok=True)


def _read_chunks(handle: Any) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(FILE_CHUNK):
            yield chunk


#: Bytes sent at a time on a paced link: small enough for a steady rate, large enough to be cheap.
PACED_PIECE = 1 << 16


def paced(
    response: Response,
    bytes_per_second: float,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> StreamingResponse:
    """``response`` with its body sent no faster than ``bytes_per_second`` (``--bandwidth-mbps``).

    The body goes in pieces of :data:`PACED_PIECE` bytes; each leaves when the link would have
    carried it and every byte before it, so the rate holds over the whole body whatever a wait
    oversleeps. No latency is emulated, only the rate.
    """

    async def send() -> AsyncIterator[bytes]:
        now = clock or asyncio.get_running_loop().time
        started, sent = now(), 0
        async for chunk in _body_chunks(response):
            for at in range(0, len(chunk), PACED_PIECE):
                piece = chunk[at : at + PACED_PIECE]
                sent += len(piece)
                wait = started + sent / bytes_per_second - now()
                if wait > 0:
                    await sleep(wait)
                yield piece

    return StreamingResponse(send(), status_code=response.status_code, headers=dict(response.headers))


async def _body_chunks(response: Response) -> AsyncIterator[bytes]:
    """The body of ``response`` as bytes chunks, whether it streams or not."""
    if not isinstance(response, StreamingResponse):
        yield bytes(response.body)
        return
    async for chunk in response.body_iterator:
        yield chunk if isinstance(chunk, bytes) else str(chunk).encode()


def trickled(response: Response, seconds: float) -> StreamingResponse:
    """``response`` with its body sent one byte at a time, ``seconds`` apart (the trickle fault)."""

    async def drip() -> AsyncIterator[bytes]:
        async for chunk in _body_chunks(response):
            for at in range(len(chunk)):
                yield chunk[at : at + 1]
                await asyncio.sleep(seconds)

    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return StreamingResponse(drip(), status_code=response.status_code, headers=headers)
