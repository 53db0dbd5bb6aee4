"""A real multi-process Airflow deployment in a throwaway home, for the deployment test and bench.

``airflow standalone`` (Airflow 3): API server, scheduler with the LocalExecutor (each task in its
own worker process, up to ``parallelism`` at once), DAG processor and triggerer, on SQLite. Tasks
give themselves their own temp dir (``tests/dags/ozonetel_deployment_dags.py``), so nothing
machine-local can coordinate them: only what the provider shares through Airflow.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
DAGS = ROOT / "tests" / "dags"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Deployment:
    """Start with ``with Deployment(env) as airflow:``; trigger runs, wait, read what happened."""

    def __init__(self, env: dict[str, str], *, parallelism: int = 8, log_level: str = "INFO") -> None:
        self.home = pathlib.Path(tempfile.mkdtemp(prefix="ozonetel-deployment-"))
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
        self.env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM=str(parallelism),
            AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=str(parallelism),
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
            AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="1",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{self.port}/execution/",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            # a loaded 2-core machine can keep the execution API busy past the 5 s default
            AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="60",
            AIRFLOW__LOGGING__LOGGING_LEVEL=log_level,
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{self.home}/airflow.db",
            # standalone starts its components as `airflow ...`: this virtualenv's one
            PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
        )
        self.env.update(env)
        self._process: subprocess.Popen | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Deployment:
        self.airflow("db", "migrate")
        log = (self.home / "standalone.log").open("w")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_for_api()
        return self

    def _wait_for_api(self, timeout: float = 240) -> None:
        """Tasks talk to the API server (the execution API): nothing may start before it answers."""
        import requests

        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/api/v2/monitor/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise RuntimeError(
            f"the API server did not answer in {timeout:.0f} s; see {self.home}/standalone.log"
        )

    def __exit__(self, *exc: Any) -> None:
        if self._process is not None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()

    def remove(self) -> None:
        """Delete the home (logs, database): once what happened was read and judged."""
        shutil.rmtree(self.home, ignore_errors=True)

    def airflow(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """An ``airflow`` command of the deployment (its own logging quiet, whatever the level)."""
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env={**self.env, "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"},
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    # ------------------------------------------------------------------ runs
    def trigger(self, dag_id: str, conf: dict, *, timeout: float = 300) -> str:
        """Trigger once the DAG processor has stored the DAG; the run id."""
        run_id = f"manual__deployment_{int(time.time())}"
        started = time.monotonic()
        while True:
            done = self.airflow(
                "dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf), check=False
            )
            if done.returncode == 0:
                return run_id
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"{dag_id} never became triggerable; see {self.home / 'standalone.log'}")
            time.sleep(2)

    def wait(self, dag_id: str, run_id: str, *, timeout: float = 600) -> str:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            state = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
            if state and state[0][0] in ("success", "failed"):
                return state[0][0]
            time.sleep(1)
        raise RuntimeError(f"{dag_id} {run_id} did not finish in {timeout:.0f} s")

    def query(self, sql: str, *args: Any) -> list[tuple]:
        with sqlite3.connect(self.home / "airflow.db", timeout=30) as db:
            return db.execute(sql, args).fetchall()

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT task_id, map_index, state, try_number, start_date, end_date FROM task_instance "
            "WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index",
            dag_id,
            run_id,
        )
        keys = ("task_id", "map_index", "state", "try_number", "start_date", "end_date")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def xcoms(self, dag_id: str, run_id: str) -> dict[tuple[str, int], Any]:
        rows = self.query(
            "SELECT task_id, map_index, value FROM xcom "
            "WHERE dag_id = ? AND run_id = ? AND key = 'return_value'",
            dag_id,
            run_id,
        )
        values = {}
        for task_id, map_index, value in rows:
            value = value.decode() if isinstance(value, bytes) else value
            values[(task_id, map_index)] = json.loads(value) if isinstance(value, str) else value
        return values

    def variable(self, key: str) -> str | None:
        done = self.airflow("variables", "get", key, check=False)
        return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None

    def logs_text(self) -> str:
        """Every log the deployment wrote: task logs, and the components' output."""
        parts = []
        for path in [*sorted((self.home / "logs").rglob("*")), self.home / "standalone.log"]:
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)
