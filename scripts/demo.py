"""`make demo`: the self-healing daily DAG against the local emulator. No account, no network.

Starts the emulator on a free port, points `ozonetel_default` at it (an env var) and runs
`airflow dags test ozonetel_daily_cdr` twice in an embedded SQLite Airflow home inside the repo
(`.demo/`, git-ignored):

1. a first run fills the folder with every day the vendor still holds;
2. an outage is simulated: some days' files are deleted, one is cut short, one loses its manifest;
3. one more run brings them all back; each day is then checked against the emulator's own calls.

The emulator's minute lasts 0.5 s, so the vendor's 2 requests a minute cost seconds here; the DAG
gets the matching pacing window through its `hook_params` param.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys

import requests

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.emulator.data import Dataset
from airflow_provider_ozonetel.emulator.process import emulator_process

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
HOME = DEMO / "airflow"
OUTPUT = DEMO / "output"
USER, API_KEY = "demo_user", "demo_key"
SEED, CALLS_PER_DAY = 7, 2000
MINUTE_SECONDS = 0.5
# The hook's clock follows the emulator's shortened minute. It paces by a window 20% longer than
# that minute: the 2% margin it adds to the vendor's real 60 s minute (1.2 s) is more than a local
# run's jitter, but 2% of 0.5 s is not. A token is reused for 55 (emulator) minutes, as for real.
HOOK_PARAMS = {"rate_window_seconds": MINUTE_SECONDS * 1.2, "token_ttl_seconds": MINUTE_SECONDS * 55}


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


def file_of(day: dt.date) -> pathlib.Path:
    return OUTPUT / f"ozonetel_cdr_{day.isoformat()}.jsonl"


def manifest_of(day: dt.date) -> pathlib.Path:
    return OUTPUT / f"ozonetel_cdr_{day.isoformat()}.jsonl.manifest.json"


def cdr_requests(base_url: str) -> tuple[int, int]:
    """Fetch CDR Details requests the emulator answered so far, and its rate-limit answers."""
    state = requests.get(base_url + "/_emulator/state", timeout=10).json()
    return state["requests"]["cdr"], state["rate_limited"]["cdr"]


def run_dag(env: dict[str, str], log_path: pathlib.Path) -> bool:
    conf = {"destination": f"file://{OUTPUT}/", "hook_params": HOOK_PARAMS}
    with log_path.open("w") as log:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", "ozonetel_daily_cdr", "-c", json.dumps(conf)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        print(log_path.read_text()[-4000:])
        print(f"The DAG run failed; the full log is {log_path}")
    return result.returncode == 0


def outage(days: list[dt.date]) -> dict[dt.date, str]:
    """Damage the folder as an outage would; what happened to which day."""
    harm = {days[0]: "deleted", days[1]: "deleted", days[5]: "deleted", days[9]: "deleted"}
    for day in harm:
        file_of(day).unlink()
        manifest_of(day).unlink()
    cut = file_of(days[7])
    cut.write_bytes(cut.read_bytes()[:-500])
    harm[days[7]] = "cut short"
    manifest_of(days[8]).unlink()
    harm[days[8]] = "manifest lost"
    return harm


def check_day(day: dt.date, truth: Dataset) -> tuple[int, int]:
    """The day's file holds exactly the emulator's calls and matches its manifest; rows and calls."""
    data = file_of(day).read_bytes()
    manifest = json.loads(manifest_of(day).read_text())
    if (manifest["bytes"], manifest["sha256"]) != (len(data), hashlib.sha256(data).hexdigest()):
        raise SystemExit(f"{day}: the file does not match its manifest")
    ucids = [json.loads(line)["ucid"] for line in data.splitlines()]
    if ucids != [str(u) for u in truth.ucids(day)]:
        raise SystemExit(f"{day}: the file differs from the emulator's calls")
    return manifest["rows"], manifest["calls"]


def main() -> int:
    shutil.rmtree(OUTPUT, ignore_errors=True)
    HOME.mkdir(parents=True, exist_ok=True)
    OUTPUT.mkdir(parents=True)
    emulator = emulator_process(
        "--user",
        USER,
        "--api-key",
        API_KEY,
        "--calls-per-day",
        str(CALLS_PER_DAY),
        "--seed",
        str(SEED),
        "--minute-seconds",
        str(MINUTE_SECONDS),
        log_path=DEMO / "emulator.log",
    )
    with emulator as base_url:
        print(f"Emulator running at {base_url} (user {USER}; one emulator minute = {MINUTE_SECONDS} s)")
        env = airflow_env(base_url)
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
        )
        days = calendar.retained_days()
        print(f"The vendor holds {days[0]} to {days[-1]} ({len(days)} complete IST days).")

        print("Run 1 (`airflow dags test ozonetel_daily_cdr`): an empty folder ...", flush=True)
        if not run_dag(env, DEMO / "run-1.log"):
            return 1
        first, _ = cdr_requests(base_url)
        present = sum(manifest_of(day).exists() for day in days)
        print(f"  {present} days pulled into {OUTPUT}/ with {first} requests")

        harm = outage(days)
        print("Outage: " + "; ".join(f"{day} {what}" for day, what in harm.items()))

        print("Run 2: the same DAG, once ...", flush=True)
        if not run_dag(env, DEMO / "run-2.log"):
            return 1
        total, rate_limited = cdr_requests(base_url)
        truth = Dataset(SEED, CALLS_PER_DAY, account=USER)
        print(f"  {'day':<12}{'rows':>6}{'calls':>7}  after run 2")
        for day in days:
            rows, calls = check_day(day, truth)
            if day in harm:
                status = f"brought back ({harm[day]} in the outage)"
            elif day in days[-2:]:
                status = "pulled again (late updates), unchanged: kept byte for byte"
            else:
                status = "present, proven by its manifest: not requested"
            print(f"  {day.isoformat():<12}{rows:>6}{calls:>7}  {status}")
        print(
            f"One run brought back all {len(harm)} damaged days ({total - first} requests, paced at 2 a "
            f"minute, {rate_limited} rate-limit answers). Every day of the window is in {OUTPUT}/, equal "
            "to the emulator's calls and to its manifest."
        )
        print(f"  Airflow logs of the runs: {DEMO / 'run-1.log'}, {DEMO / 'run-2.log'}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
