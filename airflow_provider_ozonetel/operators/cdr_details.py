"""OzonetelCDRDetailsOperator: one IST day of CDRs (Fetch CDR Details API) into storage."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.counting import DistinctCounter
from airflow_provider_ozonetel.exceptions import OzonetelRequestError
from airflow_provider_ozonetel.operators.base import resolve_cdr_date
from airflow_provider_ozonetel.operators.day_pull import OzonetelCDRDayPullBase

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

log = logging.getLogger(__name__)


class OzonetelCDRDetailsOperator(OzonetelCDRDayPullBase):
    """
    Pull one IST day of call detail records (Fetch CDR Details API) into storage.

    The answer is streamed from the vendor to a temporary object next to the
    destination, and moved onto the destination only after the whole answer was
    read and judged a success: a failed run leaves no file (and an earlier file
    untouched); a rerun of the same day replaces it. The day's manifest
    (``<file>.manifest.json``: rows, calls, size, sha256, request windows) is written
    after the file, so ``OzonetelCDRCatchUpOperator`` counts the day as present.

    :param cdr_date: the IST day (``date`` or ``YYYY-MM-DD``; templated). None: the IST date of
        ``data_interval_start`` when the run's data interval is non-empty, otherwise the IST day
        before the run's logical date.
    :param destination: an ``ObjectStoragePath`` or URL (``file:///...``, ``s3://...``, anything
        fsspec knows; templated). A value ending in ``/`` is a folder: the file is named
        ``ozonetel_cdr_<date>.<format>``. None: the rows themselves are returned as the task's XCom,
        which suits small pulls only (XCom lives in the metadata database).
    :param file_format: ``jsonl`` (default) or ``csv`` (a fixed header: the typed columns, or the
        first record's fields with ``normalize=False``, then ``extra_fields`` holding any other
        field as JSON).
    :param compression: None or ``gzip``.
    :param normalize: True: typed rows (see ``records.py`` and the published JSON Schema).
        False: the vendor's records unchanged, IDs exact.
    :param window_hours: split the day into windows of this many hours, one request each (paced
        by the hook: 2 per minute), for accounts whose full-day answer is too large or slow. Rows
        are de-duplicated by UCID across windows.
    :param from_time: / :param to_time: pull only this window of the day (IST ``HH:MM[:SS]``).
    :param ucid: / :param campaign_name: / :param monitor_ucid: / :param call_type: / :param status:
        the API's optional filters.
    :param hook_params: extra keyword arguments for ``OzonetelHook`` (retries, rate window...).
    :return: ``{"cdr_date", "path", "format", "rows", "calls", "requests"}``; ``calls`` counts
        distinct CallIDs (one call can have several UCIDs, one row each).
    """

    template_fields: Sequence[str] = (
        "cdr_date",
        "destination",
        "from_time",
        "to_time",
        "ucid",
        "campaign_name",
        "monitor_ucid",
        "call_type",
        "status",
    )
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        cdr_date: dt.date | str | None = None,
        window_hours: float | None = None,
        from_time: str | None = None,
        to_time: str | None = None,
        **kwargs: Any,
    ) -> None:
        if window_hours is not None and (from_time or to_time):
            raise ValueError("window_hours: use either window_hours or from_time/to_time, not both")
        super().__init__(window_hours=window_hours, **kwargs)
        self.cdr_date = cdr_date
        self.from_time = from_time
        self.to_time = to_time

    def execute(self, context: Context) -> dict[str, Any] | list[dict[str, Any]]:
        from airflow_provider_ozonetel.hooks.transport import CDR_ENDPOINT

        day = self._checked_day(context)
        hook = self.hook
        windows = self._windows(day, self.from_time, self.to_time)
        if self.destination is None:
            self._check_requests(hook, day, windows)
            return list(self._rows(hook, day, windows, DistinctCounter()))
        path = self._storage_path(f"ozonetel_cdr_{day.isoformat()}")
        pulled = self._pull_day(hook, day, path, windows)
        result = {
            "cdr_date": day.isoformat(),
            "path": str(path),
            "format": self._format_label(),
            "rows": pulled.manifest.rows,
            "calls": pulled.manifest.calls,
            "requests": hook.requests_sent[CDR_ENDPOINT],
        }
        self._annotate_outlets(context, result)
        return result

    def _checked_day(self, context: Context) -> dt.date:
        try:
            day = resolve_cdr_date(self.cdr_date, context)
            calendar.check_retention(day)
        except ValueError as exc:
            raise OzonetelRequestError(str(exc)) from None
        return day
