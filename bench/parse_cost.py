"""Benchmark 3: what a DAG file that uses the provider costs the DAG processor to import.

``python -X importtime`` in fresh processes (median of several): the cumulative import time of
the provider's operator and sensor modules after ``airflow.sdk`` is loaded (every DAG file
imports it anyway), against ``airflow.providers.http.operators.http`` in the same run. Also lists
which heavy modules (HTTP client, JSON streaming, retries, storage, the emulator) a DAG file pulls
in: they should load at execute time, not at parse time.

    python bench/parse_cost.py [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import median, save

MODULES = {
    "provider operators": "airflow_provider_ozonetel.operators.ozonetel",
    "provider sensor": "airflow_provider_ozonetel.sensors.ozonetel",
    "HTTP provider operator": "airflow.providers.http.operators.http",
}
HEAVY = (
    "ijson",
    "tenacity",
    "requests",
    "fsspec",
    "msgspec",
    "airflow_provider_ozonetel.emulator",
    "airflow_provider_ozonetel.hooks.ozonetel",
    "uvicorn",
)


def import_cost_ms(module: str, env: dict) -> float:
    code = f"import airflow.sdk\nimport {module}"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=env, check=True
    )
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"{module} not in the importtime output")


def heavy_after_import(env: dict) -> dict[str, list[str]]:
    found = {}
    for label, module in MODULES.items():
        code = (
            f"import sys, airflow.sdk; before = set(sys.modules); import {module}; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules and m not in before))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        found[label] = [m for m in out.stdout.strip().split(",") if m]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    env = dict(os.environ, AIRFLOW_HOME=tempfile.mkdtemp(prefix="bench-airflow-"))
    costs = {}
    for label, module in MODULES.items():
        samples = [import_cost_ms(module, env) for _ in range(args.runs)]
        costs[label] = {"module": module, "median_ms": median(samples), "samples_ms": samples}
        print(f"{label:24} {costs[label]['median_ms']:7.1f} ms  ({module})")
    heavy = heavy_after_import(env)
    for label, modules in heavy.items():
        print(f"{label:24} loads at parse time: {', '.join(modules) or 'none of ' + ', '.join(HEAVY)}")
    print(f"wrote {save('parse_cost', {'runs': args.runs, 'import_ms': costs, 'heavy_at_parse': heavy})}")


if __name__ == "__main__":
    main()
