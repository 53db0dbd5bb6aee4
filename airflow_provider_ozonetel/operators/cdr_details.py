"""OzonetelCDRDetailsOperator: one IST day of CDRs (Fetch CDR Details API) into storage."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.counting import DistinctCounter
from airflow_provider_ozonetel.exceptions import OzonetelRequestError
from airflow_provider_ozonetel.operators.base import OzonetelBaseOperator, resolve_cdr_date

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook

log = logging.getLogger(__name__)


class OzonetelCDRDetailsOperator(OzonetelBaseOperator):
    """
    Pull one IST day of call detail records (Fetch CDR Details API) into storage.

    The answer is streamed from the vendor to a temporary object next to the
    destination, and moved onto the destination only after the whole answer was
    read and judged a success: a failed run leaves no file (and an earlier file
    untouched); a rerun of the same day replaces it.

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
        ucid: int | str | None = None,
        campaign_name: str | None = None,
        monitor_ucid: int | str | None = None,
        call_type: str | None = None,
        status: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if window_hours is not None:
            calendar.split_day(window_hours)  # validates now, at parse time
            if from_time or to_time:
                raise ValueError("window_hours: use either window_hours or from_time/to_time, not both")
        self.cdr_date = cdr_date
        self.window_hours = window_hours
        self.from_time = from_time
        self.to_time = to_time
        self.ucid = ucid
        self.campaign_name = campaign_name
        self.monitor_ucid = monitor_ucid
        self.call_type = call_type
        self.status = status

    def execute(self, context: Context) -> dict[str, Any] | list[dict[str, Any]]:
        from airflow_provider_ozonetel.hooks.transport import CDR_ENDPOINT

        day = self._checked_day(context)
        hook = self.hook
        windows = self._windows(day)
        for start, end in windows:  # validate every window's request before sending any
            hook.build_cdr_request(day, **self._filters(start, end))
        log.info("Pulling CDRs of %s (IST) in %d request(s)", day.isoformat(), len(windows))
        call_ids = DistinctCounter()
        rows = self._rows(hook, day, windows, call_ids)
        if self.destination is None:
            return list(rows)
        path = self._storage_path(f"ozonetel_cdr_{day.isoformat()}")
        with self._sink(path) as sink:
            sink.write_all(rows)
        result = {
            "cdr_date": day.isoformat(),
            "path": str(path),
            "format": self._format_label(),
            "rows": sink.rows,
            "calls": call_ids.count(),
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

    def _windows(self, day: dt.date) -> list[tuple[Any, Any]]:
        if self.window_hours is None:
            return [(self.from_time or None, self.to_time or None)]
        windows = calendar.split_day(self.window_hours)
        if day != calendar.today_ist():
            return windows
        # Today: skip windows that have not begun; the current one ends now (None: the hook's default).
        now = calendar.now_ist().time()
        return [(start, None if end > now else end) for start, end in windows if start <= now]

    def _filters(self, start: Any, end: Any) -> dict[str, Any]:
        return {
            "from_time": start,
            "to_time": end,
            "ucid": self.ucid or None,
            "campaign_name": self.campaign_name or None,
            "monitor_ucid": self.monitor_ucid or None,
            "call_type": self.call_type or None,
            "status": self.status or None,
        }

    def _rows(
        self, hook: OzonetelHook, day: dt.date, windows: list[tuple[Any, Any]], call_ids: DistinctCounter
    ) -> Iterator[dict[str, Any]]:
        from airflow_provider_ozonetel.records import normalize_cdr

        seen: set[Any] | None = set() if len(windows) > 1 else None
        for start, end in windows:
            for record in hook.iter_cdr_details(day, **self._filters(start, end)):
                ucid = record.get("UCID")
                if seen is not None:
                    if ucid in seen:
                        continue
                    seen.add(ucid)
                call_ids.add(record.get("CallID"))
                yield normalize_cdr(record) if self.normalize else record

    def _annotate_outlets(self, context: Context, result: dict[str, Any]) -> None:
        """Put the day's file on the task's outlet asset events (their ``extra``)."""
        events = context.get("outlet_events")
        if events is None:
            return
        for outlet in self.outlets or []:
            try:
                events[outlet].extra.update(result)
            except Exception:  # an outlet that is not an asset (e.g. an alias) gets nothing
                log.debug("Outlet %r takes no event extra", outlet)
