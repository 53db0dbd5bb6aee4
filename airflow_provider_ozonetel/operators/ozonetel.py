"""Operators that pull Ozonetel CDRs into storage. Thin over OzonetelHook; heavy imports at execute time."""

from __future__ import annotations

import ast
import datetime as dt
import json
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.counting import DistinctCounter
from airflow_provider_ozonetel.exceptions import OzonetelError, OzonetelRequestError
from airflow_provider_ozonetel.sink import check_format, file_suffix

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook

log = logging.getLogger(__name__)


def resolve_cdr_date(value: dt.date | str | None, context: Context, field: str = "cdr_date") -> dt.date:
    """``value`` as a date; None (or "") follows the default rule of ``design.md``."""
    if value not in (None, ""):
        return calendar.parse_date(value, field)  # type: ignore[arg-type]
    dag_run = context.get("dag_run")
    anchor = context.get("logical_date") or getattr(dag_run, "run_after", None)
    return calendar.default_cdr_date(
        context.get("data_interval_start"), context.get("data_interval_end"), anchor
    )


class _OzonetelOperator(BaseOperator):
    """What both operators share: the hook, the output settings, the atomic sink."""

    def __init__(
        self,
        *,
        destination: ObjectStoragePath | str | None = None,
        file_format: str = "jsonl",
        compression: str | None = None,
        normalize: bool = True,
        ozonetel_conn_id: str = "ozonetel_default",
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_format(file_format, compression)
        self.destination = destination
        self.file_format = file_format
        self.compression = compression
        self.normalize = normalize
        self.ozonetel_conn_id = ozonetel_conn_id
        self.hook_params = hook_params or {}

    @property
    def hook(self) -> OzonetelHook:
        from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook

        if getattr(self, "_hook", None) is None:
            self._hook = OzonetelHook(self.ozonetel_conn_id, **self.hook_params)
        return self._hook

    def _storage_path(self, default_stem: str) -> ObjectStoragePath:
        from airflow_provider_ozonetel.sink import as_storage_path

        return as_storage_path(
            self.destination, default_stem + file_suffix(self.file_format, self.compression)
        )

    def _sink(self, path: ObjectStoragePath):
        from airflow_provider_ozonetel import records
        from airflow_provider_ozonetel.sink import AtomicRowSink

        return AtomicRowSink(
            path,
            file_format=self.file_format,
            compression=self.compression,
            csv_columns=records.CSV_COLUMNS if self.normalize else None,
        )

    def _format_label(self) -> str:
        return self.file_format + ("+gzip" if self.compression else "")


class OzonetelCDRDetailsOperator(_OzonetelOperator):
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
        from airflow_provider_ozonetel.hooks.ozonetel import CDR_ENDPOINT

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


class OzonetelCallDetailsOperator(_OzonetelOperator):
    """
    Look up calls by UCID with the CDR in CallBacks API (50 requests a minute, paced by the hook).

    :param ucids: UCIDs (a list, templated; a JSON list or a comma-separated string also works;
        an ``XComArg`` from an upstream task). A single UCID works too, so
        ``.partial(...).expand(ucids=[...])`` maps one task per call.
    :param report_type: ``auto`` (by ``call_date`` and the IST rules; without ``call_date``:
        ``currentday`` then ``historical``), ``currentday`` or ``historical``. Templated.
    :param call_date: the IST day the calls started (templated), for ``auto``.
    :param fail_on_missing: "No Data Found" is not a failure by default: the UCID is listed under
        ``missing``. True fails the task (and writes no file).
    :param destination: / :param file_format: / :param compression: / :param normalize: as for
        ``OzonetelCDRDetailsOperator``; the default file name is ``ozonetel_calls_<run id>``.
    :return: ``{"path", "rows", "missing", "requests"}``; without a destination, the rows
        themselves (small lookups only), with missing UCIDs logged.
    """

    template_fields: Sequence[str] = ("ucids", "report_type", "call_date", "destination")
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        ucids: Any,
        report_type: str = "auto",
        call_date: dt.date | str | None = None,
        fail_on_missing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ucids = ucids
        self.report_type = report_type
        self.call_date = call_date
        self.fail_on_missing = fail_on_missing

    def execute(self, context: Context) -> dict[str, Any] | list[dict[str, Any]]:
        from airflow_provider_ozonetel.hooks.ozonetel import CALL_REPORT_TYPES, CALLBACKS_ENDPOINT, clean_ucid

        if self.report_type not in CALL_REPORT_TYPES:
            raise OzonetelRequestError(
                f"report_type: {self.report_type!r} is not one of {', '.join(CALL_REPORT_TYPES)}"
            )
        ucids = [clean_ucid(ucid) for ucid in parse_ucids(self.ucids)]  # all checked before any request
        call_date = None
        if self.call_date not in (None, ""):
            try:
                call_date = calendar.parse_date(self.call_date, "call_date")  # type: ignore[arg-type]
                calendar.check_retention(call_date, None, "call_date")
            except ValueError as exc:
                raise OzonetelRequestError(str(exc)) from None
        hook = self.hook
        missing: list[str] = []
        rows = self._rows(hook, ucids, call_date, missing)
        if self.destination is None:
            found = list(rows)
            self._judge_missing(missing, len(ucids))
            return found
        run_id = str(context.get("run_id") or "manual").replace(":", "_").replace("+", "_")
        path = self._storage_path(f"ozonetel_calls_{run_id}")
        with self._sink(path) as sink:
            sink.write_all(rows)
            self._judge_missing(missing, len(ucids))  # inside: a failure here writes no file
        return {
            "path": str(path),
            "rows": sink.rows,
            "missing": missing,
            "requests": hook.requests_sent[CALLBACKS_ENDPOINT],
        }

    def _rows(
        self, hook: OzonetelHook, ucids: list[str], call_date: dt.date | None, missing: list[str]
    ) -> Iterator[dict[str, Any]]:
        from airflow_provider_ozonetel.records import normalize_callback

        for ucid in ucids:
            records = hook.get_call_details(ucid, report_type=self.report_type, call_date=call_date)
            if not records:
                missing.append(ucid)
                continue
            for record in records:
                yield normalize_callback(record) if self.normalize else record

    def _judge_missing(self, missing: list[str], asked: int) -> None:
        if not missing:
            return
        log.warning("No Data Found for %d of %d UCIDs: %s", len(missing), asked, ", ".join(missing))
        if self.fail_on_missing:
            raise OzonetelError(
                f"No Data Found for {len(missing)} of {asked} UCIDs ({', '.join(missing)}) "
                "and fail_on_missing=True"
            )


def _literal_list(text: str) -> Any:
    """A rendered list: JSON, or Python's repr (what ``{{ params.ucids }}`` renders to)."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            continue
    raise OzonetelRequestError(f"ucids: {text[:80]!r} is not a list of UCIDs")


def parse_ucids(value: Any) -> list[Any]:
    """UCIDs from a list, a single UCID, a JSON list string or a comma/space-separated string."""
    if value is None or value == "":
        raise OzonetelRequestError("ucids: no UCIDs given; pass a list of UCIDs (digits)")
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = _literal_list(text)
        else:
            value = [part for part in text.replace(",", " ").split() if part]
    if isinstance(value, int | str):
        return [value]
    try:
        items = list(value)
    except TypeError:
        raise OzonetelRequestError(f"ucids: expected a list of UCIDs, got {type(value).__name__}") from None
    if not items:
        raise OzonetelRequestError("ucids: the list is empty; pass at least one UCID")
    return items
