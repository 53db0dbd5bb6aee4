"""What the operators share: the default CDR date, the hook, the output settings, the atomic sink."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.exceptions import OzonetelMissingDependencyError, OzonetelRequestError
from airflow_provider_ozonetel.sink import check_format, file_suffix

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_ozonetel.exceptions import OzonetelUnexpectedAnswerError
    from airflow_provider_ozonetel.hooks.connection import OzonetelSettings
    from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
    from airflow_provider_ozonetel.scrub import RowScrubber

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def resolve_cdr_date(value: dt.date | str | None, context: Context, field: str = "cdr_date") -> dt.date:
    """``value`` as a date; None (or "") follows the default rule of ``design.md``."""
    if value not in (None, ""):
        return calendar.parse_date(value, field)  # type: ignore[arg-type]
    dag_run = context.get("dag_run")
    anchor = context.get("logical_date") or getattr(dag_run, "run_after", None)
    return calendar.default_cdr_date(
        context.get("data_interval_start"), context.get("data_interval_end"), anchor
    )


def parse_hook_params(value: Any) -> dict[str, Any]:
    """``hook_params`` as keyword arguments: a dict, or its JSON text (a rendered template)."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict):
        raise OzonetelRequestError(
            "hook_params: expected a dict of OzonetelHook arguments (or its JSON text), "
            'e.g. {"rate_window_seconds": 60}'
        )
    return value


def refused_record(what: str, exc: ValueError) -> OzonetelUnexpectedAnswerError:
    """A record the provider will not write (a malformed duration, two keys for one column, a
    value nested too deeply...): a typed error naming ``what``, the key redacted."""
    from airflow_provider_ozonetel import redaction
    from airflow_provider_ozonetel.exceptions import OzonetelUnexpectedAnswerError

    return OzonetelUnexpectedAnswerError(f"{what} refused: {redaction.redact(str(exc))}; nothing was written")


def task_instance_stem(prefix: str, operator: BaseOperator, context: Context) -> str:
    """A file name stem unique to this task instance: DAG, task, run and (when mapped) map index."""
    ti = context.get("ti")
    parts = [
        getattr(ti, "dag_id", None) or getattr(operator, "dag_id", None) or "dag",
        getattr(ti, "task_id", None) or operator.task_id,
        str(context.get("run_id") or "manual"),
    ]
    map_index = getattr(ti, "map_index", -1)
    if isinstance(map_index, int) and map_index >= 0:
        parts.append(str(map_index))
    return prefix + "__".join(_SAFE.sub("_", part) for part in parts)


def shared_by_map_indexes(operator: BaseOperator, context: Context) -> bool:
    """Whether this is one map index of a mapped task whose ``destination`` all indexes share (given
    to ``partial()``, not expanded, and with no map-index template in it)."""
    map_index = getattr(context.get("ti"), "map_index", -1)
    if not isinstance(map_index, int) or map_index < 0:
        return False
    try:
        mapped = operator.dag.task_dict[operator.task_id]
        partial = mapped.partial_kwargs
    except Exception:  # not the mapped definition: nothing tells the indexes' values apart
        return False
    raw = partial.get("destination") if isinstance(partial, dict) else None
    return raw is not None and "map_index" not in str(raw)


_Result = TypeVar("_Result")


def closes_hook(execute: Callable[..., _Result]) -> Callable[..., _Result]:
    """Decorate an operator's ``execute`` (or ``execute_complete``): when it ends, however it ends,
    the hook is closed (its HTTP session, and the rate grants it reserved but did not use go back
    to the account). When it defers, only the session is closed: the task's reserved starts travel
    with the deferral."""

    @functools.wraps(execute)
    def run_then_close(self: OzonetelBaseOperator, context: Context, *args: Any, **kwargs: Any) -> _Result:
        from airflow.providers.common.compat.sdk import TaskDeferred

        try:
            result = execute(self, context, *args, **kwargs)
        except TaskDeferred:
            self.close_hook(keep_reserved=True)  # the reservation travels with the deferral
            raise
        except BaseException:
            self.close_hook()
            raise
        self.close_hook()
        return result

    return run_then_close


class OzonetelBaseOperator(BaseOperator):
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
        check_format(file_format, compression, normalize)
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
            self._hook = OzonetelHook(self.ozonetel_conn_id, **parse_hook_params(self.hook_params))
        return self._hook

    def close_hook(self, *, keep_reserved: bool = False) -> None:
        """Close the hook if one was made; a failure to close is logged, never raised (it must not
        hide the task's own outcome)."""
        hook = getattr(self, "_hook", None)
        if hook is None:
            return
        try:
            hook.close(keep_reserved=keep_reserved)
        except Exception as exc:
            log.warning("Could not close the Ozonetel hook cleanly: %s: %s", type(exc).__name__, exc)

    def _storage_path(self, default_stem: str, context: Context | None = None) -> ObjectStoragePath:
        """The file to write: ``default_stem`` in a destination folder, else the destination itself.

        With ``context``, a file destination that every map index of this mapped task shares is
        refused before any request: they would overwrite each other's file.
        """
        from airflow_provider_ozonetel.sink import as_storage_path

        default_name = default_stem + file_suffix(self.file_format, self.compression)
        try:
            path = as_storage_path(self.destination, default_name)
        except ValueError as exc:  # before any request: a bad destination fails fast
            raise OzonetelRequestError(str(exc)) from None
        if context is not None and path.name != default_name and shared_by_map_indexes(self, context):
            raise OzonetelRequestError(
                f"destination: every map index of mapped task {self.task_id!r} would write the same file "
                f"{path} and overwrite the others; use a folder (ending in /) so each index gets its own "
                "file, expand destination, or put {{ ti.map_index }} in it"
            )
        return path

    def _sink(self, path: ObjectStoragePath, **options: Any):
        from airflow_provider_ozonetel import records
        from airflow_provider_ozonetel.sink import AtomicRowSink

        try:
            return AtomicRowSink(
                path,
                file_format=self.file_format,
                compression=self.compression,
                csv_columns=records.CSV_COLUMNS if self.normalize else None,
                scrubber=self._scrubber(),
                **options,
            )
        except ImportError as exc:  # an optional extra (pyarrow for parquet): a retry cannot help
            raise OzonetelMissingDependencyError(str(exc)) from None

    def _row(
        self, record: dict[str, Any], normalize: Callable[[dict[str, Any]], dict[str, Any]], what: str
    ) -> dict[str, Any]:
        """The record as a typed row (``normalize=True``) or as it is; a record the typed row
        cannot hold fails the task, naming ``what``."""
        if not self.normalize:
            return record
        try:
            return normalize(record)
        except ValueError as exc:
            raise refused_record(what, exc) from None

    def _scrubber(self) -> RowScrubber:
        """Finds the connection's API key in rows, in any spelling an echo gives it (``scrub.py``)."""
        from airflow_provider_ozonetel.scrub import RowScrubber

        return RowScrubber([self.hook.settings.api_key])

    def _format_label(self) -> str:
        return self.file_format + ("+gzip" if self.compression else "")

    def _annotate_outlets(self, context: Context, result: dict[str, Any]) -> None:
        """Put the task's result (small: paths, dates, counts) on its outlet asset events' ``extra``."""
        events = context.get("outlet_events")
        if events is None:
            return
        for outlet in self.outlets or []:
            try:
                events[outlet].extra.update(result)
            except Exception:  # an outlet that is not an asset (e.g. an alias) gets nothing
                log.debug("Outlet %r takes no event extra", outlet)

    # ------------------------------------------------------------------ OpenLineage (lineage.py)
    def _lineage_api(self, settings: OzonetelSettings) -> tuple[str, str]:
        """(endpoint, path) of the API this operator reads; each operator says which."""
        raise NotImplementedError

    def _lineage_wrote(self, path: ObjectStoragePath, rows: int, size: int | None) -> None:
        """Remember a file this run put in place (its rows and bytes), for OpenLineage."""
        from airflow_provider_ozonetel.lineage import Written

        self.__dict__.setdefault("_lineage_written", []).append(Written(path, rows, size))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """OpenLineage: the account's API in, the files this run wrote out (with their schema).

        Called by Airflow's OpenLineage listener after the task (also when it failed: then no file
        was written, only the input is named). None when the OpenLineage provider is not installed
        or the task never got as far as its connection.
        """
        from airflow_provider_ozonetel.lineage import Lineage, operator_lineage

        hook = getattr(self, "_hook", None)
        if hook is None:
            return None
        try:
            settings = hook.settings
        except Exception:  # a connection the task could not use: nothing was read
            return None
        endpoint, api_path = self._lineage_api(settings)
        return operator_lineage(
            Lineage(
                base_url=settings.base_url,
                user_name=settings.user_name,
                api_path=api_path,
                endpoint=endpoint,
                file_format=self.file_format,
                typed=self.normalize,
                written=list(self.__dict__.get("_lineage_written", ())),
            )
        )
