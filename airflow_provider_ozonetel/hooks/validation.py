"""Request checks made before anything is sent: each failure names the field and the fix."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.exceptions import OzonetelRequestError

CALL_REPORT_TYPES = ("auto", *calendar.REPORT_TYPES)


def build_cdr_body(
    user_name: str,
    cdr_date: dt.date | str,
    *,
    from_time: dt.time | str | None = None,
    to_time: dt.time | str | None = None,
    ucid: int | str | None = None,
    campaign_name: str | None = None,
    monitor_ucid: int | str | None = None,
    call_type: str | None = None,
    status: str | None = None,
) -> dict[str, str]:
    """The fetchCDRDetails JSON body for one IST day (or a window of it), checked."""
    day = request_check(calendar.parse_date, cdr_date, "cdr_date")
    request_check(calendar.check_retention, day)
    now = calendar.now_ist()
    if day == now.date():
        # The vendor refuses a future toDate: today's window ends now.
        current = now.time().replace(microsecond=0)
        if to_time is None:
            to_time = current
        elif request_check(calendar.parse_time, to_time, "to_time") > current:
            raise OzonetelRequestError(
                f"to_time={to_time} is in the future (now is {current.isoformat()} IST); "
                "use a time up to now or leave to_time empty"
            )
    from_date, to_date = request_check(calendar.day_bounds, day, from_time, to_time)
    body = {"fromDate": from_date, "toDate": to_date, "userName": user_name}
    optional = {
        "ucid": numeric(ucid, "ucid"),
        "campaignName": text(campaign_name, "campaign_name"),
        "monitorUCID": numeric(monitor_ucid, "monitor_ucid"),
        "callType": text(call_type, "call_type"),
        "status": text(status, "status"),
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


def check_report_type(report_type: Any) -> str:
    if report_type not in CALL_REPORT_TYPES:
        raise OzonetelRequestError(
            f"report_type: {report_type!r} is not one of {', '.join(CALL_REPORT_TYPES)}"
        )
    return report_type


def check_call_date(call_date: dt.date | str | None) -> dt.date | None:
    """The IST day a call started, within the retention window; None when not given."""
    if call_date in (None, ""):
        return None
    day = request_check(calendar.parse_date, call_date, "call_date")
    request_check(calendar.check_retention, day, None, "call_date")
    return day


def request_check(check: Callable[..., Any], *args: Any) -> Any:
    """Run a calendar check; turn its ValueError into a request error (no request is sent)."""
    try:
        return check(*args)
    except ValueError as exc:
        raise OzonetelRequestError(str(exc)) from None


def clean_ucid(value: int | str | None, field: str = "ucid") -> str:
    """A UCID as its exact digit string; raises :class:`OzonetelRequestError` naming ``field``."""
    digits = numeric(value, field)
    if digits is None:
        raise OzonetelRequestError(f"{field}: a UCID is required (digits only, e.g. '31733467784618213')")
    return digits


def numeric(value: int | str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise OzonetelRequestError(
            f"{field}: expected digits (an int or a string), got {type(value).__name__}"
        )
    digits = str(value).strip()
    if not digits.isdigit() or not digits.isascii():
        raise OzonetelRequestError(f"{field}: {value!r} is not numeric; a UCID is digits only")
    return digits


def text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise OzonetelRequestError(f"{field}: expected a non-empty string, got {value!r}")
    return value.strip()
