"""The self-healing daily DAG, end to end in real Airflow against the emulator: after an outage,
one run restores every missed day exactly as the emulator's truth has it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

import pendulum
import pytest
import time_machine

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.emulator import run_emulator
from tests.integration.airflow_runs import keep_for_matrix, run_dag

pytestmark = pytest.mark.integration

API_KEY = "emu-secret-key-5521"
NOW = pendulum.datetime(2026, 11, 20, 12, 0, tz="Asia/Kolkata")
MINUTE = 0.2  # the emulator's minute, in seconds
# The hook's clock follows the emulator's minute, but paces by a longer window: the 2% margin it
# adds to the vendor's 60 s minute covers network jitter there, while 2% of 0.2 s (4 ms) is less
# than a busy test machine's jitter. Tokens are reused for 55 emulator minutes, as for real.
HOOK_PARAMS = {
    "rate_window_seconds": 0.3,
    "token_ttl_seconds": 55 * MINUTE,
    "retry_min_wait": 0.01,
    "retry_max_wait": 0.05,
}


@pytest.fixture
def emulator(airflow_db, monkeypatch):
    with run_emulator(
        user="demo_user", api_key=API_KEY, calls_per_day=60, minute_seconds=MINUTE, seed=11, now=NOW
    ) as emu:
        conn = {"conn_type": "ozonetel", "host": emu.base_url, "login": emu.user, "password": API_KEY}
        monkeypatch.setenv("AIRFLOW_CONN_OZONETEL_DEFAULT", json.dumps(conn))
        yield emu


def example_outputs(folder) -> dict[str, bytes]:
    """The day files and their manifests, less the one field that differs between two runs."""
    kept = {}
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        if path.name.endswith(".manifest.json"):
            manifest = json.loads(data)
            manifest.pop("pulled_at")
            data = json.dumps(manifest, indent=2).encode()
        kept[path.name] = data
    return kept


def test_one_run_after_an_outage_restores_every_missed_day(emulator, tmp_path, caplog, capfd):
    caplog.set_level(logging.INFO)
    retained = calendar.retained_days(NOW)  # 2026-11-06 .. 2026-11-19
    conf = {"destination": f"file://{tmp_path}/", "hook_params": HOOK_PARAMS}
    with time_machine.travel(NOW, tick=True):
        first = run_dag("ozonetel_daily_cdr", conf=conf)
        assert first.state == "success", first.states
        assert first.xcoms["catch_up_cdr_days"]["pulled"] == [d.isoformat() for d in retained]
        keep_for_matrix("ozonetel_daily_cdr", example_outputs(tmp_path))

        # The outage: runs failed for days, files went missing or were damaged.
        deleted = [retained[0], retained[1], retained[5], retained[9]]
        for day in deleted:
            (tmp_path / f"ozonetel_cdr_{day}.jsonl").unlink()
            (tmp_path / f"ozonetel_cdr_{day}.jsonl.manifest.json").unlink()
        damaged = tmp_path / f"ozonetel_cdr_{retained[7]}.jsonl"
        damaged.write_bytes(damaged.read_bytes()[:-100])  # cut short
        (tmp_path / f"ozonetel_cdr_{retained[8]}.jsonl.manifest.json").unlink()  # a crash before it
        before = emulator.state

        second = run_dag("ozonetel_daily_cdr", conf=conf)

    assert second.state == "success", second.states
    repaired = sorted([*deleted, retained[7], retained[8]])
    refreshed = retained[-2:]
    xcom = second.xcoms["catch_up_cdr_days"]
    assert xcom == {
        "pulled": [d.isoformat() for d in repaired + refreshed],
        "present": [d.isoformat() for d in retained if d not in repaired + refreshed],
        "failed": [],
        "at_risk": [],
        "lost": [],
        "requests": xcom["requests"],
    }
    after = emulator.state
    assert xcom["requests"] == after.requests["cdr"] - before.requests["cdr"]
    # One request a day to restore or refresh (plus a retry for any rate-limit answer, should the
    # machine's jitter beat the pacing margin).
    assert xcom["requests"] - (after.rate_limited["cdr"] - before.rate_limited["cdr"]) == 8
    for day in retained:  # every retained day, exactly as the emulator's truth has it
        path = tmp_path / f"ozonetel_cdr_{day}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert [r["ucid"] for r in rows] == [str(u) for u in emulator.dataset.ucids(day)], day
        manifest = json.loads((tmp_path / f"ozonetel_cdr_{day}.jsonl.manifest.json").read_text())
        data = path.read_bytes()
        assert (manifest["rows"], manifest["bytes"]) == (emulator.dataset.count_day(day), len(data))
        assert manifest["calls"] == len(set(emulator.dataset.call_ids(day)))
        assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary object
    output = (
        caplog.text + "".join(capfd.readouterr()) + json.dumps(second.xcoms) + json.dumps(second.rendered)
    )
    assert API_KEY not in output
    assert f"{retained[7]}: the file has" in output and f"{retained[8]}: a file without a manifest" in output


def test_the_dag_takes_hook_params_from_a_variable(emulator, tmp_path):
    from airflow.models.variable import Variable

    Variable.set("ozonetel_hook_params", json.dumps(HOOK_PARAMS))
    try:
        with time_machine.travel(NOW, tick=True):
            result = run_dag("ozonetel_daily_cdr", conf={"destination": f"file://{tmp_path}/", "days": 3})
    finally:
        Variable.delete("ozonetel_hook_params")
    assert result.state == "success", result.states
    assert result.xcoms["catch_up_cdr_days"]["pulled"] == ["2026-11-17", "2026-11-18", "2026-11-19"]
    assert json.loads(result.rendered["catch_up_cdr_days"]["hook_params"]) == HOOK_PARAMS
    assert dt.date(2026, 11, 16).isoformat() not in str(sorted(p.name for p in tmp_path.iterdir()))
