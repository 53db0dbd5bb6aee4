"""Look up calls by UCID (CDR in CallBacks API), picking the store by the IST rules.

Trigger with params, e.g. ``{"ucids": ["31733467784618213"], "call_date": "2026-11-19"}``.
UCIDs with "No Data Found" are reported under ``missing`` in the task's XCom.

``hook_params``: ``OzonetelHook`` arguments (e.g. ``{"rate_window_seconds": 0.55,
"token_ttl_seconds": 27.5}`` against an emulator whose minute is 0.5 s); else the Variable
``ozonetel_hook_params`` (JSON), else none.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib

from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_ozonetel.operators.ozonetel import OzonetelCallDetailsOperator

LOCAL_FOLDER = pathlib.Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "ozonetel" / "calls"

with DAG(
    dag_id="ozonetel_call_lookup",
    description="Ozonetel CDRs of given calls (UCIDs)",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    params={
        "ucids": Param([], type="array", items={"type": "string", "pattern": "^[0-9]+$"}),
        "call_date": Param(
            None, type=["null", "string"], format="date", description="IST day the calls began"
        ),
        "report_type": Param("auto", enum=["auto", "currentday", "historical"]),
        "hook_params": Param(
            {}, type="object", description="OzonetelHook arguments; empty: Variable ozonetel_hook_params"
        ),
    },
    render_template_as_native_obj=True,
    tags=["ozonetel", "example"],
) as dag:
    OzonetelCallDetailsOperator(
        task_id="look_up_calls",
        ucids="{{ params.ucids }}",
        call_date="{{ params.call_date }}",
        report_type="{{ params.report_type }}",
        hook_params="{{ params.hook_params or var.json.get('ozonetel_hook_params', {}) }}",
        destination=f"file://{LOCAL_FOLDER}/",
    )
