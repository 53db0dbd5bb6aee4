"""Benchmark 1d: the ceilings under issue 15's speed targets, on this machine.

Issue 15 asks for 150 MB of vendor body a second turned into typed rows on disk, end to end, and
for a day pull at most 0.4x the hand-written script's time. This measures what any pipeline
built on the provider's typing can reach here, on the 50k-call day (60 MB), each variant in
fresh processes, interleaved run by run (median of the runs):

**In memory**: the day already in memory, cut into batches of 256 records before the clock (no
socket, no cut, no checks, no file):

- ``decode``: ``msgspec`` decodes each batch into structs typed from the first record;
- ``untyped``: the same, then ``encode_lines`` back: a pipeline that types nothing;
- ``typed_jsonl`` / ``typed_csv``: the provider's own batch typing (``shapes.DayDecoder``, the
  43 fields' rules) and its row encoding (``encode_lines`` of the row structs; the CSV text).

Each runs in one process over the whole day, then in two processes started together, each with
half of the batches (this machine's two cores; wall time from the first start to the last end).

**End to end**, from the emulator over loopback to a file: ``floor`` (download only), the
``provider`` (section 1c's jsonl pull, in one process and with ``typing_process=True``) and
:func:`pipeline` (the provider's typing with only the work no pull can skip, in one process,
then with the typing in a second process).

Beside them, what a process holds once it has imported what a day pull needs, alone, with
pyarrow and with DuckDB (engines that would type in C++), against the 150 MB peak RSS target.

    python bench/ceilings.py                # 5 runs each, saved to bench/results/ceilings.json
    python bench/ceilings.py --runs 1 --no-save
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import pathlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import add_medians, children_cpu_s, day_emulator, median, peak_rss_mb, run_child, save
from day_pull import MINUTE, PULL_IMPORTS, streamed_answer

VARIANTS = ("decode", "untyped", "typed_jsonl", "typed_csv")
E2E = ("floor", "provider", "provider_tp", "pipeline_one", "pipeline_two")
BATCH_RECORDS = 256  # ~260 KB, the provider's batches are about as large (batches.CHUNK_BYTES)
#: What each import set adds up to: a day pull's modules, then with a columnar engine beside them.
IMPORT_SETS = {
    "day_pull": (),
    "with_pyarrow": ("pyarrow", "pyarrow.compute"),
    "with_duckdb": ("duckdb",),
}


def batches(body: bytes, half: str) -> list[bytes]:
    """The day's ``details`` as JSON arrays of :data:`BATCH_RECORDS` records; ``half``: ``all``, or
    the ``first`` or ``second`` half of them."""
    import msgspec

    records = msgspec.json.decode(body[body.index(b"[") : body.rindex(b"]") + 1], type=list[msgspec.Raw])
    cut = len(records) // 2
    records = {"all": records, "first": records[:cut], "second": records[cut:]}[half]
    return [
        b"[" + b",".join(map(bytes, records[at : at + BATCH_RECORDS])) + b"]"
        for at in range(0, len(records), BATCH_RECORDS)
    ]


def worker(variant: str, day: str, pieces: list[bytes]):
    """The function the clock measures: ``variant`` over ``pieces``; returns (rows, output bytes)."""
    import msgspec

    encode_lines = msgspec.json.Encoder().encode_lines
    if variant in ("decode", "untyped"):
        first = msgspec.json.decode(pieces[0])[0]
        struct = msgspec.defstruct("Record", [(key, type(value)) for key, value in first.items()])
        decode = msgspec.json.Decoder(list[struct]).decode

        def run() -> tuple[int, int]:
            rows = size = 0
            for piece in pieces:
                records = decode(piece)
                rows += len(records)
                if variant == "untyped":
                    size += len(encode_lines(records))
            return rows, size

        return run
    from airflow_provider_ozonetel.records import CSV_COLUMNS
    from airflow_provider_ozonetel.shapes import DayDecoder, FastBatch

    file_format = variant.removeprefix("typed_")

    def typed() -> tuple[int, int]:
        decoder = DayDecoder(day, file_format=file_format, csv_columns=CSV_COLUMNS)
        rows = size = 0
        for piece in pieces:
            batch = decoder(piece)
            if not isinstance(batch, FastBatch):  # the ceiling is of the fast way: none may miss it
                raise SystemExit(f"a batch went the general way: {decoder.general_batches}")
            rows += len(batch)
            if file_format == "jsonl":
                size += len(encode_lines(batch.jsonl_rows()))
            else:
                size += len(batch.csv_text().encode("utf-8"))
        return rows, size

    return typed


def child(variant: str, day: str, body_path: str, half: str) -> None:
    """Prepare (imports, batches), say ``ready``, wait for a line on stdin, then run the clock."""
    pieces = batches(pathlib.Path(body_path).read_bytes(), half)
    run = worker(variant, day, pieces)
    print("ready", flush=True)
    sys.stdin.readline()
    # CLOCK_MONOTONIC is one clock for every process on Linux: two children's starts and ends compare
    start, cpu = time.monotonic(), time.process_time()
    rows, size = run()
    end = time.monotonic()
    measured = {"start": start, "end": end, "cpu_s": time.process_time() - cpu, "rows": rows}
    print(json.dumps({**measured, "bytes": size, "peak_rss_mb": peak_rss_mb()}), flush=True)


def measure(variant: str, day: str, body: pathlib.Path, halves: tuple[str, ...]) -> dict:
    """``variant`` in one child per half, released together: wall from the first start to the last end."""
    script = str(pathlib.Path(__file__).resolve())
    children = [
        subprocess.Popen(
            [sys.executable, script, "--child", variant, "--day", day, "--body", str(body), "--half", half],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for half in halves
    ]
    for process in children:  # every child has its batches in memory before any clock starts
        if process.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise SystemExit(f"{variant}: a child failed before its clock")
    for process in children:
        process.stdin.write("go\n")  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]
    results = []
    for process in children:
        out, _ = process.communicate()
        if process.returncode:
            raise SystemExit(f"{variant}: a child failed ({process.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return {
        "wall_s": max(r["end"] for r in results) - min(r["start"] for r in results),
        "cpu_s": sum(r["cpu_s"] for r in results),
        "rows": sum(r["rows"] for r in results),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
    }


CHUNK = 1 << 18  # what the provider asks of the socket at a time (batches.CHUNK_BYTES)


def frames(stream) -> Iterator[bytes]:
    """Length-prefixed frames read from ``stream`` until an empty one."""
    while True:
        size = int.from_bytes(stream.read(4), "little")
        if not size:
            return
        yield stream.read(size)


def frame(data: bytes) -> bytes:
    return len(data).to_bytes(4, "little") + data


def typer(day: str) -> None:
    """The second process of ``pipeline_two``: batches in on stdin, typed jsonl rows out on stdout."""
    import msgspec

    from airflow_provider_ozonetel.shapes import DayDecoder

    encode_lines = msgspec.json.Encoder().encode_lines
    decoder = DayDecoder(day, file_format="jsonl")
    out = sys.stdout.buffer
    out.write(frame(b"ready"))
    out.flush()
    for piece in frames(sys.stdin.buffer):
        out.write(frame(encode_lines(decoder(piece).jsonl_rows())))
        out.flush()
    out.write(frame(b""))
    out.flush()


def pipeline(url: str, day: str, out: pathlib.Path, processes: int):
    """The day pull's essential work end to end, and nothing else: the answer streamed from the
    socket, its runs of digits classified (the provider's guard, ~0.8 ms a MB), cut into
    batches at record boundaries, typed and encoded by ``shapes.DayDecoder``, hashed and written.
    No repeated-leg check, CallID count, key search, manifest or Airflow: an upper bound for the
    provider's speed. With ``processes=2`` the typing runs in a second process, started before
    the clock, the batches and rows crossing pipes; a thread here hashes and writes the rows."""
    import fcntl
    import threading

    import msgspec
    from day_pull import first_request_imports, stopwatch, streamed_answer

    from airflow_provider_ozonetel.shapes import DayDecoder
    from airflow_provider_ozonetel.streaming import CLASSES, DigitRuns

    first_request_imports()
    encode_lines = msgspec.json.Encoder().encode_lines
    decoder = DayDecoder(day, file_format="jsonl")
    second = None
    if processes == 2:
        second = subprocess.Popen(
            [sys.executable, __file__, "--typer", "--day", day], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        for pipe in (second.stdin, second.stdout):  # room for several batches: neither side waits
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)  # type: ignore[union-attr, attr-defined]
        if second.stdout.read(4 + len(b"ready"))[4:] != b"ready":  # type: ignore[union-attr]
            raise SystemExit("the typing process did not start")
    digest, rows = hashlib.sha256(), [0]
    elapsed = stopwatch()
    with streamed_answer(url, day) as answer, out.open("wb") as handle:

        def write(data: bytes) -> None:
            digest.update(data)
            handle.write(data)
            rows[0] += data.count(b"\n")

        def drain() -> None:
            for data in frames(second.stdout):  # type: ignore[union-attr]
                write(data)

        if second is not None:
            writer = threading.Thread(target=drain)
            writer.start()
        digits, buf, started = DigitRuns(), b"", False
        while chunk := answer.raw.read(CHUNK):
            if digits.too_long(chunk.translate(CLASSES)):
                raise SystemExit("a run of digits too long")
            buf += chunk
            if not started:
                buf, started = buf[buf.index(b"[") + 1 :], True
            cut = buf.rfind(b"},{")  # the emulator's flat records: only between records
            if cut < 0:
                continue
            piece, buf = b"[" + buf[: cut + 1] + b"]", buf[cut + 2 :]
            if second is None:
                write(encode_lines(decoder(piece).jsonl_rows()))
            else:
                second.stdin.write(frame(piece))  # type: ignore[union-attr]
        piece = b"[" + buf[: buf.rindex(b"]")] + b"]"
        if second is None:
            write(encode_lines(decoder(piece).jsonl_rows()))
        else:
            second.stdin.write(frame(piece) + frame(b""))  # type: ignore[union-attr]
            second.stdin.close()  # type: ignore[union-attr]
            writer.join()
    timed = elapsed()
    if second is not None and second.wait():
        raise SystemExit("the typing process failed")
    return rows[0], timed


def end_to_end(variant: str, url: str, day: str, out: str) -> None:
    """One run of an end-to-end variant in this (fresh) process."""
    from day_pull import run_floor, run_provider

    runner = {
        "floor": run_floor,
        "provider": run_provider,
        "provider_tp": lambda url, day, out: run_provider(url, day, out, typing_process=True),
        "pipeline_one": lambda url, day, out: pipeline(url, day, out, 1),
        "pipeline_two": lambda url, day, out: pipeline(url, day, out, 2),
    }[variant]
    before = children_cpu_s()
    count, (wall, cpu) = runner(url, day, pathlib.Path(out))
    cpu += children_cpu_s() - before  # a typing process's, reaped by now
    measured = {"count": count, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak_rss_mb()}
    if variant != "floor":  # the pipelines must write the provider's very bytes (checked by main)
        measured["sha256"] = hashlib.sha256(pathlib.Path(out).read_bytes()).hexdigest()
    print(json.dumps(measured))


def imports_child(name: str) -> None:
    """Peak RSS once a day pull's modules (and ``name``'s engine) are imported."""
    import importlib

    import airflow.sdk  # noqa: F401

    for module in (*PULL_IMPORTS, *IMPORT_SETS[name]):
        importlib.import_module(module)
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--child", choices=VARIANTS)
    parser.add_argument("--imports", choices=tuple(IMPORT_SETS))
    parser.add_argument("--typer", action="store_true")
    parser.add_argument("--e2e", choices=E2E)
    parser.add_argument("--url")
    parser.add_argument("--out")
    parser.add_argument("--day")
    parser.add_argument("--body")
    parser.add_argument("--half", choices=("all", "first", "second"))
    args = parser.parse_args()
    if args.child:
        child(args.child, args.day, args.body, args.half)
        return
    if args.imports:
        imports_child(args.imports)
        return
    if args.typer:
        typer(args.day)
        return
    if args.e2e:
        end_to_end(args.e2e, args.url, args.day, args.out)
        return

    import pendulum

    day = (pendulum.now("Asia/Kolkata").date() - dt.timedelta(days=2)).isoformat()
    modes = {"one": ("all",), "two": ("first", "second")}
    memory: dict[str, list[dict]] = {f"{v}_{m}": [] for v in VARIANTS for m in modes}
    e2e: dict[str, list[dict]] = {v: [] for v in E2E}
    with tempfile.TemporaryDirectory(prefix="bench-ceilings-") as tmp:
        work = pathlib.Path(tmp)
        body = work / "answer.json"
        with day_emulator(args.calls, MINUTE, work / "cache") as url:
            with streamed_answer(url, day) as answer, body.open("wb") as handle:
                for chunk in answer.iter_content(1 << 20):
                    handle.write(chunk)
            for _ in range(args.runs):  # interleaved, so a busy moment weighs on every variant alike
                for variant in VARIANTS:
                    for mode, halves in modes.items():
                        memory[f"{variant}_{mode}"].append(measure(variant, day, body, halves))
                for variant in E2E:
                    out = work / "rows.jsonl"
                    e2e[variant].append(
                        run_child(__file__, "--e2e", variant, "--url", url, "--day", day, "--out", str(out))
                    )
                    out.unlink(missing_ok=True)
        written = {e2e[v][-1]["sha256"] for v in E2E if v != "floor"}
        if len(written) != 1:
            raise SystemExit("the pipelines did not write the provider's rows byte for byte")
        body_mb = body.stat().st_size / 1e6
    rows = {"calls": args.calls, "body_mb": body_mb, "runs": args.runs}
    memory_row = add_medians(dict(rows), memory)
    e2e_row = add_medians(dict(rows), e2e)
    for row, measured in ((memory_row, memory), (e2e_row, e2e)):
        for key, results in measured.items():
            row[f"{key}_cpu_s"] = median([r["cpu_s"] for r in results])
            row[f"{key}_mb_s"] = body_mb / row[f"{key}_wall_s"]
            print(f"{key:>18}: {row[f'{key}_wall_s']:.3f} s, {row[f'{key}_mb_s']:.0f} MB/s", flush=True)
    imported = {name: run_child(__file__, "--imports", name)["peak_rss_mb"] for name in IMPORT_SETS}
    print("imported, peak RSS (MB):", imported)
    if not args.no_save:
        saved = {"day": day, "memory": memory_row, "end_to_end": e2e_row, "imports_rss_mb": imported}
        path = save("ceilings", saved)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
