"""Benchmark 4: a DAG run with 8 parallel tasks that need tokens mints exactly one token.

Runs a real Airflow deployment (``airflow standalone``: API server, scheduler with the
LocalExecutor and parallelism 8, DAG processor, triggerer; SQLite in a throwaway home) against
the emulator, triggers ``bench/dags/ozonetel_token_bench.py`` (8 tasks, each pulling a 3-hour
window with token auth) and reads the emulator's mint counter. The emulator answers slowly
(0.5 s) so the tasks really overlap; the overlap is measured from the task instances' times.

    python bench/tokens.py
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import API_KEY, ROOT, USER, emulator, save, state

DAG_ID = "ozonetel_token_bench"
MINUTE = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def airflow(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=300,
    )


def wait_for_api(port: int, started: float) -> None:
    import requests

    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        if time.monotonic() - started > 180:
            raise RuntimeError("the API server did not start in 3 minutes")
        time.sleep(1)


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = best = 0
    for _, step in events:
        running += step
        best = max(best, running)
    return best


def main() -> None:
    import pendulum

    day = (pendulum.now("Asia/Kolkata").date() - dt.timedelta(days=2)).isoformat()
    home = pathlib.Path(tempfile.mkdtemp(prefix="bench-airflow-standalone-"))
    out = home / "out"
    port = free_port()
    with emulator(
        "--calls-per-day",
        "20000",
        "--minute-seconds",
        str(MINUTE),
        "--fault-slow",
        "0.5",
        "--fault-slow-count",
        "-1",
        "--log-level",
        "warning",
    ) as url:
        env = dict(os.environ)
        env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "bench" / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="8",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__API__PORT=str(port),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW_CONN_OZONETEL_DEFAULT=json.dumps(
                {"conn_type": "ozonetel", "host": url, "login": USER, "password": API_KEY}
            ),
            OZONETEL_BENCH_OUT=str(out),
            OZONETEL_BENCH_DAY=day,
            OZONETEL_BENCH_WINDOW=str(MINUTE),
            # standalone starts its components as `airflow ...`: the virtualenv's one
            PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
        airflow(env, "db", "migrate")
        log = (home / "standalone.log").open("w")
        standalone = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            started = time.monotonic()
            wait_for_api(port, started)
            while airflow(env, "dags", "trigger", DAG_ID, check=False).returncode != 0:
                if time.monotonic() - started > 240:
                    raise RuntimeError(f"the DAG never appeared; see {home / 'standalone.log'}")
                time.sleep(3)
            run_state = "queued"
            while run_state not in ("success", "failed"):
                if time.monotonic() - started > 600:
                    raise RuntimeError("the run did not finish in 10 minutes")
                time.sleep(3)
                listed = airflow(env, "dags", "list-runs", DAG_ID, "-o", "json").stdout.splitlines()
                runs = json.loads(next((line for line in listed if line.startswith("[")), "[]"))
                run_state = runs[0]["state"] if runs else "queued"
            answered = state(url)
        finally:
            os.killpg(standalone.pid, signal.SIGTERM)
            try:
                standalone.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(standalone.pid, signal.SIGKILL)
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, state, start_date, end_date FROM task_instance WHERE dag_id = ?", (DAG_ID,)
        ).fetchall()
    intervals = [
        (dt.datetime.fromisoformat(s).timestamp(), dt.datetime.fromisoformat(e).timestamp())
        for _, _, s, e in rows
        if s and e
    ]
    results = {
        "run_state": run_state,
        "tasks": len(rows),
        "task_states": sorted({r[1] for r in rows}),
        "max_tasks_running_at_once": max_overlap(intervals),
        "tokens_minted": answered["mints"],
        "fetch_requests": answered["requests"]["cdr"],
        "rate_limit_answers": answered["rate_limited"]["cdr"],
    }
    print(json.dumps(results, indent=2))
    print(f"wrote {save('tokens', results)}")


if __name__ == "__main__":
    main()
