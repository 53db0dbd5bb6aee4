"""The example DAGs, end to end in real Airflow (dag.test in process), against the emulator.

Asserts what a user would check: the day's file holds exactly the emulator's calls for the day,
typed as documented; faults either recover with complete data or fail with a clear error and no
file; tasks share one token; the logs hold no secret; the sensor really defers and resumes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pathlib

import jsonschema
import pytest
import time_machine

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.emulator import run_emulator
from airflow_provider_ozonetel.records import load_schema
from tests.integration.airflow_runs import keep_for_matrix, run_dag

pytestmark = pytest.mark.integration

API_KEY = "emu-secret-key-8731"
# Readable in the historical store whenever we run; make test-matrix sets one day for all versions.
DAY = (
    dt.date.fromisoformat(os.environ["OZONETEL_MATRIX_DAY"])
    if os.environ.get("OZONETEL_MATRIX_DAY")
    else calendar.today_ist() - dt.timedelta(days=2)
)


@pytest.fixture
def emulator(airflow_db, monkeypatch):
    with run_emulator(
        user="demo_user", api_key=API_KEY, calls_per_day=300, minute_seconds=0.5, seed=3
    ) as emu:
        conn = {"conn_type": "ozonetel", "host": emu.base_url, "login": emu.user, "password": API_KEY}
        monkeypatch.setenv("AIRFLOW_CONN_OZONETEL_DEFAULT", json.dumps(conn))
        yield emu


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def read_rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def shared_token() -> tuple[str | None, str | None]:
    """The account's shared token as stored in its Variable, and decrypted with the API key."""
    from airflow.models.variable import Variable

    from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
    from airflow_provider_ozonetel.hooks.token_store import TokenCipher, load_state, token_key

    settings = OzonetelHook().settings
    stored = Variable.get(token_key(settings.account_id), default_var=None)
    state = load_state(stored, TokenCipher(API_KEY, settings.account_key))
    return stored, state.token


def assert_no_secret(text: str) -> str | None:
    """Neither the API key nor the shared token (when one was minted) is in ``text`` or in the
    stored Variable (the token is there encrypted only); returns the token."""
    assert API_KEY not in text
    stored, token = shared_token()
    if token:
        assert token not in text
        assert token not in stored and API_KEY not in stored
    return token


def test_day_pull_file_holds_exactly_the_days_calls(emulator, tmp_path, logs, capfd):
    conf = {"cdr_date": DAY.isoformat(), "destination": f"file://{tmp_path}/"}
    result = run_dag("ozonetel_test_day_pull", conf=conf)

    assert result.state == "success", result.states
    rows = read_rows(tmp_path / f"ozonetel_cdr_{DAY.isoformat()}.jsonl")
    truth_ucids = {str(u) for u in emulator.dataset.ucids(DAY)}
    truth_calls = {str(c) for c in emulator.dataset.call_ids(DAY)}
    assert len(rows) == emulator.dataset.count_day(DAY) == len(truth_ucids)
    assert {r["ucid"] for r in rows} == truth_ucids
    assert {r["call_id"] for r in rows} == truth_calls
    xcom = result.xcoms["pull"]
    assert (xcom["rows"], xcom["calls"], xcom["requests"]) == (len(rows), len(truth_calls), 1)
    validator = jsonschema.Draft202012Validator(load_schema())
    for row in rows:
        validator.validate(row)
        assert row["call_date"] == DAY.isoformat()
        assert row["start_time"].startswith(DAY.isoformat()) and row["start_time"].endswith("+05:30")
    assert any(r["end_time"][:10] > DAY.isoformat() for r in rows), "a call crossing midnight"
    assert emulator.state.mints == 1
    assert result.rendered["pull"]["destination"] == f"file://{tmp_path}/"
    stored = json.dumps(result.rendered) + json.dumps(result.xcoms)  # rendered templates and XCom, as stored
    assert any(r.levelno == logging.DEBUG for r in logs.records), "DEBUG lines were captured"
    assert assert_no_secret(logs.text + "".join(capfd.readouterr()) + stored), "the shared token was checked"


def test_a_day_typed_in_a_second_process_is_the_same_file(emulator, tmp_path, logs, capfd):
    """``typing_process=True`` in a real task: the child is forked from Airflow's task process, and
    the files (and their manifests' checksums) are those of the in-process pull, byte for byte."""
    conf = {"cdr_date": DAY.isoformat(), "destination": f"file://{tmp_path}/"}
    result = run_dag("ozonetel_test_typing_process", conf=conf)

    assert result.state == "success", result.states
    for file_format in ("jsonl", "csv"):
        name = f"ozonetel_cdr_{DAY.isoformat()}.{file_format}"
        here = (tmp_path / f"{file_format}_here" / name).read_bytes()
        child = (tmp_path / f"{file_format}_child" / name).read_bytes()
        assert child == here and here.count(b"\n") >= emulator.dataset.count_day(DAY)
        manifests = [
            json.loads((tmp_path / f"{file_format}_{where}" / f"{name}.manifest.json").read_text())
            for where in ("here", "child")
        ]
        assert manifests[0]["sha256"] == manifests[1]["sha256"]
        assert manifests[0]["rows"] == manifests[1]["rows"] == emulator.dataset.count_day(DAY)
    stored = json.dumps(result.rendered) + json.dumps(result.xcoms)
    assert_no_secret(logs.text + "".join(capfd.readouterr()) + stored)


def test_call_lookup_dag_finds_every_ucid_and_reports_the_missing(emulator, logs, capfd):
    found = [str(u) for u in list(emulator.dataset.ucids(DAY))[:5]]
    gone = str(next(iter(emulator.dataset.ucids(calendar.today_ist() - dt.timedelta(days=30)))))
    # The emulator's minute is 0.5 s: the hook's window and token life scaled to match.
    hook_params = {"rate_window_seconds": 0.55, "token_ttl_seconds": 27.5}
    conf = {"ucids": [*found, gone], "call_date": DAY.isoformat(), "report_type": "auto"}
    result = run_dag("ozonetel_call_lookup", conf={**conf, "hook_params": hook_params})

    assert result.state == "success", result.states
    assert result.rendered["look_up_calls"]["hook_params"] == hook_params
    xcom = result.xcoms["look_up_calls"]
    assert xcom["missing"] == [gone]
    assert xcom["requests"] == 6
    rows = read_rows(pathlib.Path(xcom["path"].removeprefix("file://")))
    assert {r["monitor_ucid"] for r in rows} == set(found)
    assert all(r["api_key"] is None for r in rows)
    assert_no_secret(
        logs.text + "".join(capfd.readouterr()) + json.dumps(result.xcoms) + json.dumps(result.rendered)
    )
    # The file is named after the run (its id differs per run); its bytes must not differ.
    keep_for_matrix(
        "ozonetel_call_lookup", {"ozonetel_calls.jsonl": pathlib.Path(xcom["path"][7:]).read_bytes()}
    )


RECOVERS = {
    "error_5xx": {"error_5xx": 2},  # the hook retries with backoff
    "rate_limit_storm": {"rate_limit_storm": 2},  # the hook waits the window and retries
    "steal_token": {"steal_token": 1},  # Token Expired: the hook mints once and retries
    "slow": {"slow": 1.5, "slow_count": 1},  # a read timeout, retried
    "drop": {"drop": 1},  # mid-body: the task fails, no file; Airflow's retry pulls it whole
    "truncate": {"truncate": 1},
    "error_at_end": {"error_at_end": 1},
}


@pytest.mark.parametrize("fault", sorted(RECOVERS))
def test_fault_then_recovery_gives_complete_data(emulator, tmp_path, monkeypatch, fault):
    if fault == "slow":
        conn = json.loads(os.environ["AIRFLOW_CONN_OZONETEL_DEFAULT"])
        conn["extra"] = {"timeout": 1}
        monkeypatch.setenv("AIRFLOW_CONN_OZONETEL_DEFAULT", json.dumps(conn))
    emulator.set_faults(**RECOVERS[fault])
    result = run_dag(
        "ozonetel_test_day_pull", conf={"cdr_date": DAY.isoformat(), "destination": f"file://{tmp_path}/"}
    )

    assert result.state == "success", (fault, result.states)
    rows = read_rows(tmp_path / f"ozonetel_cdr_{DAY.isoformat()}.jsonl")
    assert {r["ucid"] for r in rows} == {str(u) for u in emulator.dataset.ucids(DAY)}
    assert len(rows) == emulator.dataset.count_day(DAY)
    name = f"ozonetel_cdr_{DAY.isoformat()}.jsonl"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name, name + ".manifest.json"]  # no temporary
    fired = emulator.state.faults[fault]["fired"]
    assert fired == (RECOVERS[fault].get("slow_count") or RECOVERS[fault][fault]), "the fault was served"
    if fault in ("drop", "truncate", "error_at_end"):
        assert result.tries["pull"] == 2  # failed once, whole, then pulled again


FAILS = {
    "error_5xx": ({"error_5xx": -1}, "answered HTTP 502 with a body that is not valid JSON"),
    "drop": ({"drop": -1}, "connection broke after"),
    "truncate": ({"truncate": -1}, "answer was cut off after"),
    "error_at_end": ({"error_at_end": -1}, "API rate limit has been exceeded"),
}


@pytest.mark.parametrize("fault", sorted(FAILS))
def test_persistent_fault_fails_clearly_and_leaves_no_file(emulator, tmp_path, logs, capfd, fault):
    faults, message = FAILS[fault]
    (tmp_path / "keep.txt").write_text("unrelated")
    emulator.set_faults(**faults)
    conf = {"cdr_date": DAY.isoformat(), "destination": f"file://{tmp_path}/"}
    result = run_dag("ozonetel_test_day_pull_no_retry", conf=conf)

    assert result.state == "failed" and result.states["pull"] == "failed"
    assert emulator.state.faults[fault]["fired"] >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]  # no file, no temporary
    output = logs.text + "".join(capfd.readouterr())
    assert message in output
    assert_no_secret(output)


def test_tasks_of_one_run_share_one_token(emulator, tmp_path):
    """Three tasks, one token and one rate budget, shared through the account's Airflow Variables:
    written and read by the tasks through the Task SDK on Airflow 3, through the metadata database
    on Airflow 2."""
    from airflow.models.variable import Variable

    from airflow_provider_ozonetel import budget
    from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
    from airflow_provider_ozonetel.hooks.rate_wait import budget_key
    from airflow_provider_ozonetel.hooks.token_store import token_key
    from airflow_provider_ozonetel.shared_state import MemoryStore

    account = OzonetelHook().settings.account_id
    key, budget_var = token_key(account), budget_key(account, "fetchCDRDetails")
    Variable.delete(key)
    Variable.delete(budget_var)
    result = run_dag(
        "ozonetel_test_token_sharing",
        conf={"cdr_date": DAY.isoformat(), "destination": f"file://{tmp_path}/"},
    )
    assert result.state == "success", result.states
    assert emulator.state.mints == 1
    assert shared_token()[1], "the tasks stored the token in the Variable"
    assert MemoryStore().read(key) is None, "not in this process's store"
    # the day pulls took their starts from the deployment-wide budget, in its Variable
    assert budget.load(Variable.get(budget_var, default_var=None)), "the budget Variable holds grants"
    assert MemoryStore().read(budget_var) is None
    parts = [read_rows(tmp_path / f"part_{h}.jsonl") for h in ("00", "08", "16")]
    assert sum(len(p) for p in parts) == emulator.dataset.count_day(DAY)


class _JumpAtDeferral(logging.Handler):
    """Moves the travelled clock to ``moment`` when the sensor logs that it defers: the trigger then
    fires at once, however long the task took to start on a loaded machine."""

    def __init__(self, traveller, moment):
        super().__init__()
        self.traveller, self.moment = traveller, moment

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Deferring until"):
            self.traveller.move_to(self.moment)


def test_deferrable_sensor_defers_and_resumes(emulator, logs, capfd):
    # An hour before the day becomes readable (03:15 IST the next day) the sensor defers; the clock
    # then jumps to the moment, the triggerer's wall-clock trigger fires and the sensor resumes.
    ready = calendar.historical_ready_at(DAY) + dt.timedelta(minutes=15)
    sensor_log = logging.getLogger("airflow_provider_ozonetel.sensors.ozonetel")
    with time_machine.travel(ready.subtract(hours=1), tick=True) as traveller:
        jump = _JumpAtDeferral(traveller, ready.add(seconds=1))
        sensor_log.addHandler(jump)
        try:
            result = run_dag("ozonetel_test_deferral", conf={"cdr_date": DAY.isoformat()})
        finally:
            sensor_log.removeHandler(jump)
    assert result.state == "success", result.states
    output = logs.text + "".join(capfd.readouterr())
    assert f"Deferring until {ready.in_timezone(calendar.IST).isoformat()}" in output
    assert "[DAG TEST] running trigger in line" in output
