"""Temporary objects a killed write left: found by name, deleted by the next write once stale."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from airflow_provider_ozonetel.sink import AtomicRowSink
from airflow_provider_ozonetel.temporaries import (
    STALE_AFTER,
    is_temporary_of,
    modified_at,
    remove_stale_temporaries,
    temporary_for,
)
from tests.conftest import ROOT

NAME = "ozonetel_cdr_2026-11-19.jsonl"
HOUR = 3600


def make(folder, name, *, age_seconds: float) -> None:
    path = folder / name
    path.write_bytes(b'{"partial": ')
    when = time.time() - age_seconds
    os.utime(path, (when, when))


def test_temporary_names_are_recognised_for_their_destination_only(tmp_path):
    own = temporary_for(tmp_path / NAME).name
    assert own.startswith(f".{NAME}.") and own.endswith(".tmp")
    assert is_temporary_of(own, NAME)
    assert not is_temporary_of(own, "ozonetel_cdr_2026-11-19.jsonl.gz")
    assert not is_temporary_of(f".{NAME}.gz.0123456789ab.tmp", NAME)  # the .gz file's temporary
    assert not is_temporary_of(f".{NAME}.manifest.json.0123456789ab.tmp", NAME)  # the manifest's
    assert not is_temporary_of(f".{NAME}.0123456789ab.tmp.bak", NAME)
    assert not is_temporary_of(NAME, NAME)


def test_stale_ones_go_young_ones_and_other_files_stay(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="airflow_provider_ozonetel.temporaries")
    make(tmp_path, f".{NAME}.0123456789ab.tmp", age_seconds=2 * HOUR)  # a killed write
    make(tmp_path, f".{NAME}.ba9876543210.tmp", age_seconds=60)  # maybe a write in progress
    make(tmp_path, f".{NAME}.gz.0123456789ab.tmp", age_seconds=2 * HOUR)  # another destination's
    make(tmp_path, NAME, age_seconds=2 * HOUR)  # the destination itself
    make(tmp_path, f"{NAME}.manifest.json", age_seconds=2 * HOUR)

    removed = remove_stale_temporaries(tmp_path / NAME)

    assert removed == [f".{NAME}.0123456789ab.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".{NAME}.ba9876543210.tmp", f".{NAME}.gz.0123456789ab.tmp", NAME, f"{NAME}.manifest.json"]
    )
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == (
        f"Removed the temporary object {tmp_path / f'.{NAME}.0123456789ab.tmp'} "
        "(stale: last written 2:00:00 ago, a write that was killed)"
    )


def test_the_safe_age_is_an_hour_by_default(tmp_path):
    assert STALE_AFTER.total_seconds() == HOUR
    make(tmp_path, f".{NAME}.0123456789ab.tmp", age_seconds=HOUR - 60)
    assert remove_stale_temporaries(tmp_path / NAME) == []
    assert remove_stale_temporaries(tmp_path / NAME, now=time.time() + 120) == [f".{NAME}.0123456789ab.tmp"]


def test_a_missing_folder_or_an_unlistable_one_is_not_an_error(tmp_path, caplog):
    assert remove_stale_temporaries(tmp_path / "nowhere" / NAME) == []
    assert "Could not list" in caplog.text


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"mtime": 1_700_000_000.5}, 1_700_000_000.5),  # local files (fsspec)
        ({"LastModified": dt.datetime(2026, 11, 20, tzinfo=dt.UTC)}, 1_795_132_800.0),  # S3
        ({"updated": "2026-11-20T00:00:00.000Z"}, 1_795_132_800.0),  # GCS
        ({"last_modified": dt.datetime(2026, 11, 20, tzinfo=dt.UTC)}, 1_795_132_800.0),  # Azure
        ({"size": 3, "type": "file"}, None),  # unknown: left alone
    ],
)
def test_modification_times_of_the_common_stores(info, expected):
    assert modified_at(info) == expected


def test_an_object_without_a_modification_time_is_left(tmp_path, monkeypatch):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    make(tmp_path, f".{NAME}.0123456789ab.tmp", age_seconds=2 * HOUR)
    destination = ObjectStoragePath(f"file://{tmp_path}/{NAME}")
    monkeypatch.setattr(type(destination), "stat", lambda self: {"size": 12, "type": "file"})
    assert remove_stale_temporaries(destination) == []
    assert (tmp_path / f".{NAME}.0123456789ab.tmp").exists()


_KILLED_WRITER = textwrap.dedent(
    """
    import pathlib, sys, time
    from airflow_provider_ozonetel.sink import AtomicRowSink

    def rows():
        for n in range(50_000):
            yield {"ucid": str(n), "note": "x" * 40}
        print("streaming", flush=True)
        time.sleep(600)  # killed here, mid-day, as by the OOM killer

    with AtomicRowSink(pathlib.Path(sys.argv[1])) as sink:
        sink.write_all(rows())
    """
)


def test_a_sigkilled_write_leaves_a_temporary_that_the_next_write_cleans(tmp_path):
    destination = tmp_path / NAME
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(destination)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "streaming"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    (left,) = [p for p in tmp_path.iterdir()]
    assert is_temporary_of(left.name, NAME) and left.stat().st_size > 0
    assert not destination.exists()

    with AtomicRowSink(destination) as sink:  # the next run, within the hour: the leftover stays
        sink.write({"ucid": "1"})
    assert left.exists()

    old = time.time() - 2 * HOUR
    os.utime(left, (old, old))
    with AtomicRowSink(destination) as sink:  # a later run: it is stale now, and goes
        sink.write({"ucid": "2"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]
    assert destination.read_text() == '{"ucid":"2"}\n'
