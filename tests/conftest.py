"""Shared fixtures. Airflow runs with a throwaway home inside the repo (git-ignored)."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parent.parent
# A throwaway Airflow home per test session (never the user's own), with two DAG bundles:
# the example DAGs users copy and the tests' own DAGs.
_HOME = tempfile.mkdtemp(prefix="ozonetel-airflow-test-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "example_dags")
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": name,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(ROOT / folder)},
        }
        for name, folder in (("ozonetel_examples", "example_dags"), ("ozonetel_tests", "tests/dags"))
    ]
)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
os.environ.pop("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", None)

import pytest  # noqa: E402
import time_machine  # noqa: E402

from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook  # noqa: E402
from airflow_provider_ozonetel.pacing import Clock  # noqa: E402
from airflow_provider_ozonetel.shared_state import MemoryStore  # noqa: E402
from tests.answers import API_KEY, BASE, USER  # noqa: E402


@dataclass
class FakeClock:
    """Time that only moves when someone sleeps on it (or a test moves ``now``).

    ``wall`` starts at the wall clock of the fake's creation (time-machine's, where a test pins
    it) and moves with ``now``: rate grants and token ages follow the sleeps.
    """

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    wall_start: float = field(default_factory=time.time)
    #: Called, one each, at the next sleeps: what other processes do meanwhile.
    on_sleep: list = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_start + self.now - 1000.0

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep.pop(0)()

    def as_clock(self) -> Clock:
        return Clock(monotonic=self.monotonic, sleep=self.sleep, wall=self.wall)


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated SQLite metadata database in the session's Airflow home (dag.test needs one)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, timeout=300
    )
    yield _HOME


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _fresh_shared_state():
    """Rate budgets and tokens kept in the process: start every test from nothing."""
    MemoryStore.clear()
    yield
    MemoryStore.clear()


@pytest.fixture
def set_conn(monkeypatch):
    """Point ``ozonetel_default`` at BASE through an AIRFLOW_CONN_ env var (no database)."""

    def _set(conn_id: str = "ozonetel_default", **overrides) -> dict:
        conn = {"conn_type": "ozonetel", "host": BASE, "login": USER, "password": API_KEY, "extra": {}}
        extra = overrides.pop("extra", {})
        conn.update(overrides)
        conn["extra"] = {**conn["extra"], **extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn

    _set()
    return _set


@pytest.fixture
def ist_noon():
    """The wall clock pinned at 2026-11-20 12:00 IST (06:30 UTC)."""
    with time_machine.travel("2026-11-20T06:30:00+00:00", tick=False) as traveller:
        yield traveller


@pytest.fixture
def hook(set_conn, fake_clock, ist_noon) -> OzonetelHook:
    return OzonetelHook(clock=fake_clock.as_clock())
