"""DAGs the integration tests run against the emulator. Its minute is shortened, so the hook's
rate window and backoff are shortened to match (hook_params)."""

from __future__ import annotations

import datetime as dt

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRDetailsOperator
from airflow_provider_ozonetel.sensors.ozonetel import OzonetelHistoricalDataSensor

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
FAST = {"rate_window_seconds": 0.5, "retry_min_wait": 0.01, "retry_max_wait": 0.05, "settle_seconds": 0.1}
PARAMS = {"cdr_date": "", "destination": ""}

with DAG(
    dag_id="ozonetel_test_day_pull",
    schedule=None,
    start_date=START,
    catchup=False,
    params=PARAMS,
    # One Airflow retry, right away: shows that a run whose first try failed mid-body recovers.
    default_args={"retries": 1, "retry_delay": dt.timedelta(0)},
):
    OzonetelCDRDetailsOperator(
        task_id="pull",
        cdr_date="{{ params.cdr_date }}",
        destination="{{ params.destination }}",
        hook_params=FAST,
    )

with DAG(
    dag_id="ozonetel_test_day_pull_no_retry",
    schedule=None,
    start_date=START,
    catchup=False,
    params=PARAMS,
):
    OzonetelCDRDetailsOperator(
        task_id="pull",
        cdr_date="{{ params.cdr_date }}",
        destination="{{ params.destination }}",
        hook_params=FAST,
    )

with DAG(
    dag_id="ozonetel_test_typing_process", schedule=None, start_date=START, catchup=False, params=PARAMS
):
    # The same day typed here and in a second process, to jsonl and to csv: the files must be the same.
    for file_format in ("jsonl", "csv"):
        for typing_process in (False, True):
            name = f"{file_format}_{'child' if typing_process else 'here'}"
            OzonetelCDRDetailsOperator(
                task_id=name,
                cdr_date="{{ params.cdr_date }}",
                destination="{{ params.destination }}" + f"{name}/",
                file_format=file_format,
                typing_process=typing_process,
                hook_params=FAST,
            )

with DAG(dag_id="ozonetel_test_token_sharing", schedule=None, start_date=START, catchup=False, params=PARAMS):
    for start, end in (("00:00", "07:59:59"), ("08:00", "15:59:59"), ("16:00", "23:59:59")):
        OzonetelCDRDetailsOperator(
            task_id=f"pull_from_{start[:2]}",
            cdr_date="{{ params.cdr_date }}",
            from_time=start,
            to_time=end,
            destination="{{ params.destination }}" + f"part_{start[:2]}.jsonl",
            hook_params=FAST,
        )

with DAG(dag_id="ozonetel_test_deferral", schedule=None, start_date=START, catchup=False, params=PARAMS):
    OzonetelHistoricalDataSensor(task_id="wait", cdr_date="{{ params.cdr_date }}", deferrable=True)
