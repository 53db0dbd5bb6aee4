"""`make bench`: run every benchmark (each a script you can run alone), then write bench/RESULTS.md.

python bench/run_all.py                 # run all, then report
python bench/run_all.py --report-only   # rewrite RESULTS.md from bench/results/*.json
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results"
SCRIPTS = (
    "day_pull.py",
    "day_pull_speed.py",
    "ceilings.py",
    "pacing.py",
    "parse_cost.py",
    "tokens.py",
    "refresh.py",
    "deployment.py",
    "fuzz.py",
)


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def day_pull_section(data: dict) -> list[str]:
    lines = [
        "## 1. Day pull: wall time and peak memory",
        "",
        f"Day {data['day']}, median of {data['runs']} runs, each in a fresh process. Provider: "
        "`OzonetelCDRDetailsOperator` (typed rows, jsonl) to a local file. Baseline: `requests` + `.json()` "
        "on the whole body + a `json.dumps` loop. Floor: the same answer downloaded and discarded. Wall "
        "time: request to file closed, imports excluded for every variant. Peak RSS: the process's own "
        "high-water mark, imports included (`import airflow.sdk` alone is ~110 MB).",
        "",
        "| calls | rows | body | provider | baseline | floor | provider / baseline | provider / floor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in data["sizes"]:
        lines.append(
            f"| {row['calls']:,} | {row['rows']:,} | {row['body_mb']:.0f} MB "
            f"| {row['provider_wall_s']:.2f} s, {row['provider_rss_mb']:.0f} MB "
            f"| {row['baseline_wall_s']:.2f} s, {row['baseline_rss_mb']:.0f} MB "
            f"| {row['floor_wall_s']:.2f} s, {row['floor_rss_mb']:.0f} MB "
            f"| {row['provider_wall_s'] / row['baseline_wall_s']:.2f}x "
            f"| {row['provider_wall_s'] / row['floor_wall_s']:.0f}x |"
        )
    sizes = data["sizes"]
    largest = sizes[-1]
    rss = [r["provider_rss_mb"] for r in sizes]
    lines += [
        "",
        "Targets:",
        f"- provider peak RSS flat across day sizes ({min(rss):.0f}-{max(rss):.0f} MB) and under 150 MB at "
        f"{largest['calls']:,} calls ({largest['provider_rss_mb']:.0f} MB): "
        f"{verdict(max(rss) < 150 and max(rss) - min(rss) < 15)}; the baseline grows with the day "
        f"({sizes[0]['baseline_rss_mb']:.0f} to {largest['baseline_rss_mb']:.0f} MB).",
    ]
    for row in sizes:
        ratio = row["provider_wall_s"] / row["baseline_wall_s"]
        lines.append(
            f"- wall time at most 1.2x the baseline at {row['calls']:,} calls ({ratio:.2f}x): "
            f"{verdict(ratio <= 1.2)}"
        )
    floor_ok = all(r["provider_wall_s"] <= 3 * r["floor_wall_s"] for r in sizes)
    lines.append(f"- wall time within 3x the download floor: {verdict(floor_ok)} (see below)")
    return lines


def parquet_section(data: dict) -> list[str]:
    """The parquet variant of section 1's day pulls: its own section, its own target."""
    sizes = [row for row in data["sizes"] if "parquet_rss_mb" in row]
    if not sizes:
        return [
            "## 1b. Day pull to Parquet: peak memory",
            "",
            "Not measured yet: `day_pull.py --variants parquet --merge`.",
        ]
    stamp = data.get("merged", {}).get("parquet")
    when = (
        f"measured on {stamp['measured_at']} (day {stamp['day']}, median of {stamp['runs']} run(s), "
        f"load average {stamp.get('load_average', '?')} on {data['machine']['cores']} cores: compare wall "
        "times with care) and merged into section 1's results (`day_pull.py --variants parquet --merge`)"
        if stamp
        else f"measured with section 1 (median of {data['runs']} runs)"
    )
    lines = [
        "## 1b. Day pull to Parquet: peak memory",
        "",
        'The provider of section 1 with `file_format="parquet"` (typed Arrow schema, row groups of '
        f"{data.get('parquet_row_group_rows', 16_384):,} rows, zstd), {when}. Peak RSS as in section 1, "
        "imports included; *before the pull*: the peak once `airflow.sdk`, the provider and pyarrow are "
        "imported (pyarrow's libraries alone are ~40 MB resident), just before the clock starts; "
        "*added by the pull*: the difference.",
        "",
        "| calls | rows | wall, CPU | peak RSS | before the pull | added by the pull | jsonl (section 1) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    added = []
    for row in sizes:
        ready = _median_of(row["parquet_runs"], "ready_rss_mb")
        grown = row["parquet_rss_mb"] - ready if ready is not None else None
        if grown is not None:
            added.append(grown)
        lines.append(
            f"| {row['calls']:,} | {row.get('parquet_rows', row['rows']):,} | {row['parquet_wall_s']:.2f} s, "
            f"{_seconds(_median_of(row['parquet_runs'], 'cpu_s'))} "
            f"| {row['parquet_rss_mb']:.0f} MB | {_mb(ready)} | {_mb(grown)} "
            f"| {row['provider_wall_s']:.2f} s, {row['provider_rss_mb']:.0f} MB |"
        )
    prss = [r["parquet_rss_mb"] for r in sizes]
    largest = sizes[-1]
    before = _mb(_median_of(largest["parquet_runs"], "ready_rss_mb"))
    lines += [
        "",
        "Targets:",
        f"- peak RSS flat across day sizes ({min(prss):.0f}-{max(prss):.0f} MB, within 15 MB): "
        f"{verdict(max(prss) - min(prss) <= 15)}",
        f"- peak RSS under 200 MB at {largest['calls']:,} calls ({largest['parquet_rss_mb']:.0f} MB): "
        f"{verdict(largest['parquet_rss_mb'] < 200)}"
        + (
            f"; before the pull the process already holds {before}, "
            f'the pull adds {min(added):.0f}-{max(added):.0f} MB (see bench/NOTES.md, "Parquet memory")'
            if added
            else ""
        ),
    ]
    return lines


def _median_of(runs: list[dict], key: str) -> float | None:
    values = [run[key] for run in runs if key in run]
    return statistics.median(values) if values else None


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} MB"


def pacing_section(data: dict) -> list[str]:
    lines = [
        "## 2. Pacing at the documented limits",
        "",
        f"One hook against the emulator's enforced limits, emulator minute = {data['minute_seconds']} s "
        "(the hook's rate window set to match). Achieved rate: `(n - limit) / (t_last - t_first) * window`.",
        "",
        "| endpoint | requests | limit per window | achieved per window | share of limit "
        "| rate-limit answers |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ok = True
    for name in ("callbacks", "fetchCDRDetails"):
        r = data[name]
        share = r["achieved_per_window"] / r["limit_per_window"]
        ok = ok and share >= 0.9 and r["rate_limit_answers"] == 0
        lines.append(
            f"| {name} | {r['requests']} | {r['limit_per_window']} | {r['achieved_per_window']:.2f} "
            f"| {share:.0%} | {r['rate_limit_answers']} |"
        )
    lines += ["", f"Target (at least 90% of the limit, zero rate-limit answers): {verdict(ok)}."]
    return lines


def parse_section(data: dict) -> list[str]:
    costs = data["import_ms"]
    http = costs["HTTP provider operator"]["median_ms"]
    lines = [
        "## 3. DAG parse cost",
        "",
        f"`python -X importtime`, fresh processes, median of {data['runs']}: cumulative import time of each "
        "module after `airflow.sdk` is loaded (every DAG file loads it anyway).",
        "",
        "| module | import time | heavy modules it loads at parse time |",
        "|---|---:|---|",
    ]
    for label, cost in costs.items():
        heavy = ", ".join(data["heavy_at_parse"].get(label, [])) or "none"
        lines.append(f"| {label} (`{cost['module']}`) | {cost['median_ms']:.1f} ms | {heavy} |")
    ours = max(costs["provider operators"]["median_ms"], costs["provider sensor"]["median_ms"])
    lines += ["", f"Target (no more than the HTTP provider's {http:.1f} ms): {verdict(ours <= http)}."]
    return lines


def tokens_section(data: dict) -> list[str]:
    ok = data["tokens_minted"] == 1 and data["run_state"] == "success"
    return [
        "## 4. Tokens",
        "",
        "`airflow standalone` (LocalExecutor, parallelism 8) runs a DAG of 8 tasks, each pulling a 3-hour "
        "window with token auth, against the emulator (0.5 s answers, so the tasks overlap).",
        "",
        f"- run: {data['run_state']}; {data['tasks']} tasks; at most "
        f"{data['max_tasks_running_at_once']} running at once",
        f"- tokens minted: **{data['tokens_minted']}** (target: exactly 1): {verdict(ok)}",
        f"- fetchCDRDetails requests: {data['fetch_requests']}, of which rate-limit answers: "
        f"{data['rate_limit_answers']} (8 parallel processes share the vendor's 2/min; each waited and "
        "retried; put such tasks in an Airflow pool to pace them together)",
    ]


def refresh_section(data: dict) -> list[str]:
    lines = [
        "## 5. Catch-up refresh of a busy day (late updates)",
        "",
        f"Median of {data['runs']} runs, each in a fresh process. The stored day is one row short of the "
        "vendor's answer, so the refresh compares and replaces. Provider: `OzonetelCDRCatchUpOperator("
        "days=1, refresh_days=1)` (pull, compare by UCID, replace). Baseline: a merge-by-key client: the "
        "answer with `.json()`, the stored file and the new rows in dicts keyed by UCID.",
        "",
        "| calls | rows | file | changes found | provider (wall, CPU, peak RSS) | baseline (the same) |",
        "|---:|---:|---:|---|---:|---:|",
    ]
    for row in data["sizes"]:
        lines.append(
            f"| {row['calls']:,} | {row['rows']:,} | {row['file_mb']:.0f} MB | {row['provider_changes']} "
            + "".join(
                f"| {row[f'{v}_wall_s']:.2f} s, {row[f'{v}_cpu_s']:.2f} s, {row[f'{v}_rss_mb']:.0f} MB "
                for v in ("provider", "baseline")
            )
            + "|"
        )
    sizes = data["sizes"]
    rss = [r["provider_rss_mb"] for r in sizes]
    load = max(r.get("load_average", 0) for r in sizes)
    if load > (data["machine"].get("cores") or 1):
        lines += [
            "",
            f"The machine was busy (load average {load:.1f} on {data['machine']['cores']} cores): wall times "
            "are inflated several times, CPU times less; compare the columns with each other, not with "
            "section 1.",
        ]
    lines += [
        "",
        "Target: the provider's peak RSS flat across day sizes (within 40 MB: "
        f"{min(rss):.0f}-{max(rss):.0f} MB) and under 200 MB: "
        f"{verdict(max(rss) - min(rss) <= 40 and max(rss) < 200)}.",
    ]
    return lines


def deployment_section(data: dict) -> list[str]:
    answers = sum(data["rate_limit_answers"].values())
    correct = (
        data["tasks_succeeded"] == data["tasks"]
        and answers == 0
        and data["tokens_minted"] == 1
        and data["files_exact"]
    )
    minute = data["minute_seconds"]
    load = data.get("load_average")
    sent_at = ", ".join(f"{t:g}" for t in data.get("cdr_request_times_s", []))
    return [
        "## 6. Deployment",
        "",
        "`bench/deployment.py`: `airflow standalone` (scheduler with the LocalExecutor, "
        f"{data['worker_processes']} task processes, at most 8 at once; triggerer, API server; SQLite; "
        "each task in a temp dir of its own; no pool) runs 14 mapped day pulls (`deferrable=True`) "
        "and 8 mapped lookups "
        f"of 25 UCIDs (200 CallBacks requests) of one account against the emulator, its minute {minute:g} s "
        "(every time setting of the hook scaled with it but the pacing margin, kept at 1.2 s, and "
        "the deferral's `defer_threshold` 40 s and `resume_lead` 15 s: how soon a deferred task runs "
        "again is the scheduler's latency, which does not shrink with the emulator's minute).",
        "",
        "| measure | result | target |",
        "|---|---:|---|",
        f"| tasks succeeded | {data['tasks_succeeded']} of {data['tasks']} | all |",
        f"| files exactly the emulator's truth | {'yes' if data['files_exact'] else 'no'} | yes |",
        f"| rate-limit answers | {answers} | 0 |",
        f"| tokens minted | {data['tokens_minted']} | 1 |",
        f"| span of the 14 day-pull requests | {data['cdr_request_span_s']:.1f} s "
        f"(ideal {data['cdr_ideal_span_s']:.0f} s: {data['span_over_ideal']:.2f}x) | at most 1.15x |",
        f"| day-pull requests sent at (s from the first) | {sent_at} | |",
        f"| resumed after their start (gave it back) | {data.get('resumed_late', 0)} | |",
        f"| tasks deferred while waiting (no worker slot) | {data['deferred_tasks']} | |",
        f"| worker slot-seconds spent waiting for the limit | {data['worker_wait_task_seconds']:.1f} "
        f"(longest in one task {data['worker_wait_max_s']:.1f} s) | |",
        f"| whole run, trigger to end | {data['run_wall_s']:.0f} s | |",
        "",
        "Correctness targets (all succeeded, files exact, 0 rate-limit answers, 1 token): "
        f"{verdict(correct)}. "
        f"Speed target (at most 1.15x the ideal): {verdict(data['span_over_ideal'] <= 1.15)}"
        + (f" (machine load average during the run: {load})" if load else "")
        + ". The ideal is what 2 requests a minute allow: the first two at once, "
        "then two a minute, 6 minutes from the first to the last of 14. The hook paces by the vendor's "
        "window plus its margin (1.2 s, as for a real 60 s minute), which alone makes "
        f"{(6 * (minute + 1.2)) / (6 * minute):.2f}x at this shortened minute (1.02x at the real one).",
    ]


def fuzz_section(data: dict) -> list[str]:
    return [
        "## 7. Generated vendor answers (the property test at scale)",
        "",
        f"`bench/fuzz.py`: {data['cases']:,} generated answers through `OzonetelCDRDetailsOperator` "
        f"(requests-mock, an earlier file at the destination), in {data['seconds']:.0f} s. Bodies: random "
        "JSON, valid answers with unknown fields in any casing, integers past 2^63 and the key echoed in "
        "every spelling, broken records, odd envelopes, truncations, UTF-16, Latin-1, garbage, nesting "
        "up to 200,000 levels.",
        "",
        "| cases | raw exceptions | key occurrences | silent empty days | typed errors | files written |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {data['cases']:,} | {data['raw_exceptions']} | {data['key_occurrences']} "
        f"| {data['silent_empty_days']} | {data['typed_errors']:,} | {data['files_written']:,} |",
        "",
        "Typed errors by class: "
        + ", ".join(f"`{name}` {count:,}" for name, count in sorted(data["errors_by_class"].items()))
        + f". Every file ({data['files_checked_for_the_key']:,}) and every error text "
        f"({data['error_texts_checked_for_the_key']:,}) was searched for the key in all its spellings; "
        f"every file holds exactly its body's records; the {data['empty_days_from_empty_details']:,} "
        'empty files all came from a success with `"details": []`; every refused answer left the '
        "earlier file byte for byte as it was.",
        "",
        f"Target (0 raw exceptions, 0 key occurrences, 0 silent empty days): {verdict(data['passed'])}.",
    ]


def ratio(row: dict, a: str, b: str, measure: str) -> float:
    return row[f"{a}_{measure}"] / row[f"{b}_{measure}"]


def day_pull_speed_section(data: dict) -> list[str]:
    """Issue 15's targets: the provider against the hand-written scripts, measured in one run."""
    loads = [r["load"] for r in data["loopback"] + data["link"]]
    runs = ", ".join(f"{r['calls']:,} calls {r.get('runs', data['runs'])}" for r in data["loopback"])
    lines = [
        "## 1c. Day pull speed: provider against the hand-written scripts, and over a real link",
        "",
        f"`bench/day_pull_speed.py`, day {data['day']}, median of the runs (per day size: {runs}), each in "
        "a fresh process, the variants interleaved run by run, so a loaded machine weighs on all alike: "
        "the ratios are the figures to read. Wall and CPU seconds (the process's own) from request to "
        "file closed. "
        f"Machine load average during the runs: {min(loads):.1f}-{max(loads):.1f} on "
        f"{data['machine']['cores']} cores"
        + (
            " (other engineers' test suites): wall times are inflated, CPU times much less. "
            if max(loads) > data["machine"]["cores"]
            else " (quiet). "
        )
        + "Provider: `OzonetelCDRDetailsOperator`, typed rows. Baselines: `requests` + "
        "`.json()` on the whole body, then a `json.dumps` loop (jsonl) or `csv.DictWriter` (csv), untyped.",
        "",
        "Loopback (the emulator's disk cache, ~1.5 GB/s: the processing alone). *one process*: the "
        "default; *typing process*: `typing_process=True`, the rows typed in a child forked from the "
        "pull's process: CPU is both processes' together, peak RSS the pull's process and the child's "
        "(most of the child's pages are the parent's, shared since the fork):",
        "",
        "| calls | body | format | provider | wall, CPU, peak RSS | baseline: wall, CPU, peak RSS "
        "| provider / baseline (wall; CPU) | body per second (wall; CPU) |",
        "|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for row in data["loopback"]:
        for fmt in ("jsonl", "csv"):
            b = f"baseline_{fmt}"
            for p, how in ((f"provider_{fmt}", "one process"), (f"provider_{fmt}_tp", "typing process")):
                if f"{p}_wall_s" not in row:
                    continue
                rss = f"{row[f'{p}_rss_mb']:.0f} MB"
                if p.endswith("_tp"):
                    rss += f" + {_median_of(row[f'{p}_runs'], 'child_rss_mb'):.0f} MB"
                lines.append(
                    f"| {row['calls']:,} | {row['body_mb']:.0f} MB | {fmt} | {how} "
                    f"| {row[f'{p}_wall_s']:.2f} s, {row[f'{p}_cpu_s']:.2f} s, {rss} "
                    f"| {row[f'{b}_wall_s']:.2f} s, {row[f'{b}_cpu_s']:.2f} s, {row[f'{b}_rss_mb']:.0f} MB "
                    f"| {ratio(row, p, b, 'wall_s'):.2f}x; {ratio(row, p, b, 'cpu_s'):.2f}x "
                    f"| {row['body_mb'] / row[f'{p}_wall_s']:.0f}; "
                    f"{row['body_mb'] / row[f'{p}_cpu_s']:.0f} MB/s |"
                )
    lines += ["", "Targets:"]
    best = max(data["loopback"], key=lambda r: r["body_mb"])
    for suffix, how in (("", "one process"), ("_tp", "typing process")):
        if f"provider_jsonl{suffix}_wall_s" not in best:
            continue
        for row in data["loopback"]:
            for fmt in ("jsonl", "csv"):
                wall = ratio(row, f"provider_{fmt}{suffix}", f"baseline_{fmt}", "wall_s")
                lines.append(
                    f"- {how}, {fmt}, {row['calls']:,} calls: wall time at most 0.4x the baseline's "
                    f"({wall:.2f}x): {verdict(wall <= 0.4)}"
                )
        p = f"provider_jsonl{suffix}"
        rate = best["body_mb"] / best[f"{p}_wall_s"]
        lines.append(
            f"- {how}: at least 150 MB/s of body to typed rows on disk, end to end ({rate:.0f} MB/s wall, "
            f"{best['body_mb'] / best[f'{p}_cpu_s']:.0f} MB/s of CPU, jsonl, {best['calls']:,} calls): "
            f"{verdict(rate >= 150)}"
        )
        for fmt in ("jsonl", "csv"):
            rss = best[f"provider_{fmt}{suffix}_rss_mb"]
            lines.append(
                f"- {how}, {fmt}: peak RSS of the pull's process under 150 MB at {best['calls']:,} calls "
                f"({rss:.0f} MB): {verdict(rss < 150)}"
            )
    ceilings = [row for row in data["loopback"] if "untyped_wall_s" in row]
    if ceilings:
        lines += [
            "",
            "Floor for a Python pipeline (`untyped`): the same answer streamed, decoded by `msgspec` "
            "into structs ~1 MB at a time and written back with `encode_lines`, with no typing and "
            "none of the provider's checks. The provider's time beyond it is what typing the rows and "
            'the checks cost (bench/NOTES.md, "The batch path").',
            "",
            "| calls | body | untyped: wall, CPU, peak RSS | body per second (wall; CPU) "
            "| untyped / baseline jsonl (wall) | provider jsonl / untyped (wall) |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for row in ceilings:
            wall, cpu, rss = row["untyped_wall_s"], row["untyped_cpu_s"], row["untyped_rss_mb"]
            lines.append(
                f"| {row['calls']:,} | {row['body_mb']:.0f} MB | {wall:.2f} s, {cpu:.2f} s, {rss:.0f} MB "
                f"| {row['body_mb'] / wall:.0f}; {row['body_mb'] / cpu:.0f} MB/s "
                f"| {ratio(row, 'untyped', 'baseline_jsonl', 'wall_s'):.2f}x "
                f"| {ratio(row, 'provider_jsonl', 'untyped', 'wall_s'):.2f}x |"
            )
    if data["link"]:
        lines += [
            "",
            "Over a link (the emulator's `--bandwidth-mbps`; floor: the answer downloaded and discarded):",
            "",
            "| link | calls | body | floor (download) | provider (jsonl) | provider, typing process "
            "| baseline (jsonl) | provider / floor | provider, typing process / floor | baseline / floor |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        variants = ("provider_jsonl", "provider_jsonl_tp", "baseline_jsonl")
        for row in data["link"]:
            floor = row["floor_wall_s"]
            cells = [
                f"{row[f'{v}_wall_s']:.2f} s (CPU {row[f'{v}_cpu_s']:.2f} s)" if f"{v}_wall_s" in row else "-"
                for v in variants
            ]
            shares = [f"{row[f'{v}_wall_s'] / floor:.2f}x" if f"{v}_wall_s" in row else "-" for v in variants]
            lines.append(
                f"| {row['mbps']:g} Mbit/s | {row['calls']:,} | {row['body_mb']:.0f} MB | {floor:.2f} s "
                f"| {' | '.join(cells)} | {' | '.join(shares)} |"
            )
        lines += ["", "Target:"]
        for row in data["link"]:
            for v, how in (("provider_jsonl", "one process"), ("provider_jsonl_tp", "typing process")):
                if f"{v}_wall_s" not in row:
                    continue
                share = row[f"{v}_wall_s"] / row["floor_wall_s"]
                lines.append(
                    f"- {how}, {row['mbps']:g} Mbit/s, {row['calls']:,} calls: the provider within 1.05x of "
                    f"the download ({share:.2f}x): {verdict(share <= 1.05)}"
                )
    return lines


def ceilings_section(data: dict) -> list[str]:
    """What a Python pipeline typing the rows reaches on this machine, under issue 15's targets."""
    memory, e2e = data["memory"], data["end_to_end"]
    mb = memory["body_mb"]
    lines = [
        "## 1d. The ceilings under the speed targets",
        "",
        f"`bench/ceilings.py`, day {data['day']}, {memory['calls']:,} calls ({mb:.0f} MB), median of "
        f"{memory['runs']} runs, each variant in fresh processes, interleaved run by run.",
        "",
        "In memory: the day cut into batches of 256 records before the clock; no socket, no checks, no "
        "file. Two processes: half of the batches each, started together on this machine's "
        f"{data['machine']['cores']} cores (wall time from the first start to the last end).",
        "",
        "| | one process: wall, MB/s | two processes: wall, MB/s |",
        "|---|---:|---:|",
    ]
    names = {
        "decode": "`msgspec` decode into structs",
        "untyped": "decode, then `encode_lines` (nothing typed)",
        "typed_jsonl": "the provider's typing (`shapes.DayDecoder`), jsonl rows encoded",
        "typed_csv": "the provider's typing, csv text",
    }
    for key, name in names.items():
        lines.append(
            f"| {name} "
            + "".join(
                f"| {memory[f'{key}_{mode}_wall_s']:.3f} s, {memory[f'{key}_{mode}_mb_s']:.0f} MB/s "
                for mode in ("one", "two")
            )
            + "|"
        )
    lines += [
        "",
        "End to end, from the emulator over loopback to a file (jsonl). `pipeline`: the provider's typing "
        "with only the work no pull can skip (the socket, the digit-run guard, the cut, the hash, the "
        "write), none of the provider's checks (repeated legs, CallID count, key search, manifest) and "
        "no Airflow; `two processes`: its typing in a second process started before the clock. Each "
        "pipeline's file is checked to be the provider's, byte for byte.",
        "",
        "| | wall | CPU (with a second process's) | body per second |",
        "|---|---:|---:|---:|",
    ]
    for key, name in (
        ("floor", "download only"),
        ("provider", "provider (`OzonetelCDRDetailsOperator`)"),
        ("provider_tp", "provider, `typing_process=True`"),
        ("pipeline_one", "pipeline, one process"),
        ("pipeline_two", "pipeline, two processes"),
    ):
        if f"{key}_wall_s" not in e2e:
            continue
        lines.append(
            f"| {name} | {e2e[f'{key}_wall_s']:.3f} s | {e2e[f'{key}_cpu_s']:.3f} s "
            f"| {e2e[f'{key}_mb_s']:.0f} MB/s |"
        )
    imported = data["imports_rss_mb"]
    lines += [
        "",
        "Peak RSS once a day pull's modules are imported, before any row: "
        f"{imported['day_pull']:.0f} MB; with pyarrow {imported['with_pyarrow']:.0f} MB; with DuckDB "
        f"{imported['with_duckdb']:.0f} MB (the jsonl and csv target: under 150 MB at 500k calls).",
    ]
    return lines


def report() -> pathlib.Path:
    names = (
        "day_pull",
        "day_pull_speed",
        "ceilings",
        "pacing",
        "parse_cost",
        "tokens",
        "refresh",
        "deployment",
        "fuzz",
    )
    parts = {name: load(name) for name in names}
    parts["parquet"] = parts["day_pull"]  # section 1b: the parquet variant of section 1's pulls
    first = next((d for d in parts.values() if d), None)
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`bench/run_all.py`); each section's script runs alone too.",
        "",
    ]
    if first:
        machine = first["machine"]
        lines += [
            "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()),
            f"Measured: {first['measured_at']}",
            "",
        ]
    sections = {
        "day_pull": day_pull_section,
        "parquet": parquet_section,
        "day_pull_speed": day_pull_speed_section,
        "ceilings": ceilings_section,
        "pacing": pacing_section,
        "parse_cost": parse_section,
        "tokens": tokens_section,
        "refresh": refresh_section,
        "deployment": deployment_section,
        "fuzz": fuzz_section,
    }
    for name, render in sections.items():
        if parts[name]:
            lines += [*render(parts[name]), ""]
        else:
            lines += [f"## {name}", "", "Not measured yet.", ""]
    notes = HERE / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    path = HERE / "RESULTS.md"
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    if not args.report_only:
        for script in SCRIPTS:
            print(f"== {script}", flush=True)
            subprocess.run([sys.executable, str(HERE / script)], check=True)
    print(f"wrote {report()}")


if __name__ == "__main__":
    main()
