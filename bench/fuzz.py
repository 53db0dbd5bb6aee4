"""Benchmark 6: generated vendor answers through the day operator, and what came of them.

Runs the property test ``tests/unit/test_fuzz_answers.py`` with many random examples (``make
test`` runs 60, the same each time) and counts the outcomes. The bodies (``tests/fuzz_bodies.py``)
are random JSON, valid answers with unknown fields in any casing, integers past 2**63 and the API
key echoed in every spelling, broken records, odd envelopes, truncations, UTF-16 and Latin-1,
garbage, and nesting up to 200,000 levels. For each, the day operator (requests-mock) must fail
with a typed error and leave an earlier file byte for byte as it was, or write exactly the
body's records; never the key, never an empty day from anything but ``"details": []``. Any
other outcome fails the run (and hypothesis prints the smallest body that shows it).

    python bench/fuzz.py                    # 20,000 cases
    python bench/fuzz.py --examples 2000
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import ROOT, save

TEST = "tests/unit/test_fuzz_answers.py"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = pathlib.Path(tmp) / "stats.json"
        env = {
            **os.environ,
            "OZONETEL_FUZZ_EXAMPLES": str(args.examples),
            "OZONETEL_FUZZ_STATS": str(stats_path),
        }
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:logging", "-p", "no:cacheprovider", TEST],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    passed = run.returncode == 0
    if not passed:
        print(run.stdout[-6000:], run.stderr[-2000:], sep="\n")
    errors = {k.removeprefix("class "): v for k, v in stats.items() if k.startswith("class ")}
    data = {
        "examples_asked": args.examples,
        "cases": stats.get("cases", 0),
        "seconds": round(seconds, 1),
        "passed": passed,
        # A raw exception, a key in a file or an error text, or a silent empty day fails the
        # property, so a passing run had none; the figures below are what was checked.
        "raw_exceptions": 0 if passed else None,
        "key_occurrences": 0 if passed else None,
        "silent_empty_days": 0 if passed else None,
        "typed_errors": stats.get("typed errors", 0),
        "errors_by_class": errors,
        "files_written": stats.get("files written", 0),
        "empty_days_from_empty_details": stats.get("empty days (details: [])", 0),
        "files_checked_for_the_key": stats.get("files checked for the key", 0),
        "error_texts_checked_for_the_key": stats.get("error texts checked for the key", 0),
        "kinds": {k.removeprefix("kind "): v for k, v in stats.items() if k.startswith("kind ")},
        "damage": {k.removeprefix("damage "): v for k, v in stats.items() if k.startswith("damage ")},
    }
    print(json.dumps(data, indent=2))
    print(f"wrote {save('fuzz', data)}")
    if not passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
