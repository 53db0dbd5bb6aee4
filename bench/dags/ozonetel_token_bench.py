"""8 parallel tasks that each need a token: one 3-hour window of a day each (bench/tokens.py)."""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG

from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRDetailsOperator

OUT = os.environ.get("OZONETEL_BENCH_OUT", "/tmp/ozonetel-token-bench")
DAY = os.environ.get("OZONETEL_BENCH_DAY", "")
WINDOW = float(os.environ.get("OZONETEL_BENCH_WINDOW", "60"))

with DAG(
    dag_id="ozonetel_token_bench",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_tasks=8,
):
    for hour in range(0, 24, 3):
        OzonetelCDRDetailsOperator(
            task_id=f"pull_{hour:02d}",
            cdr_date=DAY,
            from_time=f"{hour:02d}:00:00",
            to_time=f"{hour + 2:02d}:59:59",
            destination=f"file://{OUT}/part_{hour:02d}.jsonl",
            hook_params={"rate_window_seconds": WINDOW},
        )
