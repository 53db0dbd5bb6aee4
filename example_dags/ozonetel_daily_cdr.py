"""Every call of every day (IST), complete, into one folder: daily at 03:30 IST, self-healing.

Each run makes the folder hold every day the vendor still holds (it keeps 15 days, today
included, then the data is gone): it pulls each day that is missing or not proven complete by
its manifest, oldest first, pulls the two most recent days again (records change after their
day) and alarms days about to leave the vendor's window. So one run after an outage of up to 14
days (an expired key, a broken bucket policy, a stopped scheduler) restores every missed day,
paced under the vendor's 2 requests a minute (about 7 minutes for 14 days). Yesterday is
readable from 03:00 IST; the schedule runs after that.

Params of a run, each with a fallback:

* ``destination``: the folder; else the Variable ``ozonetel_cdr_destination``, else
  ``$AIRFLOW_HOME/ozonetel/cdr/``. Any URL fsspec knows works (``s3://bucket/ozonetel/cdr/``
  with the Amazon provider installed).
* ``days``: look back only this many days; empty: the vendor's whole window.
* ``hook_params``: ``OzonetelHook`` arguments (e.g. ``{"rate_window_seconds": 0.5}`` against an
  emulator with a shortened minute); else the Variable ``ozonetel_hook_params`` (JSON), else none.

The task emits the asset ``ozonetel_cdr_daily``; its event's ``extra`` holds the days pulled,
present, failed, at risk and lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import pathlib

from airflow.providers.common.compat.sdk import DAG, Param
from airflow.timetables.trigger import CronTriggerTimetable

from airflow_provider_ozonetel.compat import asset
from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRCatchUpOperator

LOCAL_FOLDER = pathlib.Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "ozonetel" / "cdr"
DEFAULT_DESTINATION = f"file://{LOCAL_FOLDER}/"

# An Asset named ozonetel_cdr_daily on Airflow 3; on Airflow 2 a Dataset (no names there), same URI.
CDR_DAYS = asset(DEFAULT_DESTINATION, name="ozonetel_cdr_daily")

log = logging.getLogger(__name__)


def alert_on_retention_risk(report: dict, context: dict) -> None:
    """Days about to leave the vendor's window, or gone: page someone (Slack, PagerDuty, e-mail)
    from here. This example only logs; the operator has already logged each day."""
    at_risk = ", ".join(f"{d['cdr_date']} (in {d['hours_left']} h)" for d in report["at_risk"])
    log.error(
        "Ozonetel CDRs in %s: at risk: %s; lost: %s",
        report["destination"],
        at_risk or "none",
        ", ".join(report["lost"]) or "none",
    )


with DAG(
    dag_id="ozonetel_daily_cdr",
    description="Every retained day of Ozonetel CDRs (IST) in one folder, complete and proven",
    schedule=CronTriggerTimetable("30 3 * * *", timezone="Asia/Kolkata"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,  # every run covers the whole retained window by itself
    max_active_runs=1,  # one writer per folder
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    params={
        "destination": Param("", type="string", description="Folder URL; empty: Variable or local folder"),
        "days": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=14,
            description="Look back this many days; empty: the vendor's whole window",
        ),
        "hook_params": Param(
            {}, type="object", description="OzonetelHook arguments; empty: Variable ozonetel_hook_params"
        ),
    },
    tags=["ozonetel", "example"],
) as dag:
    OzonetelCDRCatchUpOperator(
        task_id="catch_up_cdr_days",
        destination=(
            "{{ params.destination or var.value.get('ozonetel_cdr_destination', '"
            + DEFAULT_DESTINATION
            + "') }}"
        ),
        days="{{ params.days or '' }}",
        hook_params="{{ (params.hook_params or var.json.get('ozonetel_hook_params', {})) | tojson }}",
        refresh_days=2,
        alarm_days=3,
        on_retention_risk=alert_on_retention_risk,
        outlets=[CDR_DAYS],
    )
