"""Quick speed check of records.normalize_cdr / normalize_callback (not a test).

Run: ``.venv/bin/python bench/records_speed.py [N]`` (default N = 200,000 records).
The fetchCDRDetails record is the vendor's 43-field docs sample plus four more fields
(two known to CallBacks, a MonitorUCID, one unknown) = 47 fields; 1,000 variants with
different ids, times and durations are cycled so the memo caches see realistic traffic.
Target: under ~8 µs per fetchCDRDetails record.

``--caches [N]`` measures what each of records.py's memo tables buys instead: a busy day
(default N = 200,000 calls, each start its own second of the day, talk times up to 15
minutes) warms them all; then blocks of 2,000 of its calls are normalized with every table,
and with one table emptied before each record (what the code would cost without it),
interleaved, 40 rounds, best block, CPU time of this process (a shared machine only adds
time). The figures are quoted in records.py beside the tables.
"""

from __future__ import annotations

import itertools
import pathlib
import sys
import time
from collections.abc import Callable, Iterator

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from airflow_provider_ozonetel import records as records_module
from airflow_provider_ozonetel.records import normalize_callback, normalize_cdr
from tests.answers import SEED_CALLBACK, SEED_CDR  # the vendor's docs samples

SAMPLE_CDR = {
    **SEED_CDR,
    # four more, to 47 fields
    "MonitorUCID": 31733467784618300,
    "AgentPhoneNumber": "09xxxxxxx9",
    "AgentUniqueID": "None",
    "SomeNewField": "new",
}
SAMPLE_CALLBACK = SEED_CALLBACK


def _clock(seconds: int) -> str:
    return _hms(seconds % 86_400)  # crosses midnight now and then


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _variants(count: int = 1000) -> list[dict]:
    records = []
    for i in range(count):
        record = dict(SAMPLE_CDR)
        start = (i * 86) % 86_000
        talk = (i * 37) % 900
        record["CallID"] += i
        record["UCID"] += i
        record["StartTime"] = _clock(start)
        record["PickupTime"] = _clock(start + 1)
        record["EndTime"] = _clock(start + 1 + talk)
        record["WrapUpStartTime"] = _clock(start + 1 + talk)
        record["WrapUpEndTime"] = _clock(start + 3 + talk)
        record["Duration"] = record["TalkTime"] = _hms(talk)
        record["HandlingTime"] = _hms(talk + 2)
        records.append(record)
    return records


def _time(func, records: list[dict], n: int) -> float:
    source = itertools.islice(itertools.cycle(records), n)
    began = time.perf_counter()
    for record in source:
        func(record)
    return (time.perf_counter() - began) / n * 1e6


def _busy_day(first: int, count: int) -> Iterator[dict]:
    """Calls ``first`` to ``first + count`` of a busy day, each start its own second of the day
    (scattered), made by rewriting one of 64 records in place (normalize does not keep its
    input): the same cost in every configuration, so the differences are the caches'."""
    templates = [dict(SAMPLE_CDR) for _ in range(64)]
    ucid, call_id = SAMPLE_CDR["UCID"], SAMPLE_CDR["CallID"]
    for i in range(first, first + count):
        record = templates[i & 63]
        start = (i * 7_919) % 86_400
        ring = i % 30
        talk = (i * 104_729) % 900
        record["UCID"] = ucid + i
        record["CallID"] = call_id + i
        record["StartTime"] = _CLOCK[start]
        record["PickupTime"] = _CLOCK[(start + ring) % 86_400]
        record["EndTime"] = record["WrapUpStartTime"] = _CLOCK[(start + ring + talk) % 86_400]
        record["WrapUpEndTime"] = _CLOCK[(start + ring + talk + 5) % 86_400]
        record["Duration"] = _HMS[ring + talk]
        record["TalkTime"] = _HMS[talk]
        record["HandlingTime"] = _HMS[talk + 5]
        yield record


_CLOCK = [_hms(s) for s in range(86_400)]
_HMS = [_hms(s) for s in range(3_600)]

#: Each memo table of records.py. Measured and removed since (they saved nothing measurable):
#: _NEXT_DAY, _PREV_DAY (date arithmetic) and snake_case's lru_cache.
CACHES: dict[str, dict | set] = {
    "_DURATIONS (HH:MM:SS -> seconds)": records_module._DURATIONS,
    "_TIMES_OF_DAY (validated HH:MM:SS)": records_module._TIMES_OF_DAY,
    "_DATES (validated YYYY-MM-DD)": records_module._DATES,
    "_UTC_MINUTE (IST minute -> UTC minute)": records_module._UTC_MINUTE,
}


def _block(first: int, count: int, empty: Callable[[], None]) -> float:
    """CPU seconds to normalize ``count`` calls, calling ``empty`` before each one."""
    began = time.process_time()
    for record in _busy_day(first, count):
        empty()
        normalize_cdr(record)
    return time.process_time() - began


def measure_caches(day: int, block: int = 2_000, rounds: int = 40) -> None:
    """Warm every cache with a whole day, then time blocks of the day with each cache and
    without it (emptied before every record, refilled after the block), interleaved; the best
    block of each counts (a shared machine only ever adds time)."""
    began = time.process_time()
    for record in _busy_day(0, day):
        normalize_cdr(record)
    warm = (time.process_time() - began) / day * 1e6
    print(f"A busy day: {day:,} calls of {len(SAMPLE_CDR)} fields; from cold caches: {warm:.2f} µs/record")
    print(f"Then blocks of {block:,} calls, {rounds} rounds, best block, CPU time:")
    print(f"{'cache':<40} {'with':>8} {'without':>8} {'it saves':>9}")
    null_empty = {}.clear  # the same call in both, so only the emptying differs
    for name, cache in CACHES.items():
        empty = cache.clear
        with_it = without = float("inf")
        for r in range(rounds):
            first = (r * 7_777) % (day - block)
            with_it = min(with_it, _block(first, block, null_empty))
            saved = cache.copy()
            without = min(without, _block(first, block, empty))
            cache.update(saved)  # back to the warm state for the next round
        per = 1e6 / block
        print(
            f"{name:<40} {with_it * per:>6.2f}µs {without * per:>6.2f}µs "
            f"{(without - with_it) / without * 100:>8.1f}%"
        )


def main() -> None:
    if "--caches" in sys.argv:
        args = [a for a in sys.argv[1:] if a != "--caches"]
        measure_caches(int(args[0]) if args else 200_000)
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    records = _variants()
    _time(normalize_cdr, records, 10_000)  # warm the memo caches
    cdr = min(_time(normalize_cdr, records, n) for _ in range(3))
    callback = min(_time(normalize_callback, [SAMPLE_CALLBACK], n // 4) for _ in range(3))
    print(f"normalize_cdr:      {cdr:.2f} µs/record ({len(SAMPLE_CDR)} fields, {n} records, best of 3)")
    print(f"normalize_callback: {callback:.2f} µs/record ({len(SAMPLE_CALLBACK)} fields, {n // 4} records)")


if __name__ == "__main__":
    main()
