"""The Fetch CDR Details API: one day's answer, streamed record by record and judged at its end."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from airflow_provider_ozonetel.exceptions import OzonetelError, OzonetelTransientError, error_after_records
from airflow_provider_ozonetel.hooks.transport import CDR_ENDPOINT, READ_ERRORS, raise_for_envelope
from airflow_provider_ozonetel.streaming import MalformedBody, iter_details

if TYPE_CHECKING:
    import requests

    from airflow_provider_ozonetel.hooks.transport import Transport

CDR_PATH = "/ca_reports/fetchCDRDetails"


def stream_cdr(transport: Transport, body: dict[str, str]) -> Generator[dict[str, Any], None, None]:
    """Yield the answer's records; raise after the last one if the answer was an error or cut off.

    Retries (inside the transport) cover everything up to the first record; once a record was
    handed out, a failure raises :class:`OzonetelTransientError` (the consumer saw part of it).
    """
    url = transport.settings.base_url + CDR_PATH
    response, records, first = transport.with_retries(
        CDR_ENDPOINT, lambda: _open_cdr_stream(transport, url, body)
    )
    count = 0
    envelope = None
    try:
        if first is None:
            return
        yield first
        count = 1
        while True:
            try:
                record = next(records)
            except StopIteration as done:
                envelope = done.value
                break
            yield record
            count += 1
    except MalformedBody as exc:
        raise OzonetelTransientError(
            f"{CDR_ENDPOINT} answer was cut off after {count} records ({exc}); no result was kept"
        ) from None
    except READ_ERRORS as exc:
        broken = type(exc).__name__
    finally:
        response.close()
    if envelope is not None:
        # Judged here, outside the ``except StopIteration``, so the error carries no chained
        # StopIteration; records were handed out, so the hook's own retries no longer apply.
        error = error_after_records(200, envelope, endpoint=CDR_ENDPOINT, records=count)
        if error is not None:
            raise error
        return
    # Only a broken read gets here. Raised outside the except block: transport errors' texts
    # can hold the request URL.
    raise OzonetelTransientError(
        f"{CDR_ENDPOINT} connection broke after {count} records ({broken}); no result was kept"
    )


def _open_cdr_stream(
    transport: Transport, url: str, body: dict[str, str]
) -> tuple[requests.Response, Iterator[dict[str, Any]], dict[str, Any] | None]:
    """One attempt: send, judge anything but a 200, read up to the first record."""
    response = transport.send(CDR_ENDPOINT, "GET", url, json_body=body, stream=True)
    if response.status_code != 200:
        transport.judge_whole(response, CDR_ENDPOINT)  # raises for every documented error
        raise OzonetelError(f"{CDR_ENDPOINT} answered HTTP {response.status_code} without records")
    response.raw.decode_content = True
    records = iter_details(response.raw)
    broken = None
    envelope = None
    try:
        first = next(records)
    except StopIteration as done:
        response.close()
        envelope = done.value
    except MalformedBody as exc:
        response.close()
        raise OzonetelTransientError(
            f"{CDR_ENDPOINT} answered HTTP 200 with a body that is not valid JSON: {exc}",
            http_status=200,
        ) from None
    except READ_ERRORS as exc:
        response.close()
        broken = type(exc).__name__
    if broken is not None:
        raise OzonetelTransientError(f"{CDR_ENDPOINT} connection broke while reading the answer ({broken})")
    if envelope is not None:  # no records: judged outside the except block (no chained StopIteration)
        raise_for_envelope(envelope, CDR_ENDPOINT)
        return response, iter(()), None
    return response, records, first
