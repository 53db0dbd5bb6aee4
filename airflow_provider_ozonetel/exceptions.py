"""Error classes, and the classification of every vendor answer into one of them.

Ozonetel reports errors in the body (``status`` of ``"false"``, ``"fail"`` or
``"error"`` plus a ``message``), often with HTTP 200, so answers are judged by
their body first and their HTTP status second.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_ozonetel import redaction


class OzonetelError(AirflowException):
    """Base class. Carries the vendor's message and the HTTP status, when there was one."""

    def __init__(self, message: str, *, http_status: int | None = None, vendor_message: str | None = None):
        # Every known secret (the API key, tokens, in any echoed spelling) is hidden here, once for
        # all messages: a vendor message may echo the key ("Invalid apiKey ...").
        super().__init__(redaction.redact(message))
        self.http_status = http_status
        self.vendor_message = redaction.redact(vendor_message) if vendor_message is not None else None


class OzonetelAuthError(OzonetelError, AirflowFailException):
    """Credentials or auth mode are wrong: fix the connection. Fails the task without retries."""


class OzonetelTokenExpiredError(OzonetelError):
    """The token was invalidated (expired, or another client minted a newer one) and no new one can
    be had now (the hourly mint quota is spent, or the mint lease was not released). The hook
    recovers from "Token Expired" itself whenever it can; this error is retried by Airflow."""


class OzonetelRequestError(OzonetelError, AirflowFailException, ValueError):
    """The request is invalid (a field's value): fix the task's arguments. No retries."""


class OzonetelRateLimitError(OzonetelError):
    """The vendor's rate limit answered; waited out and retried by the hook, bounded."""


class OzonetelDataNotAvailableError(OzonetelError):
    """The data is not readable yet (e.g. yesterday's calls between 00:00 and 03:00 IST)."""

    def __init__(self, message: str, *, available_at: Any = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.available_at = available_at


class OzonetelTransientError(OzonetelError):
    """5xx, HTML error pages, dropped or truncated answers: retried with backoff, bounded."""


class OzonetelUnexpectedAnswerError(OzonetelError):
    """The answer is valid JSON but not what the API documents: a success without a ``details``
    list, an element that is not a call record, a record of another day than the one asked.
    Nothing is written (an earlier file stays as it was); Airflow's task retries apply."""


class OzonetelMissingDependencyError(OzonetelError, AirflowFailException):
    """An optional package the task needs is not installed (pyarrow for parquet): install the extra.

    Fails the task without retries: a retry on the same worker cannot install it.
    """


# Every documented answer (both seeds and the token API), by message, lower-cased.
_AUTH = OzonetelAuthError
_REQ = OzonetelRequestError
_RATE = OzonetelRateLimitError
DOCUMENTED_ANSWERS: dict[str, type[OzonetelError]] = {
    # Generate Token
    "username is null": _AUTH,
    "invalid username or apikey": _AUTH,
    "token expired": OzonetelTokenExpiredError,
    # Fetch CDR Details
    "missing username or apikey": _AUTH,
    "username or apikey is invalid": _AUTH,
    "missing fromdate and todate": _REQ,
    "invalid fromdate format. please pass the date in the format yyyy-mm-dd hh:mm:ss": _REQ,
    "invalid campaignname": _REQ,
    "fromdate and todate should not be future dates": _REQ,
    "fromdate and todate should be same date": _REQ,
    "api rate limit has been exceeded": _RATE,
    "invalid json pass valid json": _REQ,
    # CDR in CallBacks
    "username should not be empty": _AUTH,
    "apikey should not be empty": _AUTH,
    "ucid should not be empty": _REQ,
    "reporttype should not be empty": _REQ,
    "invalid reporttype": _REQ,
    "ucid should be numeric only": _REQ,
    "max limit exceeded": _RATE,
}

_FIXES: dict[type[OzonetelError], str] = {
    OzonetelAuthError: "check the connection's login (CloudAgent user name), API key and auth mode",
    OzonetelTokenExpiredError: "the token was invalidated; the hook takes a newer shared token or mints "
    "one within the hourly quota, and retries",
    OzonetelRequestError: "check the task's arguments",
    OzonetelRateLimitError: "the hook waits for the rate window and retries",
}

#: What to do about an error the vendor put at the end of a streamed answer, after records were
#: handed out: the hook cannot send that request again (its consumer has seen part of the
#: answer), so the retry is Airflow's, of the whole task.
_FIXES_AFTER_RECORDS: dict[type[OzonetelError], str] = {
    OzonetelRateLimitError: "The vendor's rate limit ended the answer early. Airflow's task retry pulls it "
    "again (give the task retries); if this recurs, run fewer pulls of this account at once",
    OzonetelTokenExpiredError: "The token was invalidated while the answer was read (another client "
    "minted one). Airflow's task retry pulls it again with the newer token (give the task retries)",
}
_RETRY_THE_TASK = "Airflow's task retry pulls it again (give the task retries)"

SUCCESS_STATUS = "success"
#: Every spelling of success (a public production client of the API accepts these three:
#: ``"success"``, ``"true"`` and the JSON ``true``), compared lower-cased.
SUCCESS_STATUSES = frozenset({SUCCESS_STATUS, "true"})
NO_DATA_PREFIX = "no data found"


def is_success(status: Any) -> bool:
    """``status`` is one of the vendor's spellings of success."""
    if status is True:
        return True
    return isinstance(status, str) and status.strip().lower() in SUCCESS_STATUSES


def is_no_data(message: Any) -> bool:
    """The CallBacks API's "No Data Found with UCID ..." answer (a success without data)."""
    return isinstance(message, str) and message.strip().lower().startswith(NO_DATA_PREFIX)


def classify(http_status: int, body: Any, *, endpoint: str = "Ozonetel API") -> OzonetelError | None:
    """Judge one parsed answer. None means success; otherwise the error to raise.

    ``body`` is the parsed JSON. Documented messages decide the class whatever the
    HTTP status; unknown answers fall back to the HTTP status (401/403 auth, 429
    rate limit, 5xx transient).
    """
    status = message = None
    if isinstance(body, dict):
        status = body.get("status")
        message = body.get("message")
        if "token" in body and body.get("token") and not status:
            return None  # Generate Token success: {"token": "...", "message": ""}
    if is_success(status) and http_status < 400:
        return None
    vendor_message = message if isinstance(message, str) else None
    error_class = DOCUMENTED_ANSWERS.get((vendor_message or "").strip().lower())
    if error_class is None:
        error_class = _class_for_status(http_status)
    shown = vendor_message or (f"unexpected answer with status {status!r}" if status else "unexpected answer")
    text = f"{endpoint} answered HTTP {http_status}: {shown}"
    fix = _FIXES.get(error_class)
    if fix:
        text += f" ({fix})"
    return error_class(text, http_status=http_status, vendor_message=vendor_message)


def error_after_records(http_status: int, body: Any, *, endpoint: str, records: int) -> OzonetelError | None:
    """Judge the envelope at the end of a streamed answer that already handed out ``records``.

    The class is :func:`classify`'s; the text says the answer is incomplete and what to do,
    since the hook's own retries (waiting for the rate window, a new token) no longer apply.
    """
    error = classify(http_status, body, endpoint=endpoint)
    if error is None:
        return None
    error_class = type(error)
    fix = _FIXES_AFTER_RECORDS.get(error_class, _RETRY_THE_TASK)
    if issubclass(error_class, AirflowFailException) and error_class in _FIXES:
        fix = _FIXES[error_class][:1].upper() + _FIXES[error_class][1:]  # a retry would not help
    shown = repr(error.vendor_message) if error.vendor_message else "an error"
    return error_class(
        f"{endpoint} answered {shown} at the end of its answer (HTTP {http_status}), after {records} "
        f"record(s): the answer is incomplete and no result was kept. {fix}.",
        http_status=http_status,
        vendor_message=error.vendor_message,
    )


def _class_for_status(http_status: int) -> type[OzonetelError]:
    if http_status in (401, 403):
        return OzonetelAuthError
    if http_status == 429:
        return OzonetelRateLimitError
    if http_status >= 500:
        return OzonetelTransientError
    return OzonetelError


def unreadable_answer(http_status: int, detail: str, *, endpoint: str = "Ozonetel API") -> OzonetelError:
    """A body that is not the JSON the API documents (an HTML 502 page, a cut-off answer)."""
    error_class = OzonetelTransientError if http_status >= 500 or http_status < 300 else OzonetelError
    if http_status == 429:
        error_class = OzonetelRateLimitError
    elif http_status in (401, 403):
        error_class = OzonetelAuthError
    return error_class(
        f"{endpoint} answered HTTP {http_status} with a body that is not valid JSON: {detail}",
        http_status=http_status,
    )
