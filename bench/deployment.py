"""Benchmark 5: one account, many tasks, many workers: 14 day pulls + 200 CallBacks lookups at once.

A real Airflow deployment (``airflow standalone``: scheduler with the LocalExecutor and 8 worker
processes, triggerer, API server, DAG processor; SQLite; each task in a temp dir of its own; no
pool) runs ``tests/dags/ozonetel_deployment_dags.py`` against the emulator: 14 mapped day pulls
(``deferrable=True``) and 8 mapped lookups of 25 UCIDs. The emulator's minute is shortened to
``--minute-seconds`` (15 s) and every time setting of the hook is scaled with it (not the deferral's,
which is about the scheduler's latency).

Reported: tasks succeeded, rate-limit answers, tokens minted, the span of the day pulls' requests
against the ideal the 2-a-minute limit allows (14 requests: the first two at once, then two per
minute, so 6 minutes from the first to the last), and the worker slots held while waiting.

    python bench/deployment.py [--minute-seconds 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from _common import save  # noqa: E402

DAG_ID = "ozonetel_test_deployment"
USER, API_KEY = "bench_user", "bench-key-0001"
DAYS, BATCHES, PER_BATCH = 14, 8, 25


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minute-seconds", type=float, default=15.0)
    args = parser.parse_args()
    minute = args.minute_seconds
    scale = minute / 60

    from airflow_provider_ozonetel import calendar
    from airflow_provider_ozonetel.emulator import run_emulator
    from tests.integration.deployment import Deployment

    days = [calendar.today_ist() - dt.timedelta(days=n) for n in range(1, DAYS + 1)]
    out = pathlib.Path(tempfile.mkdtemp(prefix="bench-deployment-"))
    with run_emulator(user=USER, api_key=API_KEY, calls_per_day=2000, minute_seconds=minute, seed=9) as emu:
        batches = [
            [str(u) for u in list(emu.dataset.ucids(days[1 + n % (DAYS - 1)]))[:PER_BATCH]]
            for n in range(BATCHES)
        ]
        env = {
            "AIRFLOW_CONN_OZONETEL_DEFAULT": json.dumps(
                {"conn_type": "ozonetel", "host": emu.base_url, "login": USER, "password": API_KEY}
            ),
            "OZONETEL_DEPLOY_DAYS": ",".join(d.isoformat() for d in days),
            "OZONETEL_DEPLOY_UCIDS": json.dumps(batches),
            "OZONETEL_DEPLOY_OUT": str(out),
            # The defaults, scaled to the emulator's minute (the 2% margin too: 0.3 s of a 15 s
            # minute would be below this loaded 2-core machine's jitter, so it stays 1.2 s).
            "OZONETEL_DEPLOY_HOOK": json.dumps(
                {
                    "rate_window_seconds": minute + 1.2 - 0.02 * minute,
                    "token_ttl_seconds": 55 * minute,
                    "settle_seconds": max(0.25, 1.0 * scale),
                }
            ),
            # Not scaled: how long a deferred task takes to run again is the scheduler's and the
            # executor's latency (seconds on any machine), not the vendor's minute. A lead scaled
            # to 7.5 s made resumed pulls late, and a late pull gives its start back and waits a
            # window more. Waits beyond 40 s defer (the last pulls), resuming 15 s ahead.
            "OZONETEL_DEPLOY_DEFER": json.dumps(
                {"deferrable": True, "defer_threshold": 40.0, "resume_lead": 15.0}
            ),
        }
        started = time.monotonic()
        with Deployment(env, parallelism=8) as airflow:
            ready = time.monotonic()
            run_id = airflow.trigger(DAG_ID, {})
            state = airflow.wait(DAG_ID, run_id, timeout=1800)
            finished = time.monotonic()
            tis = airflow.task_instances(DAG_ID, run_id)
            xcoms = airflow.xcoms(DAG_ID, run_id)
            logs = airflow.logs_text()
            pids = {pid for (pid,) in airflow.query("SELECT pid FROM task_instance WHERE run_id = ?", run_id)}
        answered = emu.state
        exact = all(
            sum(1 for _ in (out / "cdr" / f"ozonetel_cdr_{d.isoformat()}.jsonl").open())
            == emu.dataset.count_day(d)
            for d in days
        )
    airflow.remove()

    cdr_starts = [e["t"] for e in answered.log if e["endpoint"] == "cdr"]
    span = max(cdr_starts) - min(cdr_starts)
    ideal = (DAYS // 2 - 1) * minute
    waits = [x.get("rate_wait_seconds", 0.0) for x in xcoms.values() if isinstance(x, dict)]
    results = {
        "minute_seconds": minute,
        "run_state": state,
        "tasks": len(tis),
        "tasks_succeeded": sum(1 for t in tis if t["state"] == "success"),
        "worker_processes": len({p for p in pids if p}),
        "files_exact": exact,
        "tokens_minted": answered.mints,
        "rate_limit_answers": answered.rate_limited,
        "requests": answered.requests,
        "cdr_request_span_s": round(span, 1),
        "cdr_ideal_span_s": ideal,
        "span_over_ideal": round(span / ideal, 3),
        # when each day pull's request went out, from the first: where a span beyond the ideal goes
        "cdr_request_times_s": [round(t - min(cdr_starts), 1) for t in sorted(cdr_starts)],
        "resumed_late": logs.count("after the reserved start; taking new starts"),
        "deferred_tasks": logs.count("holding no worker slot"),
        "worker_wait_task_seconds": round(sum(waits), 1),
        "worker_wait_max_s": round(max(waits, default=0.0), 1),
        "run_wall_s": round(finished - ready, 1),
        "startup_s": round(ready - started, 1),
        # other work on the machine stretches the scheduler's latency: say how busy it was
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(results, indent=2))
    print(f"wrote {save('deployment', results)}")


if __name__ == "__main__":
    main()
