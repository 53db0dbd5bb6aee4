"""OzonetelCDRDetailsOperator: one IST day of CDRs (Fetch CDR Details API) into storage."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import conf

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.counting import DistinctCounter
from airflow_provider_ozonetel.exceptions import OzonetelRequestError
from airflow_provider_ozonetel.operators.base import closes_hook, resolve_cdr_date
from airflow_provider_ozonetel.operators.day_pull import OzonetelCDRDayPullBase

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

log = logging.getLogger(__name__)

#: Rows a pull without a destination may return as its XCom: ~7 MB of JSON (a typed row is
#: ~1.4 KB). A busy day is hundreds of MB, which the metadata database must never receive.
MAX_XCOM_ROWS = 5_000


def _hhmmss(value: Any, default: str) -> str:
    """``06:00`` -> ``060000`` (a time already validated by the request check)."""
    if not value:
        return default
    text = str(value).strip()
    try:
        return dt.time.fromisoformat(text).strftime("%H%M%S")
    except ValueError:
        return "".join(ch for ch in text if ch.isdigit()) or default


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
        fsspec knows; templated). A value ending in ``/`` is a folder: a whole unfiltered day is named
        ``ozonetel_cdr_<date>.<format>`` (the name the catch-up operator shares); a ``from_time``/
        ``to_time`` window adds ``_<HHMMSS>-<HHMMSS>`` and filters add ``_f<digest>``, so a partial
        pull never replaces the day's file. A file destination that every map index of a mapped
        task shares is refused before any request. None: the rows themselves are returned as the
        task's XCom, which suits small pulls only (XCom lives in the metadata database): at most
        ``max_xcom_rows``.
    :param max_xcom_rows: without a destination, the most rows the task may return (default
        5,000, ~7 MB of JSON). The pull stops at the first row beyond, before reading the rest of
        the day, and fails with ``OzonetelRequestError`` telling to set a destination.
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
    :param ozonetel_conn_id: the connection (templated).
    :param hook_params: extra keyword arguments for ``OzonetelHook`` (retries, rate window...);
        templated: a dict, or its JSON text.
    :param deferrable: before sending, the task reserves its requests' starts in the account's
        shared rate budget; when the first is more than ``defer_threshold`` seconds away it defers
        (a ``DateTimeTrigger`` in the triggerer, holding no worker slot) until ``resume_lead``
        seconds before it, then resumes and sends on the same reservation. Default: Airflow's
        ``[operators] default_deferrable``. Needs a running triggerer.
    :param defer_threshold: shorter waits happen in the worker (default 90 s).
    :param resume_lead: how long before its start the task resumes (default 30 s: the scheduler
        and a worker must pick it up; raise it where a task takes longer to start, e.g. a pod).
    :return: ``{"cdr_date", "path", "format", "rows", "calls", "requests", "rate_wait_seconds"}``;
        ``calls`` counts distinct CallIDs (one call can have several UCIDs, one row each);
        ``rate_wait_seconds`` is the time the worker spent waiting for the account's rate limit.
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
        "ozonetel_conn_id",
        "hook_params",
    )
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        cdr_date: dt.date | str | None = None,
        window_hours: float | None = None,
        from_time: str | None = None,
        to_time: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        defer_threshold: float = 90.0,
        resume_lead: float = 30.0,
        max_xcom_rows: int = MAX_XCOM_ROWS,
        **kwargs: Any,
    ) -> None:
        if window_hours is not None and (from_time or to_time):
            raise ValueError("window_hours: use either window_hours or from_time/to_time, not both")
        for name, value in (("defer_threshold", defer_threshold), ("resume_lead", resume_lead)):
            if not isinstance(value, int | float) or not 0 <= value < float("inf"):
                raise ValueError(f"{name}: expected a number of seconds >= 0, got {value!r}")
        super().__init__(window_hours=window_hours, **kwargs)
        self.cdr_date = cdr_date
        self.from_time = from_time
        self.to_time = to_time
        self.deferrable = deferrable
        self.defer_threshold = defer_threshold
        self.resume_lead = resume_lead
        if not isinstance(max_xcom_rows, int) or isinstance(max_xcom_rows, bool) or max_xcom_rows < 0:
            raise ValueError(f"max_xcom_rows: expected an integer >= 0, got {max_xcom_rows!r}")
        self.max_xcom_rows = max_xcom_rows

    @closes_hook
    def execute(self, context: Context) -> dict[str, Any] | list[dict[str, Any]]:
        from airflow_provider_ozonetel.hooks.transport import CDR_ENDPOINT

        day = self._checked_day(context)
        hook = self.hook
        windows = self._windows(day, self.from_time, self.to_time)
        if self.destination is None:
            self._check_requests(hook, day, windows)
            return self._rows_for_xcom(hook, day, windows)
        self._check_requests(hook, day, windows)
        path = self._storage_path(self._file_stem(day), context)
        # The starts of all the day's requests, claimed now: the wait is known before sending.
        self._defer_if_far(hook.reserve_requests(CDR_ENDPOINT, len(windows)))
        return self._pull(context, day, windows, path)

    def _defer_if_far(self, reservation: Any) -> None:
        wait = reservation.first_at - self.hook.clock.wall()
        if self.deferrable and wait > self.defer_threshold:
            self._defer_until_start(reservation, wait)

    @closes_hook
    def execute_complete(
        self, context: Context, event: Any = None, reservation: dict | None = None
    ) -> dict[str, Any]:
        """Back from the triggerer shortly before the reserved start: pull on that reservation."""
        from airflow_provider_ozonetel.budget import Reservation
        from airflow_provider_ozonetel.hooks.transport import CDR_ENDPOINT

        day = self._checked_day(context)
        windows = self._windows(day, self.from_time, self.to_time)
        self._check_requests(self.hook, day, windows)
        path = self._storage_path(self._file_stem(day), context)
        if reservation:
            held = Reservation.from_dict(reservation)
            hook = self.hook
            if held.first_at - hook.clock.wall() < -hook.retry.late_tolerance:
                # Resumed after the start (a busy scheduler): starting now could crowd the next
                # window. Give the rest back, take new starts, and defer again if they are far.
                log.info(
                    "Resumed %.1f s after the reserved start; taking new starts",
                    hook.clock.wall() - held.first_at,
                )
                hook.adopt_reservation(CDR_ENDPOINT, held)
                hook.close(keep_reserved=False)
                self._defer_if_far(hook.reserve_requests(CDR_ENDPOINT, len(windows)))
            else:
                hook.adopt_reservation(CDR_ENDPOINT, held)
        return self._pull(context, day, windows, path)

    def _rows_for_xcom(self, hook: Any, day: dt.date, windows: list) -> list[dict[str, Any]]:
        """The rows themselves (``destination=None``), at most ``max_xcom_rows``: the pull stops at
        the first row beyond, before reading the rest of the day (XCom lives in the database)."""
        scrubber = self._scrubber()  # XCom, like a file, never holds the key
        found: list[dict[str, Any]] = []
        with contextlib.closing(self._rows(hook, day, windows, DistinctCounter())) as rows:
            for row in rows:
                if len(found) >= self.max_xcom_rows:
                    raise OzonetelRequestError(
                        f"destination: without a destination the rows become the task's XCom, which "
                        f"lives in Airflow's metadata database, and {day.isoformat()} has more than "
                        f"max_xcom_rows={self.max_xcom_rows} rows (the pull stopped there). Set "
                        "destination to a folder or file URL (e.g. 'file:///data/ozonetel/cdr/' or "
                        "'s3://bucket/ozonetel/cdr/') to store the day, or narrow the pull "
                        "(from_time/to_time, filters)"
                    )
                found.append(scrubber.clean(row))
        return found

    def _defer_until_start(self, reservation: Any, wait: float) -> None:
        import pendulum
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        moment = pendulum.from_timestamp(reservation.first_at - self.resume_lead, tz="UTC")
        log.info(
            "The account's next fetchCDRDetails start is %.0f s away (%d request(s) of this account "
            "ahead): deferring until %s, holding no worker slot",
            wait,
            reservation.competing,
            moment.isoformat(),
        )
        self.defer(
            trigger=DateTimeTrigger(moment=moment),
            method_name="execute_complete",
            kwargs={"reservation": reservation.as_dict()},
        )

    def _pull(self, context: Context, day: dt.date, windows: list, path: Any) -> dict[str, Any]:
        from airflow_provider_ozonetel.hooks.transport import CDR_ENDPOINT

        hook = self.hook
        pulled = self._pull_day(hook, day, path, windows)  # closes_hook gives back unused starts
        result = {
            "cdr_date": day.isoformat(),
            "path": str(path),
            "format": self._format_label(),
            "rows": pulled.manifest.rows,
            "calls": pulled.manifest.calls,
            "requests": hook.requests_sent[CDR_ENDPOINT],
            "rate_wait_seconds": round(hook.rate_stats.waited, 1),
        }
        self._annotate_outlets(context, result)
        return result

    def _file_stem(self, day: dt.date) -> str:
        """``ozonetel_cdr_<date>`` for the whole unfiltered day; a window or filters are named too."""
        stem = f"ozonetel_cdr_{day.isoformat()}"
        if self.from_time or self.to_time:
            stem += f"_{_hhmmss(self.from_time, '000000')}-{_hhmmss(self.to_time, '235959')}"
        if filters := self._filter_values():
            digest = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:8]
            stem += f"_f{digest}"
        return stem

    def _checked_day(self, context: Context) -> dt.date:
        try:
            day = resolve_cdr_date(self.cdr_date, context)
            calendar.check_retention(day)
        except ValueError as exc:
            raise OzonetelRequestError(str(exc)) from None
        return day
