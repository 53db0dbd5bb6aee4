"""Benchmark 5: a catch-up refresh of a busy day (late updates): peak memory and wall time.

The catch-up operator pulls its most recent days again and compares each new pull with the
stored file row by row (by UCID) before replacing it. For emulator days of 50k and 500k calls:

- setup: the day is pulled into a folder, then one row is dropped from the file and its manifest
  rewritten to match, as if an earlier pull had seen one call fewer (so the refresh really
  compares and replaces, instead of taking the fast path of an identical sha256);
- provider: ``OzonetelCDRCatchUpOperator(days=1, refresh_days=1)``: pull, compare, replace;
- baseline: what a merge-by-key client does: the new answer with ``.json()``, the stored file
  and the new rows each in a dict keyed by UCID, then compared.

Each run in a fresh process; peak RSS is the process's own high-water mark, imports included.
CPU is the process's user+system time over the measured part: on a busy machine wall time
says more about the neighbours than about the code.

    python bench/refresh.py                       # 50k and 500k calls, 3 runs each
    python bench/refresh.py --sizes 50000 --runs 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import resource
import shutil
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import API_KEY, USER, add_medians, connect, day_emulator, median, peak_rss_mb, run_child, save

VARIANTS = ("provider", "baseline")
MINUTE = 0.1  # emulator minute, so back-to-back runs never meet the 2/min limit


def catch_up(folder: pathlib.Path):
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.lineage import get_hook_lineage_collector

    import airflow_provider_ozonetel.hooks.ozonetel
    import airflow_provider_ozonetel.records
    import airflow_provider_ozonetel.rowdiff
    import airflow_provider_ozonetel.sink  # noqa: F401  (imported before the clock, like the baseline's)
    from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRCatchUpOperator

    ObjectStoragePath(f"file://{folder}").exists()
    get_hook_lineage_collector()
    return OzonetelCDRCatchUpOperator(
        task_id="bench",
        destination=f"file://{folder}/",
        days=1,
        refresh_days=1,
        hook_params={"rate_window_seconds": MINUTE},
    )


def run_seed(url: str, folder: pathlib.Path) -> dict:
    """Pull the day, then make the stored file one row short (its manifest rewritten to match)."""
    connect(url)
    catch_up(folder).execute(context={})
    (manifest_path,) = folder.glob("*.manifest.json")
    data_path = folder / manifest_path.name.removesuffix(".manifest.json")
    lines = data_path.read_bytes().splitlines(keepends=True)
    shorter = b"".join(lines[:-1])
    data_path.write_bytes(shorter)
    manifest = json.loads(manifest_path.read_text())
    manifest.update(rows=len(lines) - 1, bytes=len(shorter), sha256=hashlib.sha256(shorter).hexdigest())
    manifest_path.write_text(json.dumps(manifest))
    return {"rows": len(lines), "mb": len(b"".join(lines)) / 1e6, "day": manifest["cdr_date"]}


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_provider(url: str, folder: pathlib.Path) -> tuple[dict, float, float]:
    connect(url)
    operator = catch_up(folder)
    start, cpu = time.perf_counter(), cpu_s()
    operator.execute(context={})
    wall, cpu = time.perf_counter() - start, cpu_s() - cpu
    (manifest_path,) = folder.glob("*.manifest.json")
    return json.loads(manifest_path.read_text())["changes"], wall, cpu


def run_baseline(url: str, folder: pathlib.Path) -> tuple[dict, float, float]:
    import requests

    (manifest_path,) = folder.glob("*.manifest.json")
    day = json.loads(manifest_path.read_text())["cdr_date"]
    data_path = folder / manifest_path.name.removesuffix(".manifest.json")
    start, cpu = time.perf_counter(), cpu_s()
    answer = requests.get(
        url + "/ca_reports/fetchCDRDetails",
        json={"fromDate": f"{day} 00:00:00", "toDate": f"{day} 23:59:59", "userName": USER},
        headers={"apiKey": API_KEY},
        timeout=600,
    )
    new = {str(r["UCID"]): json.dumps(r) for r in answer.json()["details"]}
    old = {}
    with data_path.open() as handle:
        for line in handle:
            old[json.loads(line)["ucid"]] = line
    # The comparison itself (typed rows vs raw records differ in content; only keys matter here).
    changes = {
        "added": sum(1 for k in new if k not in old),
        "changed": 0,
        "removed": sum(1 for k in old if k not in new),
    }
    return changes, time.perf_counter() - start, cpu_s() - cpu


def child(variant: str, url: str, folder: str) -> None:
    runner = {"seed": run_seed, "provider": run_provider, "baseline": run_baseline}[variant]
    if variant == "seed":
        print(json.dumps(runner(url, pathlib.Path(folder))))
        return
    changes, wall, cpu = runner(url, pathlib.Path(folder))
    print(
        json.dumps(
            {
                "variant": variant,
                "changes": changes,
                "wall_s": wall,
                "cpu_s": cpu,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def measure(variant: str, url: str, folder: pathlib.Path) -> dict:
    return run_child(__file__, "--child", variant, "--url", url, "--folder", str(folder))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 500_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=("seed", *VARIANTS))
    parser.add_argument("--url")
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.folder)
        return

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as work:
        for size in args.sizes:
            cache = pathlib.Path(work) / f"cache-{size}"
            seeded = pathlib.Path(work) / f"seeded-{size}"
            with day_emulator(size, MINUTE, cache) as url:
                seed = measure("seed", url, seeded)
                runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
                for _ in range(args.runs):
                    for variant in VARIANTS:
                        folder = pathlib.Path(work) / variant
                        shutil.rmtree(folder, ignore_errors=True)
                        shutil.copytree(seeded, folder)
                        runs[variant].append(measure(variant, url, folder))
                row = {"calls": size, "rows": seed["rows"], "file_mb": seed["mb"], "day": seed["day"]}
                add_medians(row, runs)
                for variant in VARIANTS:
                    row[f"{variant}_cpu_s"] = median([r["cpu_s"] for r in runs[variant]])
                row["provider_changes"] = runs["provider"][0]["changes"]
                row["load_average"] = os.getloadavg()[1]  # 5 minutes: how busy the machine was
                results.append(row)
                print(
                    f"{size:>7} calls, {row['rows']} rows, {row['file_mb']:.0f} MB file, changes "
                    f"{row['provider_changes']}: "
                    + ", ".join(
                        f"{v} {row[f'{v}_wall_s']:.2f} s ({row[f'{v}_cpu_s']:.2f} s CPU) / "
                        f"{row[f'{v}_rss_mb']:.0f} MB"
                        for v in VARIANTS
                    ),
                    flush=True,
                )
    path = save("refresh", {"runs": args.runs, "sizes": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
