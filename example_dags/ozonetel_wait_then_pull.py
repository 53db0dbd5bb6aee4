"""The day that just ended (IST), pulled as soon as the vendor's historical store holds it.

Two tasks, the simplest pairing of the sensor and the day operator:

1. ``wait_for_historical_data``: ``OzonetelHistoricalDataSensor`` with ``deferrable=True``
   (set explicitly: the sensor's default is Airflow's ``[operators] default_deferrable``, false
   unless configured). The run starts at 00:05 IST; the day is readable from 03:00 IST plus the
   sensor's 15-minute margin, and until then the task waits in the **triggerer**, holding no
   worker slot. It needs a running triggerer (``airflow standalone`` has one); without one the
   task fails at its ``timeout`` instead of waiting forever.
2. ``pull_day``: ``OzonetelCDRDetailsOperator`` writes the day into one file.

Both take the day before the run's logical date (IST), or the ``cdr_date`` param. Unlike
``ozonetel_daily_cdr`` this DAG repairs nothing: a day whose run failed stays missing until that
run is cleared; use the daily DAG for a folder that heals itself (not the same folder: two
writers of one file are refused).

Params of a run, each with a fallback:

* ``cdr_date``: the IST day (``YYYY-MM-DD``); empty: the day before the run.
* ``destination``: the folder; empty: ``$AIRFLOW_HOME/ozonetel/days/``.
* ``hook_params``: ``OzonetelHook`` arguments (e.g. ``{"rate_window_seconds": 0.55,
  "token_ttl_seconds": 27.5}`` against an emulator whose minute is 0.5 s); else the Variable
  ``ozonetel_hook_params`` (JSON), else none.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib

from airflow.providers.common.compat.sdk import DAG, Param
from airflow.timetables.trigger import CronTriggerTimetable

from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRDetailsOperator
from airflow_provider_ozonetel.sensors.ozonetel import OzonetelHistoricalDataSensor

LOCAL_FOLDER = pathlib.Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "ozonetel" / "days"
DEFAULT_DESTINATION = f"file://{LOCAL_FOLDER}/"

with DAG(
    dag_id="ozonetel_wait_then_pull",
    description="The IST day that just ended, pulled once the vendor's historical store holds it",
    schedule=CronTriggerTimetable("5 0 * * *", timezone="Asia/Kolkata"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    params={
        "cdr_date": Param("", type="string", description="YYYY-MM-DD (IST); empty: the day before the run"),
        "destination": Param("", type="string", description="Folder URL; empty: a local folder"),
        "hook_params": Param(
            {}, type="object", description="OzonetelHook arguments; empty: Variable ozonetel_hook_params"
        ),
    },
    tags=["ozonetel", "example"],
) as dag:
    wait = OzonetelHistoricalDataSensor(
        task_id="wait_for_historical_data",
        cdr_date="{{ params.cdr_date }}",
        deferrable=True,
        timeout=6 * 3600,  # past 06:05 IST something is wrong: fail and say so
    )
    pull = OzonetelCDRDetailsOperator(
        task_id="pull_day",
        cdr_date="{{ params.cdr_date }}",
        destination="{{ params.destination or '" + DEFAULT_DESTINATION + "' }}",
        hook_params="{{ (params.hook_params or var.json.get('ozonetel_hook_params', {})) | tojson }}",
    )
    wait >> pull
