"""OpenLineage end to end: a DAG run with the OpenLineage provider's listener enabled (its `file`
transport, so nothing leaves the machine) emits the day pull's lineage: the account's API in, the
Parquet file out with its schema and row count, and never the API key.

The listener is a plugin that reads its configuration once, when plugins load: the run happens in a
fresh process (``dag.test()``), configured through the environment as a deployment would be."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap

import pytest

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.emulator import run_emulator
from airflow_provider_ozonetel.lineage import api_dataset, schema_fields

pytest.importorskip(
    "airflow.providers.openlineage", reason="apache-airflow-providers-openlineage is in the test extras"
)
pytest.importorskip("pyarrow", reason="pyarrow (the [parquet] extra) is in the test extras")

pytestmark = pytest.mark.integration

API_KEY = "ol-secret-key-7781"
DAY = calendar.today_ist() - dt.timedelta(days=2)
DAG_FILE = """
from airflow.providers.common.compat.sdk import DAG
from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRDetailsOperator

with DAG("ozonetel_lineage_check", schedule=None):
    OzonetelCDRDetailsOperator(
        task_id="pull", cdr_date="{day}", destination="file://{out}/", file_format="parquet"
    )
"""
RUN = """
from airflow_provider_ozonetel import compat

run = compat.dag_test(compat.dag_bag({folder!r}).dags["ozonetel_lineage_check"])
print("run state:", run.state)
"""


def test_the_listener_emits_the_api_in_and_the_parquet_file_out(tmp_path, airflow_db):
    dags, out, events = tmp_path / "dags", tmp_path / "out", tmp_path / "events.jsonl"
    dags.mkdir()
    (dags / "lineage_check.py").write_text(DAG_FILE.format(day=DAY.isoformat(), out=out))
    with run_emulator(user="ol_user", api_key=API_KEY, calls_per_day=20, minute_seconds=0.2, seed=5) as emu:
        env = {
            **os.environ,
            "AIRFLOW_CONN_OZONETEL_DEFAULT": json.dumps(
                {"conn_type": "ozonetel", "host": emu.base_url, "login": emu.user, "password": API_KEY}
            ),
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(events), "append": True}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "ozonetel-test",
            "AIRFLOW__OPENLINEAGE__DISABLED": "False",
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
                [
                    {
                        "name": "ozonetel_lineage_check",
                        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                        "kwargs": {"path": str(dags)},
                    }
                ]
            ),
        }
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(RUN.format(folder=str(dags)))],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        base_url, user = emu.base_url, emu.user
    assert "run state: success" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]

    text = events.read_text()
    assert API_KEY not in text
    completed = [
        event
        for event in map(json.loads, text.splitlines())
        if event["eventType"] == "COMPLETE" and event["job"]["name"] == "ozonetel_lineage_check.pull"
    ]
    assert len(completed) == 1
    event = completed[0]
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
        api_dataset(base_url, "ca_reports/fetchCDRDetails", user)
    ]
    [output] = event["outputs"]
    written = out / f"ozonetel_cdr_{DAY.isoformat()}.parquet"
    assert (output["namespace"], output["name"]) == ("file", str(written).lstrip("/"))
    fields = output["facets"]["schema"]["fields"]
    assert [(f["name"], f["type"]) for f in fields] == [
        (name, kind) for name, kind, _ in schema_fields("parquet")
    ]
    import pyarrow.parquet as pq

    assert output["outputFacets"]["outputStatistics"]["rowCount"] == pq.read_metadata(written).num_rows
