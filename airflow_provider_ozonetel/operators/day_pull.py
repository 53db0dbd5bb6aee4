"""The pull of one IST day into a file with its manifest: what the day and catch-up operators share."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.counting import DistinctCounter
from airflow_provider_ozonetel.operators.base import OzonetelBaseOperator, refused_record

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_ozonetel.dedup import LegDeduplicator
    from airflow_provider_ozonetel.hooks.connection import OzonetelSettings
    from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
    from airflow_provider_ozonetel.manifest import Expected, Manifest
    from airflow_provider_ozonetel.rowdiff import Changes
    from airflow_provider_ozonetel.shapes import FastBatch

log = logging.getLogger(__name__)

Window = tuple[Any, Any]
FILTER_FIELDS = ("ucid", "campaign_name", "monitor_ucid", "call_type", "status")


@dataclass(frozen=True)
class DayPulled:
    """A day's pull: the manifest now beside the file, what changed, whether the file was replaced."""

    manifest: Manifest
    changes: Changes | None
    replaced: bool


class OzonetelCDRDayPullBase(OzonetelBaseOperator):
    """Options and steps of a day pull (Fetch CDR Details), shared by the CDR operators.

    :param window_hours: split a day into windows of this many hours, one request each.
    :param ucid: / :param campaign_name: / :param monitor_ucid: / :param call_type: / :param status:
        the API's optional filters.
    :param typing_process: type the rows in a second process while this one reads the answer and
        writes the file (``typing_process.py``): a day pull then uses two CPU cores, and finishes
        sooner where the answer arrives faster than one core types it (a fast link, a large day).
        Typed jsonl or csv only. Off by default: a task slot is one process.
    """

    def __init__(
        self,
        *,
        window_hours: float | None = None,
        ucid: int | str | None = None,
        campaign_name: str | None = None,
        monitor_ucid: int | str | None = None,
        call_type: str | None = None,
        status: str | None = None,
        typing_process: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(typing_process, bool):
            raise ValueError(f"typing_process: expected True or False, got {typing_process!r}")
        if typing_process and not hasattr(os, "fork"):
            raise ValueError("typing_process: needs os.fork(), which this platform has not got")
        if typing_process and (self.file_format not in ("jsonl", "csv") or not self.normalize):
            raise ValueError(
                "typing_process: a second process types rows for jsonl or csv files, not "
                f"file_format={self.file_format!r} with normalize={self.normalize}; use "
                "file_format='jsonl' or 'csv' with normalize=True, or leave typing_process off"
            )
        self.typing_process = typing_process
        if window_hours is not None:
            calendar.split_day(window_hours)  # validates now, at parse time
        self.window_hours = window_hours
        self.ucid = ucid
        self.campaign_name = campaign_name
        self.monitor_ucid = monitor_ucid
        self.call_type = call_type
        self.status = status

    def _lineage_api(self, settings: OzonetelSettings) -> tuple[str, str]:
        from airflow_provider_ozonetel.hooks.cdr import CDR_PATH
        from airflow_provider_ozonetel.hooks.transport import CDR_ENDPOINT

        return CDR_ENDPOINT, CDR_PATH

    # ------------------------------------------------------------------ requests
    def _windows(self, day: dt.date, from_time: Any = None, to_time: Any = None) -> list[Window]:
        if self.window_hours is None:
            return [(from_time or None, to_time or None)]
        windows = calendar.split_day(self.window_hours)
        if day != calendar.today_ist():
            return windows
        # Today: skip windows that have not begun; the current one ends now (None: the hook's default).
        now = calendar.now_ist().time()
        return [(start, None if end > now else end) for start, end in windows if start <= now]

    def _filters(self, start: Any, end: Any) -> dict[str, Any]:
        filters = {name: _given(getattr(self, name)) for name in FILTER_FIELDS}
        return {"from_time": start, "to_time": end, **filters}

    def _filter_values(self) -> dict[str, str]:
        """The filters in use, as text (how a manifest records them)."""
        return {
            name: str(value) for name in FILTER_FIELDS if (value := _given(getattr(self, name))) is not None
        }

    def _expected(self) -> Expected:
        from airflow_provider_ozonetel.manifest import Expected

        return Expected(self.file_format, self.compression, self.normalize, self._filter_values())

    def _check_requests(self, hook: OzonetelHook, day: dt.date, windows: list[Window]) -> list[list[str]]:
        """Validate every request of the day before sending any; their ``[fromDate, toDate]``."""
        bodies = [hook.build_cdr_request(day, **self._filters(start, end)) for start, end in windows]
        return [[body["fromDate"], body["toDate"]] for body in bodies]

    def _rows(
        self, hook: OzonetelHook, day: dt.date, windows: list[Window], call_ids: DistinctCounter
    ) -> Iterator[dict[str, Any]]:
        """The day's rows (typed, or the vendor's records with ``normalize=False``), one at a time."""
        for rows in self._batches(hook, day, windows, call_ids, compiled=False):
            yield from rows  # type: ignore[misc]

    def _batches(
        self,
        hook: OzonetelHook,
        day: dt.date,
        windows: list[Window],
        call_ids: DistinctCounter,
        *,
        compiled: bool = True,
        typing_process: bool = False,
    ) -> Iterator[list[dict[str, Any]] | FastBatch]:
        """The day's rows in batches: lists of rows, or (``compiled``) batches typed a column at a
        time for the records' shape wherever the records allow it (``shapes.py``), in a second
        process with ``typing_process``."""
        from airflow_provider_ozonetel.dedup import LegDeduplicator
        from airflow_provider_ozonetel.hooks.transport import CDR_ENDPOINT
        from airflow_provider_ozonetel.progress import Progress, Totals
        from airflow_provider_ozonetel.records import CSV_COLUMNS, normalize_cdr
        from airflow_provider_ozonetel.shapes import DayDecoder, FastBatch
        from airflow_provider_ozonetel.typing_process import RemoteBatch, TypingProcess

        decode: Any = None
        if compiled and self.normalize and typing_process:
            decode = TypingProcess(
                day.isoformat(),
                file_format=self.file_format,
                csv_columns=CSV_COLUMNS,
                scrubber=self._scrubber(),
            )
        elif compiled and self.normalize:
            decode = DayDecoder(day.isoformat(), file_format=self.file_format, csv_columns=CSV_COLUMNS)
        typed = (FastBatch, RemoteBatch)
        what = f"a record of {day.isoformat()}"
        legs = LegDeduplicator()
        count = 0
        sent, read = hook.requests_sent[CDR_ENDPOINT], hook.bytes_received[CDR_ENDPOINT]
        progress = Progress(  # this day's figures only: a catch-up pulls many days through one hook
            f"CDRs of {day.isoformat()} (IST)",
            lambda: Totals(
                count,
                call_ids.count(),
                hook.requests_sent[CDR_ENDPOINT] - sent,
                hook.bytes_received[CDR_ENDPOINT] - read,
            ),
            monotonic=hook.clock.monotonic,
        )
        next_check = progress.check_rows
        for start, end in windows:
            legs.next_window(start, end if len(windows) > 1 else None)
            for batch in hook.iter_cdr_batches(day, decode=decode, **self._filters(start, end)):
                records = batch.records
                if records.__class__ in typed:
                    fast = _new_legs(records, legs, call_ids)
                    count += len(fast)
                    if count >= next_check:  # typed in one go: looked at once a batch
                        next_check = count + progress.check_rows
                        progress.check()
                    yield fast
                    continue
                rows = []
                for record in records:
                    if legs.is_repeat(record):
                        continue
                    call_ids.add(record.get("CallID"))
                    count += 1
                    if count >= next_check:  # one integer comparison a row; the clock every check_rows
                        next_check = count + progress.check_rows
                        progress.check()
                    rows.append(self._row(record, normalize_cdr, what))
                yield rows
        if legs.dropped:
            log.warning("%s: the vendor sent %d call leg(s) twice; each is written once", day, legs.dropped)
        progress.finish()

    # ------------------------------------------------------------------ the file and its manifest
    def _pull_day(
        self,
        hook: OzonetelHook,
        day: dt.date,
        path: ObjectStoragePath,
        windows: list[Window],
        *,
        previous: Manifest | None = None,
    ) -> DayPulled:
        """Stream the day into ``path`` atomically, then write its manifest (atomically, after it).

        With ``previous`` (the manifest of a present file at ``path``), the new pull is compared
        with that file row by row (by UCID) and replaces it only when its content changed.
        """
        from airflow_provider_ozonetel.rowdiff import Changes, RowIndex, compare, index_file
        from airflow_provider_ozonetel.sink import UnwritableRow

        requested = self._check_requests(hook, day, windows)
        log.info("Pulling CDRs of %s (IST) in %d request(s)", day.isoformat(), len(windows))
        call_ids = DistinctCounter()
        index = RowIndex() if previous is not None else None
        sink = self._sink(
            path, on_row=index.add_row if index is not None else None, commit_on_exit=previous is None
        )
        changes: Changes | None = None
        try:
            with sink:
                # A re-pull compared with the stored file needs every row as an object (rowdiff):
                # a typing process would type each batch twice, so it types here.
                typing_process = self.typing_process and previous is None
                sink.write_batches(self._batches(hook, day, windows, call_ids, typing_process=typing_process))
            if previous is not None and index is not None:
                if (sink.bytes, sink.sha256) == (previous.bytes, previous.sha256):
                    changes = Changes()
                else:
                    with path.open("rb") as stored:
                        changes = compare(index_file(stored, self.file_format, self.compression), index)
                if not changes:
                    log.info(
                        "%s: no row added, changed or removed since %s; the file is kept as it is",
                        day.isoformat(),
                        previous.pulled_at,
                    )
                    return DayPulled(previous, changes, replaced=False)
                sink.commit()
        except UnwritableRow as exc:
            raise refused_record(f"a record of {day.isoformat()}", exc) from None
        finally:
            sink.discard()  # nothing to do once committed
        manifest = self._manifest(day, path, sink, call_ids.count(), requested, changes)
        self._write_manifest(path, manifest)
        self._lineage_wrote(path, manifest.rows, manifest.bytes)
        if changes is not None:
            log.info(
                "%s: %d row(s) added, %d changed, %d removed since %s; the file was replaced",
                day.isoformat(),
                changes.added,
                changes.changed,
                changes.removed,
                previous.pulled_at if previous else "the last pull",
            )
        return DayPulled(manifest, changes, replaced=True)

    def _manifest(
        self,
        day: dt.date,
        path: ObjectStoragePath,
        sink: Any,
        calls: int,
        requested: list[list[str]],
        changes: Changes | None,
    ) -> Manifest:
        from airflow_provider_ozonetel import __version__
        from airflow_provider_ozonetel.manifest import Manifest

        return Manifest(
            cdr_date=day.isoformat(),
            file=path.name,
            format=self.file_format,
            compression=self.compression,
            normalize=self.normalize,
            rows=sink.rows,
            calls=calls,
            bytes=sink.bytes,
            sha256=sink.sha256,
            windows=requested,
            filters=self._filter_values(),
            pulled_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            provider_version=__version__,
            changes=changes.as_dict() if changes is not None else None,
        )

    @staticmethod
    def _write_manifest(path: ObjectStoragePath, manifest: Manifest) -> None:
        from airflow_provider_ozonetel.manifest import manifest_name
        from airflow_provider_ozonetel.sink import write_atomically

        write_atomically(path.parent / manifest_name(path.name), manifest.to_json())


def _new_legs(batch: FastBatch, legs: LegDeduplicator, call_ids: DistinctCounter) -> FastBatch:
    """The batch without the legs the vendor already sent (``dedup``); their CallIDs counted."""
    repeats = legs.repeats(batch.ucid_keys(), batch.leg_times)
    if repeats:
        dropped = set(repeats)
        batch = batch.select([at for at in range(len(batch)) if at not in dropped])
    call_ids.add_all(batch.leg_call_ids())
    return batch


def _given(value: Any) -> Any:
    """A filter's value; None or "" (an empty template) is no filter. 0 is a UCID, not "no filter"."""
    return None if value is None or value == "" else value
