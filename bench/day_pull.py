"""Benchmark 1: a day pull's wall time and peak memory, provider vs. hand-written baseline vs. floor.

For emulator days of 50k, 200k and 500k calls (about 1.14 rows a call), each run in a fresh
process, median of several runs:

- provider: OzonetelCDRDetailsOperator (typed rows, jsonl) to a local file;
- parquet: the same operator with ``file_format="parquet"`` (row groups, zstd; needs pyarrow);
- baseline: what a user writes today: ``requests`` with ``.json()`` on the whole body, then a
  loop writing each record with ``json.dumps``;
- floor: the bytes of the same answer read and discarded (download only).

Wall time covers the pull (request to file closed): every variant imports what it uses before its
clock starts (the provider's execute-time imports, ~0.5 s, are paid once per task, not per row).
Peak RSS is the process's own high-water mark (``getrusage``), imports included (importing
``airflow.sdk`` alone is ~110 MB).

    python bench/day_pull.py                      # all sizes, 3 runs each
    python bench/day_pull.py --sizes 50000 --runs 1
    python bench/day_pull.py --variants parquet   # a subset: printed, not saved
    python bench/day_pull.py --variants parquet --merge
        # Parquet measured now and merged into the saved results (same sizes), the other
        # variants' figures kept as they were; RESULTS.md (section 1b) says when
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import API_KEY, USER, add_medians, connect, day_emulator, peak_rss_mb, run_child, save

VARIANTS = ("provider", "parquet", "baseline", "floor")
MINUTE = 0.1  # emulator minute, so back-to-back runs never meet the 2/min limit
#: What a day pull imports on first use, once per task: the provider's execute-time modules, and
#: Airflow's for the connection lookup (a task's process has them before it runs). The list is
#: what sys.modules gained inside the clock without it: ~0.1 s here, where no bytecode is cached.
PULL_IMPORTS = (
    "airflow.sdk.definitions.connection",
    "airflow.sdk.execution_time.cache",
    "airflow.sdk.execution_time.supervisor",
    "airflow_provider_ozonetel.columns",
    "airflow_provider_ozonetel.dedup",
    "airflow_provider_ozonetel.lineage",
    "airflow_provider_ozonetel.manifest",
    "airflow_provider_ozonetel.progress",
    "airflow_provider_ozonetel.rowdiff",
    "airflow_provider_ozonetel.shapes",
    "airflow_provider_ozonetel.typing_process",
)
#: The provider's peak RSS once everything is imported, just before its clock starts.
READY_RSS_MB: list[float] = []


def stopwatch():
    """A function giving the wall and CPU seconds since this call (CPU: this process's own, which a
    busy machine disturbs less than wall time)."""
    wall, cpu = time.perf_counter(), time.process_time()
    return lambda: (time.perf_counter() - wall, time.process_time() - cpu)


def body_for(day: str) -> dict:
    return {"fromDate": f"{day} 00:00:00", "toDate": f"{day} 23:59:59", "userName": USER}


def run_provider(
    url: str, day: str, out: pathlib.Path, file_format: str = "jsonl", typing_process: bool = False
) -> int:
    connect(url, "ozonetel_bench")
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.lineage import get_hook_lineage_collector

    import airflow_provider_ozonetel.hooks.ozonetel
    import airflow_provider_ozonetel.records
    import airflow_provider_ozonetel.sink

    for name in PULL_IMPORTS:
        importlib.import_module(name)
    first_request_imports()

    if file_format == "parquet":
        import airflow_provider_ozonetel.parquet  # noqa: F401  (pyarrow: its import is in the peak RSS)
    from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRDetailsOperator

    ObjectStoragePath(f"file://{out.parent}").exists()  # loads the local filesystem back end
    # Airflow's lineage collector starts on the first write through ObjectStoragePath (~0.3 s,
    # once per process, whatever the day's size): start it before the clock too.
    get_hook_lineage_collector()

    operator = OzonetelCDRDetailsOperator(
        task_id="bench",
        ozonetel_conn_id="ozonetel_bench",
        cdr_date=day,
        destination=f"file://{out}",
        file_format=file_format,
        typing_process=typing_process,
        hook_params={"rate_window_seconds": MINUTE},
    )
    READY_RSS_MB.append(peak_rss_mb())  # imports done: what the pull itself adds is the rest
    elapsed = stopwatch()
    result = operator.execute(context={})
    return result["rows"], elapsed()


def run_parquet(url: str, day: str, out: pathlib.Path):
    return run_provider(url, day, out, file_format="parquet")


def first_request_imports() -> None:
    """``requests``, and what it and ``datetime`` import on their first use (``netrc`` when a
    request is prepared, ``_strptime``): before every variant's clock, like the rest of its imports."""
    import _strptime  # noqa: F401
    import netrc  # noqa: F401

    import requests  # noqa: F401


def run_baseline(url: str, day: str, out: pathlib.Path):
    import requests

    first_request_imports()

    elapsed = stopwatch()
    answer = requests.get(
        url + "/ca_reports/fetchCDRDetails", json=body_for(day), headers={"apiKey": API_KEY}, timeout=600
    )
    records = answer.json()["details"]
    with out.open("w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return len(records), elapsed()


def streamed_answer(url: str, day: str):
    """The day's answer as a streamed ``requests`` response (a context manager)."""
    import requests

    return requests.get(
        url + "/ca_reports/fetchCDRDetails",
        json=body_for(day),
        headers={"apiKey": API_KEY},
        timeout=600,
        stream=True,
    )


def run_floor(url: str, day: str, out: pathlib.Path):
    first_request_imports()
    elapsed = stopwatch()
    size = 0
    with streamed_answer(url, day) as answer:
        for chunk in answer.iter_content(1 << 20):
            size += len(chunk)
    return size, elapsed()


def child(variant: str, url: str, day: str, out: str) -> None:
    runner = {
        "provider": run_provider,
        "parquet": run_parquet,
        "baseline": run_baseline,
        "floor": run_floor,
    }[variant]
    count, (wall, cpu) = runner(url, day, pathlib.Path(out))
    measured = {
        "variant": variant,
        "count": count,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak_rss_mb(),
    }
    if READY_RSS_MB:  # the provider's variants
        measured["ready_rss_mb"] = READY_RSS_MB[0]
    print(json.dumps(measured))


def measure(variant: str, url: str, day: str, out: pathlib.Path) -> dict:
    return run_child(__file__, "--child", variant, "--url", url, "--day", day, "--out", str(out))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000, 500_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument(
        "--merge", action="store_true", help="merge the parquet variant into the saved results"
    )
    parser.add_argument("--child", choices=VARIANTS)
    parser.add_argument("--url")
    parser.add_argument("--day")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.merge and args.variants != ["parquet"]:
        parser.error("--merge goes with --variants parquet (section 1 compares the others in one run)")
    if args.child:
        child(args.child, args.url, args.day, args.out)
        return

    import pendulum

    day = (pendulum.now("Asia/Kolkata").date() - dt.timedelta(days=2)).isoformat()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-day-") as work:
        for size in args.sizes:
            cache = pathlib.Path(work) / f"cache-{size}"
            with day_emulator(size, MINUTE, cache) as url:
                measure("floor", url, day, pathlib.Path(work) / "warm")  # generates and caches the day
                variants = args.variants
                runs: dict[str, list[dict]] = {v: [] for v in variants}
                for _ in range(args.runs):
                    for variant in variants:
                        out = pathlib.Path(work) / f"{variant}.out"
                        runs[variant].append(measure(variant, url, day, out))
                        out.unlink(missing_ok=True)
                counted = next(v for v in variants if v != "floor") if variants != ["floor"] else "floor"
                row = {
                    "calls": size,
                    "rows": runs[counted][0]["count"],
                    "body_mb": runs["floor"][0]["count"] / 1e6 if "floor" in runs else 0,
                }
                add_medians(row, runs)
                results.append(row)
                print(
                    f"{size:>7} calls, {row['rows']} rows, {row['body_mb']:.0f} MB: "
                    + ", ".join(
                        f"{v} {row[f'{v}_wall_s']:.2f} s / {row[f'{v}_rss_mb']:.0f} MB" for v in variants
                    ),
                    flush=True,
                )
    if args.merge:
        path = merge(results, args.variants, day, args.runs)
        print(f"merged {', '.join(args.variants)} into {path}")
        return
    if set(args.variants) != set(VARIANTS):
        return  # RESULTS.md compares every variant: a subset is not saved (or --merge)
    from airflow_provider_ozonetel.parquet import ROW_GROUP_ROWS

    saved = {"day": day, "runs": args.runs, "parquet_row_group_rows": ROW_GROUP_ROWS, "sizes": results}
    path = save("day_pull", saved)
    print(f"wrote {path}")


def merge(results: list[dict], variants: list[str], day: str, runs: int) -> pathlib.Path:
    """Replace ``variants``' figures in the saved results, size by size; the others are kept."""
    from _common import RESULTS, measured_now

    path = RESULTS / "day_pull.json"
    saved = json.loads(path.read_text())
    by_calls = {row["calls"]: row for row in saved["sizes"]}
    missing = [row["calls"] for row in results if row["calls"] not in by_calls]
    if missing:
        raise SystemExit(f"--merge: the saved results have no size {missing}; run every variant")
    for row in results:
        target = by_calls[row["calls"]]
        for variant in variants:
            for key in (f"{variant}_wall_s", f"{variant}_rss_mb", f"{variant}_runs"):
                target[key] = row[key]
            target[f"{variant}_rows"] = row["rows"]  # another day than the saved ones
    load = [round(value, 1) for value in os.getloadavg()]  # wall times on a busy machine stretch
    stamp = {"measured_at": measured_now(), "day": day, "runs": runs, "load_average": load}
    saved.setdefault("merged", {}).update({variant: stamp for variant in variants})
    if "parquet" in variants:
        from airflow_provider_ozonetel.parquet import ROW_GROUP_ROWS

        saved["parquet_row_group_rows"] = ROW_GROUP_ROWS
    path.write_text(json.dumps(saved, indent=2) + "\n")
    return path


if __name__ == "__main__":
    main()
