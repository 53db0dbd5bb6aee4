"""The example DAGs in real Airflow (dag.test, in process) against a requests-mock vendor."""

from __future__ import annotations

import json
import logging

import pendulum
import pytest
import time_machine

from tests.answers import (
    API_KEY,
    BIG_UCID,
    CALLBACKS_URL,
    CDR_URL,
    TOKEN,
    TOKEN_URL,
    callback_record,
    cdr_body,
    cdr_record,
)
from tests.integration.airflow_runs import dag_bag, run_dag
from tests.integration.test_emulator_runs import _JumpAtDeferral

pytestmark = pytest.mark.integration


def test_every_dag_file_imports_cleanly(airflow_db):
    for bag in dag_bag():
        assert bag.import_errors == {}
    examples, _ = dag_bag()
    assert {
        "ozonetel_daily_cdr",
        "ozonetel_call_lookup",
        "ozonetel_cdr_to_postgres",
        "ozonetel_wait_then_pull",
    } <= set(examples.dags)


@pytest.fixture
def vendor(requests_mock, set_conn):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    requests_mock.real_http = True  # the in-process execution API client may use requests
    return requests_mock


def test_daily_dag_pulls_yesterday_to_a_file(airflow_db, vendor, tmp_path):
    cdr = vendor.get(CDR_URL, text=cdr_body([cdr_record(i) for i in range(4)]))
    run_at = pendulum.datetime(2026, 11, 20, 3, 30, tz="Asia/Kolkata")
    conf = {"destination": f"file://{tmp_path}/", "days": 1}
    with time_machine.travel(run_at.add(minutes=1), tick=True):
        result = run_dag("ozonetel_daily_cdr", logical_date=run_at, conf=conf)
    assert result.state == "success", result.states
    path = tmp_path / "ozonetel_cdr_2026-11-19.jsonl"
    assert result.xcoms["catch_up_cdr_days"] == {
        "pulled": ["2026-11-19"],
        "present": [],
        "failed": [],
        "at_risk": [],
        "lost": [],
        "requests": 1,
    }
    assert [json.loads(x)["ucid"] for x in path.read_text().splitlines()] == [
        str(BIG_UCID + i) for i in range(4)
    ]
    assert json.loads((tmp_path / "ozonetel_cdr_2026-11-19.jsonl.manifest.json").read_text())["rows"] == 4
    assert cdr.last_request.json()["fromDate"] == "2026-11-19 00:00:00"


def test_wait_then_pull_defers_until_the_day_is_readable_then_pulls_it(airflow_db, vendor, tmp_path, caplog):
    # The 00:05 IST run defers (deferrable=True in the DAG) until 03:15 IST; the clock then jumps
    # there, the in-line trigger fires, the sensor succeeds and the day before the run is pulled.
    caplog.set_level(logging.INFO)
    cdr = vendor.get(CDR_URL, text=cdr_body([cdr_record(i) for i in range(3)]))
    run_at = pendulum.datetime(2026, 11, 20, 0, 5, tz="Asia/Kolkata")
    ready = pendulum.datetime(2026, 11, 20, 3, 15, tz="Asia/Kolkata")
    sensor_log = logging.getLogger("airflow_provider_ozonetel.sensors.ozonetel")
    with time_machine.travel(run_at.add(seconds=30), tick=True) as traveller:
        jump = _JumpAtDeferral(traveller, ready.add(seconds=1))
        sensor_log.addHandler(jump)
        try:
            result = run_dag(
                "ozonetel_wait_then_pull", logical_date=run_at, conf={"destination": f"file://{tmp_path}/"}
            )
        finally:
            sensor_log.removeHandler(jump)
    assert result.state == "success", result.states
    assert "Deferring until 2026-11-20T03:15:00+05:30" in caplog.text
    assert "Historical data of 2026-11-19 is readable" in caplog.text
    assert result.xcoms["pull_day"]["rows"] == 3
    path = tmp_path / "ozonetel_cdr_2026-11-19.jsonl"
    assert [json.loads(x)["ucid"] for x in path.read_text().splitlines()] == [
        str(BIG_UCID + i) for i in range(3)
    ]
    assert cdr.last_request.json()["fromDate"] == "2026-11-19 00:00:00"


def test_call_lookup_dag_reports_missing_ucids(airflow_db, vendor, tmp_path):
    found = {"json": {"status": "success", "message": [callback_record(BIG_UCID, API_KEY)]}}
    none = {"json": {"status": "success", "message": f"No Data Found with UCID {BIG_UCID + 1}"}}
    vendor.get(CALLBACKS_URL, [found, none])
    result = run_dag(
        "ozonetel_call_lookup",
        conf={"ucids": [str(BIG_UCID), str(BIG_UCID + 1)], "report_type": "historical"},
    )
    assert result.state == "success", result.states
    xcom = result.xcoms["look_up_calls"]
    assert (xcom["rows"], xcom["missing"], xcom["requests"]) == (1, [str(BIG_UCID + 1)], 2)
    assert API_KEY not in json.dumps(result.xcoms)


def test_call_lookup_dag_takes_hook_params_from_the_variable(airflow_db, vendor, monkeypatch):
    """No hook_params param: the JSON Variable ozonetel_hook_params, here no retries after a 503."""
    found = {"json": {"status": "success", "message": [callback_record(BIG_UCID)]}}
    vendor.get(CALLBACKS_URL, [{"status_code": 503, "text": "<html>503</html>"}, found])
    monkeypatch.setenv("AIRFLOW_VAR_OZONETEL_HOOK_PARAMS", json.dumps({"max_retries": 0}))
    result = run_dag("ozonetel_call_lookup", conf={"ucids": [str(BIG_UCID)], "report_type": "historical"})
    assert result.states["look_up_calls"] == "failed"  # with the default 3 retries it would succeed
    assert vendor.call_count == 1
    assert result.rendered["look_up_calls"]["hook_params"] == {"max_retries": 0}


def test_ucids_from_an_upstream_task(airflow_db, vendor, tmp_path):
    vendor.get(CALLBACKS_URL, json={"status": "success", "message": [callback_record(BIG_UCID)]})
    conf = {"ucids": [str(BIG_UCID)], "report_type": "historical", "destination": f"file://{tmp_path}/"}
    result = run_dag("ozonetel_test_xcom_ucids", conf=conf)
    assert result.state == "success", result.states
    assert result.xcoms["look_up"]["rows"] == 1


def test_dynamic_mapping_over_ucids(airflow_db, vendor):
    vendor.get(CALLBACKS_URL, json={"status": "success", "message": [callback_record(BIG_UCID)]})
    ucids = [str(BIG_UCID + n) for n in range(3)]
    result = run_dag("ozonetel_test_mapped_ucids", conf={"ucids": ucids, "report_type": "historical"})
    assert result.state == "success", result.states
    mapped = {k: v for k, v in result.xcoms.items() if k.startswith("look_up_one[")}
    assert len(mapped) == 3 and all(len(rows) == 1 for rows in mapped.values())
