"""The CDR in CallBacks API: one call's records, from the store the vendor's IST rules point to."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.exceptions import (
    OzonetelDataNotAvailableError,
    OzonetelRequestError,
    OzonetelUnexpectedAnswerError,
    is_no_data,
)
from airflow_provider_ozonetel.hooks.transport import CALLBACKS_ENDPOINT
from airflow_provider_ozonetel.scrub import RowScrubber
from airflow_provider_ozonetel.streaming import json_type

if TYPE_CHECKING:
    from airflow_provider_ozonetel.hooks.transport import Transport

log = logging.getLogger(__name__)


class CallBacksClient:
    """Looks up calls by UCID; remembers when the vendor refuses ``currentday`` (its deprecation)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.currentday_refused = False

    def call_details(self, ucid: str, report_type: str, day: dt.date | None) -> list[dict[str, Any]]:
        """``ucid``, ``report_type`` and ``day`` are already checked (``validation.py``)."""
        if report_type != "auto":
            return self.fetch(ucid, report_type)
        if day is not None:
            try:
                chosen = calendar.callbacks_report_type(day)
            except calendar.DataNotReady as gap:
                raise OzonetelDataNotAvailableError(
                    f"UCID {ucid}: {gap}", available_at=gap.ready_at
                ) from None
            if chosen == calendar.HISTORICAL or self.currentday_refused:
                return self.fetch(ucid, calendar.HISTORICAL)
            return self._currentday_or_historical(ucid, fall_through=False)
        return self._currentday_or_historical(ucid, fall_through=True)

    def _currentday_or_historical(self, ucid: str, *, fall_through: bool) -> list[dict[str, Any]]:
        if not self.currentday_refused:
            try:
                records = self.fetch(ucid, calendar.CURRENT_DAY)
            except OzonetelRequestError as exc:
                if (exc.vendor_message or "").strip().lower() != "invalid reporttype":
                    raise
                # The vendor's deprecation variant: only "historical" exists.
                log.warning("CallBacks refused reportType=currentday; using historical from now on")
                self.currentday_refused = True
            else:
                if records or not fall_through:
                    return records
        return self.fetch(ucid, calendar.HISTORICAL)

    def fetch(self, ucid: str, report_type: str, *, retry: bool = True) -> list[dict[str, Any]]:
        """One CallBacks request; ``[]`` on "No Data Found"."""
        settings = self.transport.settings
        params = {
            "userName": settings.user_name,
            "apiKey": settings.api_key,
            "ucid": ucid,
            "reportType": report_type,
        }
        answer = self.transport.call_json(
            CALLBACKS_ENDPOINT, "GET", settings.base_url + settings.callbacks_path, params=params, retry=retry
        )
        message = answer.get("message")
        if is_no_data(message):
            return []
        if isinstance(message, dict):
            message = [message]
        if not isinstance(message, list):
            raise OzonetelUnexpectedAnswerError(
                f"{CALLBACKS_ENDPOINT} answered success without records: its message is "
                f"{json_type(message)}, neither records nor 'No Data Found'"
            )
        for index, record in enumerate(message):
            if not isinstance(record, dict):
                raise OzonetelUnexpectedAnswerError(
                    f"{CALLBACKS_ENDPOINT} answer refused: message[{index}] is {json_type(record)}, "
                    "not a call record"
                )
        try:
            return [self._scrubber.scrub(record) for record in message]
        except RecursionError:
            raise OzonetelUnexpectedAnswerError(
                f"{CALLBACKS_ENDPOINT} answer refused: a record is nested too deeply to read"
            ) from None

    @functools.cached_property
    def _scrubber(self) -> RowScrubber:
        """The API echoes the account's key (``Apikey``): any field named for it, at any depth,
        becomes ``***``, and so does the key wherever else it shows, in any escaped spelling."""
        return RowScrubber([self.transport.settings.api_key])
