"""Every call of yesterday (IST), complete, into storage: daily at 03:30 IST.

The sensor waits (in the triggerer, holding no worker slot) until the vendor's
historical store holds yesterday, 03:00 IST plus a margin; the pull then streams
the day into one file, written atomically, and emits the day's file as an asset
event (its ``extra`` holds the path, the date and the counts).

Where the file goes: the ``destination`` param of a run, else the Airflow Variable
``ozonetel_cdr_destination``, else ``$AIRFLOW_HOME/ozonetel/cdr/``. Any URL fsspec
knows works (``s3://bucket/ozonetel/cdr/`` with the Amazon provider installed); a
value ending in ``/`` is a folder for ``ozonetel_cdr_<date>.jsonl``.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib

from airflow.sdk import DAG, Asset, CronTriggerTimetable, Param

from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRDetailsOperator
from airflow_provider_ozonetel.sensors.ozonetel import OzonetelHistoricalDataSensor

LOCAL_FOLDER = pathlib.Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "ozonetel" / "cdr"
DEFAULT_DESTINATION = f"file://{LOCAL_FOLDER}/"

CDR_DAY_FILE = Asset(name="ozonetel_cdr_daily", uri=DEFAULT_DESTINATION)

with DAG(
    dag_id="ozonetel_daily_cdr",
    description="Yesterday's Ozonetel CDRs (IST) into storage, complete",
    schedule=CronTriggerTimetable("30 3 * * *", timezone="Asia/Kolkata"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=2)},
    params={
        "cdr_date": Param(
            None, type=["null", "string"], format="date", description="IST day; empty: yesterday"
        ),
        "destination": Param(
            "", type="string", description="Folder or file URL; empty: Variable or local folder"
        ),
    },
    tags=["ozonetel", "example"],
) as dag:
    wait = OzonetelHistoricalDataSensor(
        task_id="wait_for_historical_data",
        cdr_date="{{ params.cdr_date or '' }}",
        deferrable=True,  # waits in the triggerer, holding no worker slot (needs a running triggerer)
    )
    pull = OzonetelCDRDetailsOperator(
        task_id="pull_cdr_day",
        cdr_date="{{ params.cdr_date or '' }}",
        destination=(
            "{{ params.destination or var.value.get('ozonetel_cdr_destination', '"
            + DEFAULT_DESTINATION
            + "') }}"
        ),
        outlets=[CDR_DAY_FILE],
    )
    wait >> pull
