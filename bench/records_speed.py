"""Quick speed check of records.normalize_cdr / normalize_callback (not a test).

Run: ``.venv/bin/python bench/records_speed.py [N]`` (default N = 200,000 records).
The fetchCDRDetails record is the vendor's 43-field docs sample plus four more fields
(two known to CallBacks, a MonitorUCID, one unknown) = 47 fields; 1,000 variants with
different ids, times and durations are cycled so the memo caches see realistic traffic.
Target: under ~8 µs per fetchCDRDetails record.
"""

from __future__ import annotations

import itertools
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    records = _variants()
    _time(normalize_cdr, records, 10_000)  # warm the memo caches
    cdr = min(_time(normalize_cdr, records, n) for _ in range(3))
    callback = min(_time(normalize_callback, [SAMPLE_CALLBACK], n // 4) for _ in range(3))
    print(f"normalize_cdr:      {cdr:.2f} µs/record ({len(SAMPLE_CDR)} fields, {n} records, best of 3)")
    print(f"normalize_callback: {callback:.2f} µs/record ({len(SAMPLE_CALLBACK)} fields, {n // 4} records)")


if __name__ == "__main__":
    main()
