"""Benchmark 1c: the day pull's speed targets (issue 15), provider vs. hand-written baseline in one run.

Two parts, every run in a fresh process, variants interleaved run by run (so a busy machine weighs
on all of them alike; the ratios are what count), wall and CPU seconds both recorded:

- **loopback**: days of 50k, 200k and 500k calls served from the emulator's disk cache at
  loopback speed (~1.5 GB/s: the download is nearly free, so this measures the processing).
  Provider: ``OzonetelCDRDetailsOperator`` writing typed rows as jsonl, then as csv, each in one
  process (the default) and with ``typing_process=True`` (``_tp``: the rows typed in a forked
  child; CPU is both processes', the child's peak RSS is recorded beside the pull's). Baselines:
  what a user writes today: ``requests`` + ``.json()`` on the whole body, then a ``json.dumps``
  loop (jsonl) or ``csv.DictWriter`` (csv). Targets: provider wall time at most 0.4x its
  baseline's; at least 150 MB of body a second end to end; peak RSS under 150 MB at 500k calls.
  Beside them, ``untyped``: the same answer streamed, decoded by ``msgspec`` and written back with
  ``encode_lines``, no typing and no checks: the floor for a Python pipeline, against which the
  provider's typing and checks are measured.
- **link**: the same answer through the emulator's ``--bandwidth-mbps`` (100 Mbit/s and 1 Gbit/s):
  floor (the answer downloaded and discarded), provider (jsonl, one process and typing process) and
  baseline (jsonl). Target: the
  provider within 1.05x of the floor (parsing overlaps the download); the baseline pays both.

    python bench/day_pull_speed.py                       # everything, 3 runs each
    python bench/day_pull_speed.py --runs-large 1        # one run of the 200k and 500k days
    python bench/day_pull_speed.py --sizes 50000 --runs 1 --link-sizes 50000 --no-save
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import API_KEY, add_medians, children_cpu_s, emulator, median, peak_rss_mb, run_child, save
from day_pull import (
    MINUTE,
    body_for,
    first_request_imports,
    run_baseline,
    run_floor,
    run_provider,
    stopwatch,
    streamed_answer,
)

LOOPBACK = (
    "provider_jsonl",
    "provider_jsonl_tp",
    "baseline_jsonl",
    "provider_csv",
    "provider_csv_tp",
    "baseline_csv",
    "untyped",
    "floor",
)
LINK = ("floor", "provider_jsonl", "provider_jsonl_tp", "baseline_jsonl")
#: Variants whose rows are typed in a second process (``typing_process=True``): their CPU time and
#: peak RSS are the pull's process's and its child's (``RUSAGE_CHILDREN``, once it has ended).
TYPING_PROCESS = ("provider_jsonl_tp", "provider_csv_tp")
BANDWIDTHS = (100, 1000)  # Mbit/s


def run_baseline_csv(url: str, day: str, out: pathlib.Path):
    """The csv script users write: the whole answer with ``.json()``, then ``csv.DictWriter``."""
    import csv

    import requests

    first_request_imports()
    elapsed = stopwatch()
    answer = requests.get(
        url + "/ca_reports/fetchCDRDetails", json=body_for(day), headers={"apiKey": API_KEY}, timeout=600
    )
    records = answer.json()["details"]
    columns = list(dict.fromkeys(key for record in records for key in record))
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)
    return len(records), elapsed()


def run_untyped(url: str, day: str, out: pathlib.Path):
    """A floor for a Python pipeline, not a product: the answer turned into jsonl rows with no
    typing at all. It is streamed like the provider's: each ~1 MB read is cut at the last record
    boundary, decoded by ``msgspec`` into structs whose field types come from the first record
    (exact ints), and written back with ``encode_lines``. No null rule, durations, times, UTC twins,
    ids as text, repeated-leg check, CallID count or key search: the provider's time beyond this is
    what those cost. (The cut looks for ``},{``, which the emulator's flat records only have between
    records.)"""
    import msgspec

    first_request_imports()

    elapsed = stopwatch()
    encoder, decoder, rest, count = msgspec.json.Encoder(), None, b"", 0
    with streamed_answer(url, day) as answer, out.open("wb") as handle:
        for chunk in answer.iter_content(1 << 20):
            rest += chunk
            if decoder is None:  # the first record's fields and types
                rest = rest[rest.index(b"[") + 1 :]
                first = msgspec.json.decode(rest[: rest.index(b"}") + 1])
                record = msgspec.defstruct("Record", [(k, type(v)) for k, v in first.items()])
                decoder = msgspec.json.Decoder(list[record])
            cut = rest.rfind(b"},{")
            if cut >= 0:
                records = decoder.decode(b"[" + rest[: cut + 1] + b"]")
                handle.write(encoder.encode_lines(records))
                count, rest = count + len(records), rest[cut + 2 :]
        records = decoder.decode(b"[" + rest[: rest.rindex(b"]")] + b"]")
        handle.write(encoder.encode_lines(records))
    return count + len(records), elapsed()


RUNNERS = {
    "provider_jsonl": lambda url, day, out: run_provider(url, day, out, file_format="jsonl"),
    "provider_csv": lambda url, day, out: run_provider(url, day, out, file_format="csv"),
    "provider_jsonl_tp": lambda url, day, out: run_provider(url, day, out, "jsonl", typing_process=True),
    "provider_csv_tp": lambda url, day, out: run_provider(url, day, out, "csv", typing_process=True),
    "baseline_jsonl": run_baseline,
    "baseline_csv": run_baseline_csv,
    "untyped": run_untyped,
    "floor": run_floor,
}


def child(spec: str) -> None:
    """One measured run in this (fresh) process: ``spec`` is JSON, its variant, url, day and out."""
    import resource

    job = json.loads(spec)
    before = children_cpu_s()
    count, (wall, cpu) = RUNNERS[job["variant"]](job["url"], job["day"], pathlib.Path(job["out"]))
    measured = {"count": count, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak_rss_mb()}
    if job["variant"] in TYPING_PROCESS:  # the child is reaped by the end of the pull
        child_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        measured.update(cpu_s=cpu + children_cpu_s() - before, parent_cpu_s=cpu, child_rss_mb=child_rss_mb)
    print(json.dumps({**job, **measured, "load": os.getloadavg()[0]}))


def run(variant: str, url: str, day: str, out: pathlib.Path) -> dict:
    job = {"variant": variant, "url": url, "day": day, "out": str(out)}
    return run_child(__file__, "--child", json.dumps(job))


def measure(variants: tuple[str, ...], url: str, day: str, work: pathlib.Path, runs: int) -> dict:
    """Each variant ``runs`` times, interleaved; medians of wall, CPU and peak RSS."""
    measured: dict[str, list[dict]] = {v: [] for v in variants}
    for _ in range(runs):
        for variant in variants:
            out = work / f"{variant}.out"
            measured[variant].append(run(variant, url, day, out))
            out.unlink(missing_ok=True)
    row = add_medians({}, measured)
    for variant, results in measured.items():
        row[f"{variant}_cpu_s"] = median([r["cpu_s"] for r in results])
    row["load"] = median([r["load"] for results in measured.values() for r in results])
    return row


def serve(size: int, cache: pathlib.Path, bandwidth: float | None = None):
    args = ["--calls-per-day", str(size), "--minute-seconds", str(MINUTE), "--auth-mode", "api_key"]
    args += ["--cache-dir", str(cache), "--log-level", "warning"]
    return emulator(*args, *(["--bandwidth-mbps", str(bandwidth)] if bandwidth else []))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[50_000, 200_000, 500_000])
    parser.add_argument("--link-sizes", type=int, nargs="*", default=[50_000])
    parser.add_argument("--bandwidths", type=float, nargs="*", default=list(BANDWIDTHS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--runs-large", type=int, help="runs for days over 100k calls (default: --runs; a loaded machine)"
    )
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    import pendulum

    day = (pendulum.now("Asia/Kolkata").date() - dt.timedelta(days=2)).isoformat()  # a complete day
    loopback, link = [], []
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        work = pathlib.Path(tmp)
        for size in sorted(set(args.sizes) | set(args.link_sizes)):
            cache = work / f"cache-{size}"
            with serve(size, cache) as url:
                warm = run("floor", url, day, work / "warm")
                body_mb = warm["count"] / 1e6  # generated once, then served from the cache
                if size in args.sizes:
                    runs = args.runs if size <= 100_000 or args.runs_large is None else args.runs_large
                    row = {"calls": size, "body_mb": body_mb, "runs": runs}
                    row.update(measure(LOOPBACK, url, day, work, runs))
                    row["rows"] = row["provider_jsonl_runs"][0]["count"]
                    loopback.append(row)
                    print(f"loopback {size:>7} calls, {body_mb:.0f} MB: {summary(row, LOOPBACK)}", flush=True)
            if size not in args.link_sizes:
                continue
            for mbps in args.bandwidths:
                with serve(size, cache, mbps) as url:
                    row = {"calls": size, "body_mb": body_mb, "mbps": mbps, "runs": args.runs}
                    row.update(measure(LINK, url, day, work, args.runs))
                    link.append(row)
                    print(f"link {mbps:g} Mbit/s {size:>7} calls: {summary(row, LINK)}", flush=True)
    if args.no_save:
        return
    path = save("day_pull_speed", {"day": day, "runs": args.runs, "loopback": loopback, "link": link})
    print(f"wrote {path}")


def summary(row: dict, variants: tuple[str, ...]) -> str:
    return (
        ", ".join(
            f"{v} {row[f'{v}_wall_s']:.2f} s (CPU {row[f'{v}_cpu_s']:.2f} s) / {row[f'{v}_rss_mb']:.0f} MB"
            for v in variants
        )
        + f"; load {row['load']:.1f}"
    )


if __name__ == "__main__":
    main()
