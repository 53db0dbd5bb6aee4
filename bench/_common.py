"""Helpers the benchmark scripts share: the emulator as a process, medians, machine facts."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import platform
import resource
import statistics
import time
from importlib.metadata import version

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
USER, API_KEY = "bench_user", "bench-key-0001"


def emulator(*args: str):
    """The emulator in its own process for the bench account; a context manager yielding its URL."""
    from airflow_provider_ozonetel.emulator.process import emulator_process

    return emulator_process("--user", USER, "--api-key", API_KEY, *args)


def state(base_url: str) -> dict:
    import requests

    return requests.get(base_url + "/_emulator/state", timeout=10).json()


def peak_rss_mb() -> float:
    """This process's own high-water mark (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def save(name: str, data: dict) -> pathlib.Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"machine": machine(), "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **data}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
