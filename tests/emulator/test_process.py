"""The emulator as a process of its own (what make demo and the benchmarks use)."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_ozonetel.emulator.process import emulator_process

# Pure logic (or the emulator): the same on every Airflow, so make test-matrix skips it.
pytestmark = pytest.mark.version_independent


def test_emulator_process_serves_and_stops(tmp_path):
    log = tmp_path / "emulator.log"
    with emulator_process("--user", "u", "--api-key", "k", log_path=log) as url:
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(url + "/_emulator/state", timeout=5).json()["mints"] == 0
    assert log.read_text().splitlines()[0] == url
    try:
        requests.get(url + "/_emulator/state", timeout=2)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the emulator still answers after the block")
