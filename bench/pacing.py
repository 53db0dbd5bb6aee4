"""Benchmark 2: pacing at the documented limits, against the emulator's enforced limits.

200 CallBacks lookups (limit 50 a minute) and 8 fetchCDRDetails windows (limit 2 a minute)
through one OzonetelHook, with the emulator's minute shortened to ``--minute-seconds`` (1 s by
default) and the hook's rate window set to match. Reported per endpoint:

- achieved rate: requests after the first full window, divided by the time they took, per
  window: ``(n - limit) / (t_last - t_first) * window`` (a perfect pacer scores 100% of the
  limit; the first ``limit`` requests may go at once, which a sliding window allows);
- rate-limit answers the emulator sent (target: zero).

    python bench/pacing.py [--minute-seconds 1]
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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import API_KEY, USER, emulator, save, state


def timed_requests(count: int, send) -> list[float]:
    stamps = []
    for n in range(count):
        send(n)
        stamps.append(time.monotonic())
    return stamps


def achieved(stamps: list[float], limit: int, window: float) -> float:
    return (len(stamps) - limit) / (stamps[-1] - stamps[0]) * window


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minute-seconds", type=float, default=1.0)
    args = parser.parse_args()
    window = args.minute_seconds
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))

    import pendulum

    from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook

    day = pendulum.now("Asia/Kolkata").date() - dt.timedelta(days=2)
    with emulator(
        "--calls-per-day", "1000", "--minute-seconds", str(window), "--log-level", "warning"
    ) as url:
        os.environ["AIRFLOW_CONN_OZONETEL_BENCH"] = json.dumps(
            {"conn_type": "ozonetel", "host": url, "login": USER, "password": API_KEY}
        )
        hook = OzonetelHook("ozonetel_bench", rate_window_seconds=window)
        callbacks = timed_requests(200, lambda n: hook.get_call_details(str(n + 1), report_type="historical"))
        hours = [(f"{h:02d}:00:00", f"{h + 2:02d}:59:59") for h in range(0, 24, 3)]
        cdr = timed_requests(
            len(hours), lambda n: hook.get_cdr_details(day, from_time=hours[n][0], to_time=hours[n][1])
        )
        answered = state(url)
    results = {
        "minute_seconds": window,
        "callbacks": {
            "requests": 200,
            "limit_per_window": 50,
            "achieved_per_window": achieved(callbacks, 50, window),
            "rate_limit_answers": answered["rate_limited"]["callbacks"],
        },
        "fetchCDRDetails": {
            "requests": len(hours),
            "limit_per_window": 2,
            "achieved_per_window": achieved(cdr, 2, window),
            "rate_limit_answers": answered["rate_limited"]["cdr"],
        },
        "hook_requests": dict(hook.requests_sent),
    }
    for name in ("callbacks", "fetchCDRDetails"):
        r = results[name]
        share = r["achieved_per_window"] / r["limit_per_window"]
        print(
            f"{name}: {r['achieved_per_window']:.2f} per window of {r['limit_per_window']} "
            f"({share:.0%}), {r['rate_limit_answers']} rate-limit answers"
        )
    print(f"wrote {save('pacing', results)}")


if __name__ == "__main__":
    main()
