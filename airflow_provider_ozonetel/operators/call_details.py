"""OzonetelCallDetailsOperator: the CDRs of given calls (CDR in CallBacks API) into storage."""

from __future__ import annotations

import ast
import datetime as dt
import json
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_ozonetel.exceptions import OzonetelError, OzonetelRequestError
from airflow_provider_ozonetel.operators.base import (
    OzonetelBaseOperator,
    closes_hook,
    refused_record,
    task_instance_stem,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_ozonetel.hooks.connection import OzonetelSettings
    from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook

log = logging.getLogger(__name__)


class OzonetelCallDetailsOperator(OzonetelBaseOperator):
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
    :param destination: / :param file_format: / :param compression: / :param normalize: /
        :param ozonetel_conn_id: / :param hook_params: as for
        ``OzonetelCDRDetailsOperator``; the default file name is unique to the task instance:
        ``ozonetel_calls_<dag id>__<task id>__<run id>[__<map index>]``. A file destination that
        every map index of a mapped task shares is refused before any request.
    :return: ``{"path", "rows", "missing", "requests", "rate_wait_seconds"}``; without a destination, the rows
        themselves (small lookups only), with missing UCIDs logged.
    """

    template_fields: Sequence[str] = (
        "ucids",
        "report_type",
        "call_date",
        "destination",
        "ozonetel_conn_id",
        "hook_params",
    )
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

    @closes_hook
    def execute(self, context: Context) -> dict[str, Any] | list[dict[str, Any]]:
        from airflow_provider_ozonetel.hooks.transport import CALLBACKS_ENDPOINT, RATE_LIMITS
        from airflow_provider_ozonetel.hooks.validation import check_call_date, check_report_type, clean_ucid

        check_report_type(self.report_type)
        ucids = [clean_ucid(ucid) for ucid in parse_ucids(self.ucids)]  # all checked before any request
        call_date = check_call_date(self.call_date)
        hook = self.hook
        missing: list[str] = []
        rows = self._rows(hook, ucids, call_date, missing)
        if self.destination is None:
            scrubber = self._scrubber()  # XCom, like a file, never holds the key
            found = [scrubber.clean(row) for row in rows]
            self._judge_missing(missing, len(ucids))
            return found
        path = self._storage_path(task_instance_stem("ozonetel_calls_", self, context), context)
        from airflow_provider_ozonetel.sink import UnwritableRow

        try:
            # One claim on the account's budget for the lookups ahead (up to a window's worth).
            hook.reserve_requests(CALLBACKS_ENDPOINT, min(len(ucids), RATE_LIMITS[CALLBACKS_ENDPOINT]))
            with self._sink(path) as sink:
                sink.write_all(rows)
                self._judge_missing(missing, len(ucids))  # inside: a failure here writes no file
        except UnwritableRow as exc:
            raise refused_record("a CallBacks record", exc) from None
        self._lineage_wrote(path, sink.rows, sink.bytes)
        return {
            "path": str(path),
            "rows": sink.rows,
            "missing": missing,
            "requests": hook.requests_sent[CALLBACKS_ENDPOINT],
            "rate_wait_seconds": round(hook.rate_stats.waited, 1),
        }

    def _lineage_api(self, settings: OzonetelSettings) -> tuple[str, str]:
        from airflow_provider_ozonetel.hooks.transport import CALLBACKS_ENDPOINT

        return CALLBACKS_ENDPOINT, settings.callbacks_path

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
                yield self._row(record, normalize_callback, f"a CallBacks record of UCID {ucid}")

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
