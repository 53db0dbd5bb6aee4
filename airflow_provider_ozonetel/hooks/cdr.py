"""The Fetch CDR Details API: one day's answer, streamed in batches of records and judged at its end."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from airflow_provider_ozonetel.batches import Batch, Decoder, decode_records, iter_batches
from airflow_provider_ozonetel.exceptions import (
    OzonetelAuthError,
    OzonetelError,
    OzonetelTransientError,
    OzonetelUnexpectedAnswerError,
    classify,
    error_after_records,
)
from airflow_provider_ozonetel.hooks.transport import CDR_ENDPOINT, READ_ERRORS, deadline_error, read_error
from airflow_provider_ozonetel.record_checks import check_cdr_record
from airflow_provider_ozonetel.streaming import Envelope, MalformedBody, UnexpectedBody
from airflow_provider_ozonetel.typing_process import TypingProcessFailed

if TYPE_CHECKING:
    from collections import Counter

    import requests

    from airflow_provider_ozonetel.hooks.transport import Transport

CDR_PATH = "/ca_reports/fetchCDRDetails"
_NO_RECORDS: Any = object()


def stream_cdr(transport: Transport, body: dict[str, str]) -> Generator[dict[str, Any], None, None]:
    """Yield the answer's records; raise after the last one if the answer was an error or cut off.

    Retries (inside the transport) cover everything up to the first record; once a record was
    handed out, a failure raises :class:`OzonetelTransientError` (the consumer saw part of it).
    Each record must be a call of the day asked for (``record_checks``).
    """
    for batch in stream_cdr_batches(transport, body):
        yield from batch.records


def stream_cdr_batches(
    transport: Transport, body: dict[str, str], decode: Decoder = decode_records
) -> Generator[Batch, None, None]:
    """:func:`stream_cdr` in batches of consecutive records (``batches.py``), as ``decode`` makes them.

    A batch ``decode`` hands out as a list of dicts is checked record by record here; any other
    is the decoder's own, whose records it proved to be calls of the day (``shapes.DayDecoder``
    decodes ``CallDate`` as exactly the asked day and the ids as scalars).
    """
    url = transport.settings.base_url + CDR_PATH
    day = body["fromDate"][:10]
    response, batches, first = transport.with_retries(
        CDR_ENDPOINT, lambda: _open_cdr_stream(transport, url, body, decode)
    )
    count = 0
    envelope: Envelope | None = None
    failure: OzonetelError | None = None
    try:
        if first is _NO_RECORDS:
            return
        batch = first
        while True:
            checked, problem = _checked(batch, day)
            if checked is not None:
                yield checked
                count += len(checked.records)
            if problem is not None:
                failure = _refused(str(problem), count)
                break
            try:
                batch = next(batches)
            except StopIteration as done:
                envelope = done.value
                break
    except MalformedBody as exc:
        failure = _past_deadline(response, f"after {count} records") or OzonetelTransientError(
            f"{CDR_ENDPOINT} answer was cut off after {count} records ({exc}); no result was kept"
        )
    except UnexpectedBody as exc:
        failure = unexpected_body(exc, count)
    except READ_ERRORS as exc:
        # Not chained: transport errors' texts can hold the request URL.
        failure = read_error(CDR_ENDPOINT, exc, response, f"after {count} records")
    except TypingProcessFailed as exc:
        failure = OzonetelTransientError(
            f"{CDR_ENDPOINT} answer could not be read after {count} records: {exc}; no result was kept"
        )
    finally:
        response.close()
    # Raised here, outside the except blocks, so nothing is chained (no StopIteration, no URL).
    if failure is not None:
        raise failure
    if envelope is not None:
        judge_envelope(envelope, count)


def _checked(batch: Batch, day: str) -> tuple[Batch | None, ValueError | None]:
    """The batch's records up to the first that is not a call of ``day``, and that record's problem."""
    records = batch.records
    if records.__class__ is not list:
        return batch, None  # the decoder's own: proven by its types
    for offset, record in enumerate(records):
        try:
            check_cdr_record(record, day, batch.first + offset)
        except ValueError as exc:
            kept = Batch(batch.first, records[:offset], batch.decoded) if offset else None
            return kept, exc
    return batch, None


def judge_envelope(envelope: Envelope, count: int = 0, auth_mode: str | None = None) -> None:
    """The vendor's error, if the envelope holds one; a success must come with a ``details`` list."""
    error = _vendor_error(envelope.fields, count)
    if error is not None:
        raise explain_token_refusal(error, auth_mode)
    if not envelope.has_details_list:
        raise _refused(
            f"it is a success whose 'details' is {envelope.details}, not a list "
            '(only "details": [] is an empty day)',
            0,
        )


def explain_token_refusal(error: OzonetelError, auth_mode: str | None) -> OzonetelError:
    """ "Missing userName or apiKey" to a request that carried a token and the userName: the account
    is set to BASIC_AUTH, which refuses tokens with the very message of a missing field (seen by a
    public production client). Say so, and name the fix."""
    if (
        auth_mode != "token"
        or not isinstance(error, OzonetelAuthError)
        or (error.vendor_message or "").strip().lower() != "missing username or apikey"
    ):
        return error
    status = f"HTTP {error.http_status} " if error.http_status else ""
    return OzonetelAuthError(
        f"{CDR_ENDPOINT} answered {status}'Missing userName or apiKey' to a request that carried a "
        "bearer token and the userName: the account is set to BASIC_AUTH, which refuses tokens. Set the "
        'connection\'s auth mode to api_key (extra "auth_mode": "api_key"); the Test button tells '
        "which mode the account accepts",
        http_status=error.http_status,
        vendor_message=error.vendor_message,
    )


def unexpected_body(exc: UnexpectedBody, count: int) -> OzonetelError:
    """The vendor's own error when the envelope could be read and holds one; else the shape error."""
    if exc.envelope is not None:
        error = _vendor_error(exc.envelope.fields, count)
        if error is not None:
            return error
    return _refused(str(exc), count)


def _vendor_error(fields: dict[str, Any], count: int) -> OzonetelError | None:
    if count:
        return error_after_records(200, fields, endpoint=CDR_ENDPOINT, records=count)
    return classify(200, fields, endpoint=CDR_ENDPOINT)


def _past_deadline(response: requests.Response, when: str) -> OzonetelError | None:
    """The deadline's error when the watchdog ended the answer (which then reads as cut off)."""
    deadline = getattr(response, "deadline", None)
    return deadline_error(CDR_ENDPOINT, deadline, when) if deadline is not None and deadline.expired else None


def _refused(detail: str, count: int) -> OzonetelUnexpectedAnswerError:
    kept = f" after {count} records" if count else ""
    return OzonetelUnexpectedAnswerError(f"{CDR_ENDPOINT} answer refused{kept}: {detail}; no result was kept")


def _open_cdr_stream(
    transport: Transport, url: str, body: dict[str, str], decode: Decoder
) -> tuple[requests.Response, Iterator[Batch], Any]:
    """One attempt: send, judge anything but a 200, read up to the first batch of records."""
    response = transport.send(CDR_ENDPOINT, "GET", url, json_body=body, stream=True)
    if response.status_code != 200:
        refused: OzonetelError | None = None
        try:
            transport.judge_whole(response, CDR_ENDPOINT)  # raises for every documented error
        except OzonetelAuthError as exc:
            refused = explain_token_refusal(exc, transport.settings.auth_mode)
        if refused is not None:
            raise refused
        raise OzonetelError(f"{CDR_ENDPOINT} answered HTTP {response.status_code} without records")
    response.raw.decode_content = True
    source = _Counted(response.raw, transport.bytes_received)
    read_batches = getattr(decode, "read_batches", None)  # a decoder with its own reader (typing_process)
    records = read_batches(source) if read_batches is not None else iter_batches(source, decode)
    envelope: Envelope | None = None
    failure: OzonetelError | None = None
    try:
        first = next(records)
    except StopIteration as done:
        envelope = done.value
    except MalformedBody as exc:
        failure = _past_deadline(response, "before its first record") or OzonetelTransientError(
            f"{CDR_ENDPOINT} answered HTTP 200 with a body that is not valid JSON: {exc}", http_status=200
        )
    except UnexpectedBody as exc:
        failure = unexpected_body(exc, 0)
    except READ_ERRORS as exc:
        failure = read_error(CDR_ENDPOINT, exc, response, "before its first record")
    except TypingProcessFailed as exc:
        failure = OzonetelTransientError(f"{CDR_ENDPOINT} answer could not be read: {exc}")
    # Judged outside the except blocks: nothing chained (no StopIteration, no transport text).
    if failure is not None or envelope is not None:
        response.close()
    if failure is not None:
        raise failure
    if envelope is not None:
        judge_envelope(envelope, auth_mode=transport.settings.auth_mode)
        return response, iter(()), _NO_RECORDS
    return response, records, first


class _Counted:
    """A readable that adds what it reads to ``counter[CDR_ENDPOINT]`` (the progress lines' bytes)."""

    def __init__(self, source: Any, counter: Counter[str]):
        self._source = source
        self._counter = counter

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._source.read(size)
        self._counter[CDR_ENDPOINT] += len(chunk)
        return chunk
