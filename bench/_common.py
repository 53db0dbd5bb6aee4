"""Helpers the benchmark scripts share: the emulator as a process, medians, machine facts."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
USER, API_KEY = "bench_user", "bench-key-0001"


def emulator(*args: str):
    """The emulator in its own process for the bench account; a context manager yielding its URL."""
    from airflow_provider_ozonetel.emulator.process import emulator_process

    return emulator_process("--user", USER, "--api-key", API_KEY, *args)


def day_emulator(calls_per_day: int, minute_seconds: float, cache: pathlib.Path):
    """The emulator serving days of ``calls_per_day`` from a disk cache (api_key auth, quiet)."""
    return emulator(
        "--calls-per-day",
        str(calls_per_day),
        "--minute-seconds",
        str(minute_seconds),
        "--auth-mode",
        "api_key",
        "--cache-dir",
        str(cache),
        "--log-level",
        "warning",
    )


def connect(url: str, conn_id: str = "ozonetel_default") -> None:
    """A throwaway Airflow home and ``conn_id`` pointing at the emulator's bench account (api_key)."""
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {
            "conn_type": "ozonetel",
            "host": url,
            "login": USER,
            "password": API_KEY,
            "extra": {"auth_mode": "api_key"},
        }
    )


def run_child(script: str, *args: str) -> dict:
    """Run ``script`` with ``args`` in a fresh Python process; the JSON of its last stdout line."""
    done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def add_medians(row: dict, runs: dict[str, list[dict]]) -> dict:
    """Each variant's median wall time and peak RSS (and its runs) into ``row``."""
    for variant, measured in runs.items():
        row[f"{variant}_wall_s"] = median([r["wall_s"] for r in measured])
        row[f"{variant}_rss_mb"] = median([r["peak_rss_mb"] for r in measured])
        row[f"{variant}_runs"] = measured
    return row


def state(base_url: str) -> dict:
    import requests

    return requests.get(base_url + "/_emulator/state", timeout=10).json()


def peak_rss_mb() -> float:
    """This process's own high-water mark (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_cpu_s() -> float:
    """CPU seconds of this process's children that have ended (a typing process, once reaped)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import ijson

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "apache-airflow": version("apache-airflow"),
        "airflow-provider-ozonetel": version("airflow-provider-ozonetel"),
        "ijson": f"{version('ijson')} ({ijson.backend})",
        "requests": version("requests"),
    }


def measured_now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def save(name: str, data: dict) -> pathlib.Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"machine": machine(), "measured_at": measured_now(), **data}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
