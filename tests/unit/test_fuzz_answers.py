"""Property: whatever the vendor answers, a day pull never writes a silent empty day, a row that is
not the body's, or the API key; it fails with a typed error and leaves an earlier file as it was.

Bodies come from ``tests/fuzz_bodies.py`` (random JSON, truncations, odd encodings, deep nesting,
integers past 2**63, keys in any casing, the key echoed in every spelling). ``make test`` runs a
modest number of examples, the same each run; ``bench/fuzz.py`` runs many more
(``OZONETEL_FUZZ_EXAMPLES``) and counts outcomes (``OZONETEL_FUZZ_STATS``).
"""

from __future__ import annotations

import atexit
import csv
import io
import json
import os
import pathlib
import tempfile
from collections import Counter

import pendulum
import requests_mock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_ozonetel.exceptions import OzonetelError
from airflow_provider_ozonetel.operators.ozonetel import OzonetelCDRDetailsOperator
from airflow_provider_ozonetel.shared_state import MemoryStore
from tests.answers import CDR_URL
from tests.conftest import FakeClock
from tests.fuzz_bodies import KEY, Case, cases, is_success, leaked, one_row_per_leg, reference, scrubbed

EXAMPLES = int(os.environ.get("OZONETEL_FUZZ_EXAMPLES", "60"))
STATS_PATH = os.environ.get("OZONETEL_FUZZ_STATS")
RUN = pendulum.datetime(2026, 11, 20, 3, 30, tz="Asia/Kolkata")
CONTEXT = {"data_interval_start": RUN, "data_interval_end": RUN, "logical_date": RUN, "run_id": "fuzz"}
EARLIER = b'{"ucid": "1", "note": "an earlier good day"}\n'
FORMATS = [("jsonl", None, False), ("jsonl", None, True), ("jsonl", "gzip", True), ("csv", None, True)]

stats: Counter[str] = Counter()


def _write_stats() -> None:
    if STATS_PATH:
        pathlib.Path(STATS_PATH).write_text(json.dumps(dict(stats), indent=2, sort_keys=True))


atexit.register(_write_stats)


def pull(case: Case, folder: pathlib.Path, file_format: str, compression: str | None, normalize: bool):
    """Run the day operator on ``case.body``; return the error it raised, or None."""
    MemoryStore.clear()  # rate budget of the process: every example starts from nothing
    op = OzonetelCDRDetailsOperator(
        task_id="fuzz",
        destination=f"file://{folder}/",
        file_format=file_format,
        compression=compression,
        normalize=normalize,
        hook_params={"clock": FakeClock().as_clock(), "max_retries": 0},
    )
    with requests_mock.Mocker() as vendor:
        vendor.get(CDR_URL, content=case.body)
        try:
            op.execute(CONTEXT)
        except OzonetelError as exc:  # anything else fails the test: a raw exception
            return exc
    return None


def read_rows(path: pathlib.Path, file_format: str, compression: str | None) -> tuple[str, list]:
    import gzip

    data = path.read_bytes()
    text = (gzip.decompress(data) if compression else data).decode("utf-8")
    if file_format == "csv":
        table = list(csv.DictReader(io.StringIO(text)))
        return text, table
    # split on "\n" only: a JSON string may hold U+0085 or U+2028 raw, which splitlines() splits on
    return text, [json.loads(line) for line in text.split("\n") if line]


def check(case: Case, file_format: str, compression: str | None, normalize: bool) -> None:
    suffix = f".{file_format}" + (".gz" if compression else "")
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        day_file = folder / f"ozonetel_cdr_2026-11-19{suffix}"
        day_file.write_bytes(EARLIER)
        error = pull(case, folder, file_format, compression, normalize)
        parsed = reference(case.body)
        if error is not None:
            stats["typed errors"] += 1
            stats[f"class {type(error).__name__}"] += 1
            assert not case.must_succeed, f"a valid answer was refused: {error}"
            assert not leaked(str(error)), "the key in an error text"
            stats["error texts checked for the key"] += 1
            assert day_file.read_bytes() == EARLIER, "the earlier file changed"
            assert sorted(p.name for p in folder.iterdir()) == [day_file.name], "something else was written"
            return
        stats["files written"] += 1
        # Written: the body must be a success with a details list, and the rows its records.
        assert isinstance(parsed, dict), "a file from a body that is not a JSON object"
        assert is_success(parsed.get("status")), f"a file from a non-success: {parsed.get('status')!r}"
        assert isinstance(parsed.get("details"), list), "a file from a success without a details list"
        details = one_row_per_leg(parsed["details"])
        text, rows = read_rows(day_file, file_format, compression)
        assert not leaked(text), f"the key in the file as {leaked(text)}"
        stats["files checked for the key"] += 1
        assert len(rows) == len(details), "rows that are not the body's records"
        if not parsed["details"]:
            stats["empty days (details: [])"] += 1
        if normalize:
            for row, record in zip(rows, details, strict=True):
                assert row["ucid"] == str(record["UCID"]) and row["call_id"] == str(record["CallID"])
        else:
            for row, record in zip(rows, details, strict=True):
                assert row == scrubbed(record), "a row that is not its record (the key scrubbed)"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 200,  # make test: the same examples every run; bench/fuzz.py: random
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(case=cases(), shape=st.sampled_from(FORMATS))
def test_a_day_pull_of_any_answer_keeps_the_invariants(set_conn, ist_noon, case, shape):
    set_conn(password=KEY, extra={"auth_mode": "api_key"})
    stats["cases"] += 1
    kind, damage = case.kind.split("/")
    stats[f"kind {kind}"] += 1
    stats[f"damage {damage}"] += 1
    file_format, compression, normalize = shape
    check(case, file_format, compression, normalize)
