"""OzonetelHistoricalDataSensor: wait until the vendor's historical store holds a day."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, BaseSensorOperator, conf

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.exceptions import OzonetelRequestError
from airflow_provider_ozonetel.operators.base import parse_hook_params, resolve_cdr_date

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

log = logging.getLogger(__name__)

#: How long past the sensor's deadline a deferred task may stay deferred before Airflow fails it.
#: The trigger fires at the deadline at the latest, and the resumed task then raises
#: ``AirflowSensorTimeout`` with its own message; the grace keeps that message in the normal case,
#: while a deployment without a running triggerer still fails instead of waiting forever.
TRIGGER_TIMEOUT_GRACE = dt.timedelta(minutes=5)


class OzonetelHistoricalDataSensor(BaseSensorOperator):
    """
    Succeed once Ozonetel's historical store holds ``cdr_date``: from 03:00 IST the next day,
    plus ``margin``.

    With ``deferrable=True`` the task waits in the triggerer with a wall-clock trigger, holding no
    worker slot; when the moment has passed it succeeds at once without deferring. Without
    deferral it pokes in ``reschedule`` mode (also holding no slot between pokes).

    :param cdr_date: the IST day (templated); None follows the operators' default-date rule.
    :param margin: extra time after 03:00 IST (default 15 minutes).
    :param probe_ucid: a UCID of a call of that day (templated). After the moment, one CallBacks
        ``historical`` request confirms the data is there; "No Data Found" keeps waiting, every
        ``poke_interval``, bounded by ``timeout``.
    :param ozonetel_conn_id: the connection, used only for the probe (templated).
    :param hook_params: ``OzonetelHook`` arguments for the probe (templated: a dict or its JSON text).
    :param deferrable: wait in the triggerer (needs a running triggerer). Default: Airflow's
        ``[operators] default_deferrable`` (false unless configured), as in Airflow's own providers.
        Deferred, the task fails ``timeout`` seconds (plus ``TRIGGER_TIMEOUT_GRACE``) after it
        started even when no triggerer runs.
    """

    template_fields: Sequence[str] = ("cdr_date", "probe_ucid", "ozonetel_conn_id", "hook_params")
    ui_color = "#fdf5e6"

    def __init__(
        self,
        *,
        cdr_date: dt.date | str | None = None,
        margin: dt.timedelta = dt.timedelta(minutes=15),
        probe_ucid: int | str | None = None,
        ozonetel_conn_id: str = "ozonetel_default",
        hook_params: dict[str, Any] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = 300,
        timeout: float = 12 * 3600,
        mode: str = "reschedule",
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, mode=mode, **kwargs)
        if not isinstance(margin, dt.timedelta) or margin < dt.timedelta(0):
            raise ValueError(f"margin: expected a timedelta >= 0, got {margin!r}")
        self.cdr_date = cdr_date
        self.margin = margin
        self.probe_ucid = probe_ucid
        self.ozonetel_conn_id = ozonetel_conn_id
        self.hook_params = hook_params or {}
        self.deferrable = deferrable

    def ready_at(self, context: Context) -> pendulum.DateTime:
        """When the day's data is readable: 03:00 IST the next day plus the margin."""
        return calendar.historical_ready_at(self._day(context)) + self.margin

    def _day(self, context: Context) -> dt.date:
        try:
            return resolve_cdr_date(self.cdr_date, context)
        except ValueError as exc:
            raise OzonetelRequestError(str(exc)) from None

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            return super().execute(context)
        self._finish_or_defer(context, pendulum.now("UTC") + dt.timedelta(seconds=self.timeout))
        return None

    def execute_complete(self, context: Context, event: Any = None, deadline: str | None = None) -> None:
        """Back from the trigger: check again, and succeed, wait more, or time out."""
        limit = pendulum.parse(deadline) if deadline else pendulum.now("UTC")
        self._finish_or_defer(context, limit)

    def _finish_or_defer(self, context: Context, deadline: pendulum.DateTime) -> None:
        now = pendulum.now("UTC")
        moment = self.ready_at(context)
        if now >= moment and self._readable(context, moment):
            return
        if now >= deadline:
            raise AirflowSensorTimeout(
                f"Ozonetel historical data was not confirmed readable by {deadline.isoformat()} "
                f"(timeout={self.timeout} s; readable from {moment.isoformat()})"
            )
        wake = moment if now < moment else now + dt.timedelta(seconds=self.poke_interval)
        self._defer_until(wake, deadline, now)

    def poke(self, context: Context) -> bool:
        moment = self.ready_at(context)
        if pendulum.now("UTC") < moment:
            log.info("Historical data is readable from %s; waiting", moment.isoformat())
            return False
        return self._readable(context, moment)

    def _readable(self, context: Context, moment: pendulum.DateTime) -> bool:
        """The moment has passed: true (with one log line) unless the probe says not yet."""
        if not self._probe_confirms():
            return False
        log.info(
            "Historical data of %s is readable: the moment (%s IST) has passed",
            self._day(context).isoformat(),
            moment.in_timezone(calendar.IST).isoformat(),
        )
        return True

    def _defer_until(
        self, moment: pendulum.DateTime, deadline: pendulum.DateTime, now: pendulum.DateTime
    ) -> None:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        moment = min(moment, deadline)
        log.info("Deferring until %s (%s)", moment.in_timezone(calendar.IST).isoformat(), moment.isoformat())
        self.defer(
            trigger=DateTimeTrigger(moment=moment),
            method_name="execute_complete",
            kwargs={"deadline": deadline.isoformat()},
            timeout=dt.timedelta(seconds=(deadline - now).total_seconds()) + TRIGGER_TIMEOUT_GRACE,
        )

    def _probe_confirms(self) -> bool:
        if self.probe_ucid in (None, ""):
            return True
        from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook

        with OzonetelHook(self.ozonetel_conn_id, **parse_hook_params(self.hook_params)) as hook:
            records = hook.get_call_details(self.probe_ucid, report_type=calendar.HISTORICAL)
        if records:
            log.info("UCID %s is in the historical store: the day is readable", self.probe_ucid)
            return True
        log.info("UCID %s is not in the historical store yet (No Data Found)", self.probe_ucid)
        return False
