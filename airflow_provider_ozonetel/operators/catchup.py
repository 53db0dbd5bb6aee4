"""OzonetelCDRCatchUpOperator: every day the vendor still holds, complete in one folder."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.compat import task_stopping_exceptions
from airflow_provider_ozonetel.exceptions import OzonetelAuthError, OzonetelError, OzonetelRequestError
from airflow_provider_ozonetel.operators.base import closes_hook
from airflow_provider_ozonetel.operators.day_pull import FILTER_FIELDS, OzonetelCDRDayPullBase

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath

    from airflow_provider_ozonetel.manifest import DayEntry, Manifest

log = logging.getLogger(__name__)

VERIFY_MODES = ("sha256", "size")


@dataclass
class _Outcome:
    """What happened to each day of one catch-up."""

    present: list[dt.date] = field(default_factory=list)
    pulled: list[dt.date] = field(default_factory=list)
    failed: dict[dt.date, str] = field(default_factory=dict)  # day -> why
    refresh_failed: set[dt.date] = field(default_factory=set)  # failed, but an earlier file is kept
    fatal: OzonetelError | None = None


class OzonetelCDRCatchUpOperator(OzonetelCDRDayPullBase):
    """
    Make sure every IST day the vendor still holds has a complete file in ``destination``.

    The vendor keeps 15 days (today included) and then the data is gone. Each run looks at
    every complete day from the oldest one the vendor holds up to yesterday (from 03:00 IST,
    when the vendor's historical store has it; before that, the day before), and pulls, oldest
    first (they leave the window first), each day whose file is not proven complete by its
    manifest. The most recent ``refresh_days`` are pulled again even when present, because
    records change after their day; a refreshed file is replaced only when its rows changed.

    Days are pulled one after another through one hook, so the vendor's 2 requests a minute
    are kept. A day that fails does not stop the others; the task fails at the end, naming each
    day still missing and when it leaves the vendor's window, so Airflow's retries come back
    for it. Missing days close to that moment are alarmed; days already gone are reported lost.

    :param destination: the folder (``ObjectStoragePath`` or URL; templated). Files are named
        ``ozonetel_cdr_<date>.<format>`` with ``<file>.manifest.json`` beside each, exactly as
        ``OzonetelCDRDetailsOperator`` writes them into a folder.
    :param days: look back at most this many days (the newest ones); None: the whole window.
    :param since: the IST day the pipeline started (``date`` or ``YYYY-MM-DD``; templated):
        no day before it is pulled or reported lost.
    :param refresh_days: pull the most recent days again even when present (default 2).
    :param alarm_days: days still missing at the end that leave the window within this many
        days are alarmed (WARNING, ``at_risk`` in the XCom, ``on_retention_risk``). Default 3.
    :param on_retention_risk: called as ``on_retention_risk(report, context)`` when days are at
        risk or lost, with ``report = {"destination", "at_risk": [{"cdr_date",
        "leaves_window_at", "hours_left"}], "lost": ["YYYY-MM-DD", ...]}``.
    :param verify: how a present file is checked against its manifest: ``sha256`` (default; reads
        every present file each run) or ``size`` (no read: for large days on object storage).
    :param file_format: / :param compression: / :param normalize: / :param window_hours: /
        :param ucid: / :param campaign_name: / :param monitor_ucid: / :param call_type: /
        :param status: / :param hook_params: / :param ozonetel_conn_id: as for
        ``OzonetelCDRDetailsOperator``. ``hook_params`` is templated (a dict, or its JSON text).
    :return: ``{"pulled", "present", "failed", "at_risk", "lost", "requests"}``: days as
        ``YYYY-MM-DD``, oldest first; ``requests`` counts the Fetch CDR Details requests. The
        same value is pushed when the task fails. Outlet asset events get it as ``extra``.
    """

    template_fields: Sequence[str] = (
        "destination",
        "days",
        "since",
        "refresh_days",
        "ozonetel_conn_id",
        "hook_params",
        *FILTER_FIELDS,
    )
    ui_color = "#d9f2e6"

    def __init__(
        self,
        *,
        destination: ObjectStoragePath | str,
        days: int | str | None = None,
        since: dt.date | str | None = None,
        refresh_days: int | str = 2,
        alarm_days: int = 3,
        on_retention_risk: Callable[[dict[str, Any], Context], Any] | None = None,
        verify: str = "sha256",
        **kwargs: Any,
    ) -> None:
        super().__init__(destination=destination, **kwargs)
        if destination in (None, ""):
            raise ValueError("destination: the catch-up needs a folder (a path or URL ending in '/')")
        if verify not in VERIFY_MODES:
            raise ValueError(f"verify: {verify!r} is not one of {', '.join(VERIFY_MODES)}")
        if on_retention_risk is not None and not callable(on_retention_risk):
            raise ValueError("on_retention_risk: expected a callable taking (report, context)")
        _count(alarm_days, "alarm_days", minimum=0)
        for name, value, minimum in (("days", days, 1), ("refresh_days", refresh_days, 0)):
            if not _is_template(value):
                _count(value, name, minimum=minimum)
        if since not in (None, "") and not _is_template(since):
            calendar.parse_date(since, "since")  # type: ignore[arg-type]
        self.days = days
        self.since = since
        self.refresh_days = refresh_days
        self.alarm_days = alarm_days
        self.on_retention_risk = on_retention_risk
        self.verify = verify

    # ------------------------------------------------------------------ the run
    @closes_hook
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_ozonetel.hooks.transport import CDR_ENDPOINT

        days = _count(self.days, "days", minimum=1)
        refresh_days = _count(self.refresh_days, "refresh_days", minimum=0) or 0
        since = _date(self.since, "since")
        candidates = calendar.retained_days(days=days, since=since)
        folder = self._folder()
        entries = self._inventory(folder)
        hook = self.hook
        refresh = set(candidates[max(0, len(candidates) - refresh_days) :]) if refresh_days else set()
        outcome = _Outcome()
        plan = self._plan(folder, candidates, entries, refresh, outcome)
        for day, _previous, _why in plan:  # every request checked before the first one is sent
            self._check_requests(hook, day, self._windows(day))
        stopping = task_stopping_exceptions()  # a timeout or deferral ends the run, not one day
        for position, (day, previous, _why) in enumerate(plan):
            if day < calendar.oldest_available_date():
                continue  # it left the window during this run: reported lost below
            try:
                path = folder / self._file_name(day)
                self._pull_day(hook, day, path, self._windows(day), previous=previous)
            except (OzonetelAuthError, OzonetelRequestError) as exc:
                # The connection or the arguments are wrong: every other day would fail alike.
                outcome.fatal = exc
                for later, later_previous, _ in plan[position:]:
                    outcome.failed[later] = f"not tried: {type(exc).__name__}"
                    if later_previous is not None:
                        outcome.refresh_failed.add(later)
                outcome.failed[day] = f"{type(exc).__name__}: {exc}"
                break
            except stopping:
                raise
            except Exception as exc:  # one bad day does not stop the others
                name = type(exc).__name__
                log.error("%s: the pull failed (%s: %s); going on with the other days", day, name, exc)
                outcome.failed[day] = f"{type(exc).__name__}: {exc}"
                if previous is not None:
                    outcome.refresh_failed.add(day)
                continue
            outcome.pulled.append(day)
            self._remove_stale(folder, entries.get(day))
        return self._finish(context, folder, entries, since, outcome, hook.requests_sent[CDR_ENDPOINT])

    def _plan(
        self,
        folder: ObjectStoragePath,
        candidates: list[dt.date],
        entries: dict[dt.date, DayEntry],
        refresh: set[dt.date],
        outcome: _Outcome,
    ) -> list[tuple[dt.date, Manifest | None, str]]:
        """The days to pull, oldest first, each with the manifest of its present file (refresh) or None."""
        from airflow_provider_ozonetel.manifest import DayEntry, judge_day

        expected = self._expected()
        plan: list[tuple[dt.date, Manifest | None, str]] = []
        for day in candidates:
            entry = entries.get(day) or DayEntry(day)
            manifest, problem = judge_day(folder, entry, expected, verify=self.verify)
            if problem is None and day not in refresh:
                outcome.present.append(day)
            elif problem is None:
                plan.append((day, manifest, "refresh: records change after their day"))
            else:
                plan.append((day, None, problem))
        if candidates:
            log.info(
                "Catch-up of %s: %d day(s) from %s to %s; %d present, %d to pull",
                folder,
                len(candidates),
                candidates[0],
                candidates[-1],
                len(outcome.present),
                len(plan),
            )
        else:
            log.info("Catch-up of %s: no day to look at (since=%s, days=%s)", folder, self.since, self.days)
        for day, _, why in plan:
            log.info("  %s: %s", day, why)
        return plan

    def _finish(
        self,
        context: Context,
        folder: ObjectStoragePath,
        entries: dict[dt.date, DayEntry],
        since: dt.date | None,
        outcome: _Outcome,
        requests: int,
    ) -> dict[str, Any]:
        now = calendar.now_ist()
        missing = sorted(day for day in outcome.failed if day not in outcome.refresh_failed)
        risky = calendar.at_risk(missing, self.alarm_days, now)
        held = {day for day, entry in entries.items() if entry.file and entry.manifest} | set(outcome.pulled)
        lost = calendar.lost_days(held, since=since, now=now)
        summary = {
            "pulled": _texts(outcome.pulled),
            "present": _texts(outcome.present),
            "failed": _texts(outcome.failed),
            "at_risk": _texts(risky),
            "lost": _texts(lost),
            "requests": requests,
        }
        for day in risky:
            log.warning(
                "RETENTION RISK: %s is still missing and leaves the vendor's window at %s (in %.1f h)",
                day,
                calendar.leaves_window_at(day).isoformat(),
                calendar.hours_left(day, now),
            )
        if lost:
            log.error(
                "LOST: %d day(s) left the vendor's %d-day window without a complete file in %s: %s. "
                "Their CDRs cannot be pulled any more. To acknowledge, set since= after them.",
                len(lost),
                calendar.RETENTION_DAYS,
                folder,
                ", ".join(summary["lost"]),
            )
        if risky or lost:
            self._alarm(context, folder, risky, lost, now)
        log.info("Catch-up done: %s", summary)
        if outcome.failed:
            ti = context.get("ti")
            if ti is not None:
                ti.xcom_push(key="return_value", value=summary)  # the summary, even though the task fails
            raise self._failure(outcome, missing, now)
        self._annotate_outlets(context, summary)
        return summary

    def _failure(self, outcome: _Outcome, missing: list[dt.date], now: Any) -> OzonetelError:
        parts = [
            f"{day} (leaves the vendor's window at {calendar.leaves_window_at(day).isoformat()}, "
            f"in {calendar.hours_left(day, now):.1f} h): {outcome.failed[day]}"
            for day in missing
        ]
        message = f"{len(missing)} day(s) still missing: " + "; ".join(parts) if missing else ""
        kept = sorted(outcome.refresh_failed)
        if kept:
            message += ("; " if message else "") + (
                f"{len(kept)} present day(s) could not be refreshed (their earlier files are kept): "
                + "; ".join(f"{day}: {outcome.failed[day]}" for day in kept)
            )
        if outcome.fatal is not None:
            # Retrying cannot help: same class (no Airflow retries), with the days named.
            fatal = outcome.fatal
            return type(fatal)(
                f"{message}. Stopped at the first {type(fatal).__name__}",
                http_status=fatal.http_status,
                vendor_message=fatal.vendor_message,
            )
        return OzonetelError(message + ". Airflow's retries (or the next run) pull them again")

    def _alarm(
        self, context: Context, folder: ObjectStoragePath, risky: list[dt.date], lost: list[dt.date], now: Any
    ) -> None:
        if self.on_retention_risk is None:
            return
        report = {
            "destination": str(folder),
            "at_risk": [
                {
                    "cdr_date": day.isoformat(),
                    "leaves_window_at": calendar.leaves_window_at(day).isoformat(),
                    "hours_left": round(calendar.hours_left(day, now), 2),
                }
                for day in risky
            ],
            "lost": _texts(lost),
        }
        try:
            self.on_retention_risk(report, context)
        except Exception:  # the alarm must not hide what the run did
            log.exception("on_retention_risk raised; the catch-up result stands")

    # ------------------------------------------------------------------ the folder
    def _folder(self) -> ObjectStoragePath:
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        destination = self.destination
        if isinstance(destination, ObjectStoragePath):
            return destination
        return ObjectStoragePath(str(destination))

    def _suffix(self) -> str:
        from airflow_provider_ozonetel.sink import file_suffix

        return file_suffix(self.file_format, self.compression)

    def _file_name(self, day: dt.date) -> str:
        from airflow_provider_ozonetel.manifest import day_file_name

        return day_file_name(day, self._suffix())

    def _inventory(self, folder: ObjectStoragePath) -> dict[dt.date, DayEntry]:
        from airflow_provider_ozonetel.manifest import inventory

        if not folder.exists():
            return {}
        return inventory((child.name for child in folder.iterdir()), self._suffix())

    @staticmethod
    def _remove_stale(folder: ObjectStoragePath, entry: DayEntry | None) -> None:
        """Temporary objects of a day found at the start: the day's new file supersedes them."""
        from airflow_provider_ozonetel.temporaries import remove_temporary

        for name in entry.temporaries if entry else ():
            remove_temporary(folder / name, "superseded by the day's new file")


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def _count(value: Any, name: str, *, minimum: int) -> int | None:
    """A whole number >= ``minimum`` (a rendered template gives text); None and "" mean None."""
    if value is None or value == "":
        return None
    try:
        number = int(value) if isinstance(value, str) else value
    except ValueError:
        number = None
    if type(number) is not int or number < minimum:
        raise OzonetelRequestError(f"{name}: expected a whole number >= {minimum}, got {value!r}")
    return number


def _date(value: Any, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return calendar.parse_date(value, name)
    except ValueError as exc:
        raise OzonetelRequestError(str(exc)) from None


def _texts(days: Any) -> list[str]:
    return [day.isoformat() for day in sorted(days)]
