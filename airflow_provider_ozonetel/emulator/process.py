"""The emulator in a process of its own (demo, benchmarks): its command line, its URL, its end."""

from __future__ import annotations

import contextlib
import pathlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator


@contextlib.contextmanager
def emulator_process(*args: str, log_path: pathlib.Path | None = None, timeout: float = 30) -> Iterator[str]:
    """Run ``python -m airflow_provider_ozonetel.emulator --port 0 *args``; yield its base URL.

    Its output goes to ``log_path`` (a temporary file when None): a pipe nobody drains could
    block it. The process is stopped when the block ends, however it ends.
    """
    own_log = log_path is None
    path = (
        pathlib.Path(tempfile.mkstemp(prefix="ozonetel-emulator-", suffix=".log")[1]) if own_log else log_path
    )
    with path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_ozonetel.emulator", "--port", "0", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout
        while not (url := path.read_text().partition("\n")[0].strip()).startswith("http"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start: {path.read_text()[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if own_log:
            path.unlink(missing_ok=True)
