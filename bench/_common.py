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
from collections.abc import Iterator
from importlib.metadata import version

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
USER, API_KEY = "bench_user", "bench-key-0001"


@contextlib.contextmanager
def emulator(*args: str) -> Iterator[str]:
    """Run ``ozonetel-emulator --port 0 ...`` in its own process; yield its base URL."""
    log = tempfile.NamedTemporaryFile("w+", prefix="ozonetel-emulator-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_ozonetel.emulator",
            "--port",
            "0",
            "--user",
            USER,
            "--api-key",
            API_KEY,
            *args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            first = pathlib.Path(log.name).read_text().partition("\n")[0].strip()
            if first.startswith("http"):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the emulator did not start: {pathlib.Path(log.name).read_text()[-2000:]}"
                )
            time.sleep(0.05)
        yield first
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        os.unlink(log.name)


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
