"""Many tasks of one account at once, for the deployment test and bench (tests/integration/deployment.py).

Day pulls mapped over days and CallBacks lookups mapped over UCID batches, all against one
account, no pool. Each task first moves to a temp dir of its own, so nothing machine-local (a
lock file, a cache in /tmp) can coordinate them. Configured by the deployment's environment
(the DAG processor and every worker read the same), with harmless defaults so the file always
parses.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ozonetel.operators.ozonetel import (
    OzonetelCallDetailsOperator,
    OzonetelCDRDetailsOperator,
)

DAYS = [d for d in os.environ.get("OZONETEL_DEPLOY_DAYS", "2026-01-01").split(",") if d]
UCID_BATCHES = json.loads(os.environ.get("OZONETEL_DEPLOY_UCIDS", "[]"))
OUT = os.environ.get("OZONETEL_DEPLOY_OUT", "/tmp/ozonetel-deployment")
HOOK = json.loads(os.environ.get("OZONETEL_DEPLOY_HOOK", "{}"))
DEFER = json.loads(os.environ.get("OZONETEL_DEPLOY_DEFER", "{}"))


def own_temp_dir(context) -> None:
    """As if each task ran on a machine of its own: a fresh TMPDIR."""
    ti = context["ti"]
    path = tempfile.mkdtemp(prefix=f"ozonetel-task-{ti.task_id}-{ti.map_index}-")
    os.environ["TMPDIR"] = path
    tempfile.tempdir = path


with DAG(
    dag_id="ozonetel_test_deployment",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_tasks=64,
    # Airflow 3.2-3.3 can fail a task that resumes from deferral as the executor's late "success"
    # for the deferring attempt arrives (apache/airflow#72716, #71580): retry, as the README says.
    default_args={"retries": 2, "retry_delay": dt.timedelta(seconds=1)},
):
    OzonetelCDRDetailsOperator.partial(
        task_id="pull_day",
        destination=f"file://{OUT}/cdr/",
        hook_params=HOOK,
        pre_execute=own_temp_dir,
        **DEFER,
    ).expand(cdr_date=DAYS)
    OzonetelCallDetailsOperator.partial(
        task_id="look_up_calls",
        report_type="historical",
        destination=f"file://{OUT}/calls/",
        hook_params=HOOK,
        pre_execute=own_temp_dir,
    ).expand(ucids=UCID_BATCHES)
