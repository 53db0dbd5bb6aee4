"""`make demo`: the example daily DAG, end to end, against the local emulator. No account, no network.

Starts the emulator on a free port, points `ozonetel_default` at it (an env var), runs
`airflow dags test ozonetel_daily_cdr` in an embedded SQLite Airflow home inside the repo
(`.demo/`, git-ignored), prints where the day's file is and what it holds, and stops the
emulator.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import subprocess
import sys

import pendulum

from airflow_provider_ozonetel.emulator.process import emulator_process

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
HOME = DEMO / "airflow"
OUTPUT = DEMO / "output"
USER, API_KEY = "demo_user", "demo_key"


def demo_day() -> dt.date:
    """Yesterday (IST), or the day before while yesterday is not yet readable (before 03:15 IST)."""
    now = pendulum.now("Asia/Kolkata")
    ready = now.replace(hour=3, minute=15, second=0, microsecond=0)
    return now.date() - dt.timedelta(days=1 if now >= ready else 2)


def airflow_env(base_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(HOME),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{HOME}/airflow.db",
        AIRFLOW_CONN_OZONETEL_DEFAULT=json.dumps(
            {"conn_type": "ozonetel", "host": base_url, "login": USER, "password": API_KEY}
        ),
    )
    return env


def main() -> int:
    HOME.mkdir(parents=True, exist_ok=True)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log_path = DEMO / "dags-test.log"
    emulator = emulator_process(
        "--user",
        USER,
        "--api-key",
        API_KEY,
        "--calls-per-day",
        "2000",
        "--seed",
        "7",
        log_path=DEMO / "emulator.log",
    )
    with emulator as base_url:
        print(f"Emulator running at {base_url} (user {USER})")
        env = airflow_env(base_url)
        airflow = [sys.executable, "-m", "airflow"]
        subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        day = demo_day()
        conf = {"cdr_date": day.isoformat(), "destination": f"file://{OUTPUT}/"}
        print(f"Running the DAG ozonetel_daily_cdr for {day} (IST) with `airflow dags test` ...")
        with log_path.open("w") as log:
            result = subprocess.run(
                [*airflow, "dags", "test", "ozonetel_daily_cdr", "-c", json.dumps(conf)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        path = OUTPUT / f"ozonetel_cdr_{day.isoformat()}.jsonl"
        if result.returncode != 0 or not path.exists():
            print(log_path.read_text()[-4000:])
            print(f"The DAG run failed; the full log is {log_path}")
            return 1
        rows = 0
        call_ids = set()
        with path.open() as handle:
            for line in handle:
                rows += 1
                call_ids.add(json.loads(line)["call_id"])
        calls = len(call_ids)
        print(f"The day's file: {path}")
        print(f"  {rows} rows (one per call leg, UCID), {calls} calls (distinct CallID)")
        print(f"  Airflow log of the run: {log_path}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
