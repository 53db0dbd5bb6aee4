"""Manifests and the folder layout (pure): what proves a day file complete."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import pathlib

import pytest

from airflow_provider_ozonetel.manifest import (
    DayEntry,
    Expected,
    Manifest,
    file_digest,
    inventory,
    judge_day,
)

DAY = dt.date(2026, 11, 19)
NAME = "ozonetel_cdr_2026-11-19.jsonl"
EXPECTED = Expected("jsonl", None, True, {})


def manifest(data: bytes = b"{}\n", **changes) -> Manifest:
    fields = {
        "cdr_date": DAY.isoformat(),
        "file": NAME,
        "format": "jsonl",
        "compression": None,
        "normalize": True,
        "rows": 1,
        "calls": 1,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "windows": [["2026-11-19 00:00:00", "2026-11-19 23:59:59"]],
        "filters": {},
        "pulled_at": "2026-11-20T06:30:00+00:00",
        "provider_version": "0.1.0",
    }
    return Manifest(**{**fields, **changes})


@pytest.mark.parametrize(
    ("windows", "whole"),
    [
        ([["2026-11-19 00:00:00", "2026-11-19 23:59:59"]], True),
        (
            [
                ["2026-11-19 12:00:00", "2026-11-19 23:59:59"],  # any order
                ["2026-11-19 00:00:00", "2026-11-19 11:59:59"],
            ],
            True,
        ),
        ([["2026-11-19 00:00:00", "2026-11-19 12:00:00"]], False),  # today's pull, up to now
        (
            [["2026-11-19 00:00:00", "2026-11-19 05:59:59"], ["2026-11-19 06:00:01", "2026-11-19 23:59:59"]],
            False,  # a second missing
        ),
        ([["2026-11-19 00:00:01", "2026-11-19 23:59:59"]], False),
        ([["2026-11-18 00:00:00", "2026-11-18 23:59:59"]], False),  # another day
        ([], False),
    ],
)
def test_covers_whole_day(windows, whole):
    assert manifest(windows=windows).covers_whole_day() is whole


def test_round_trip_and_unreadable_manifests():
    original = manifest(changes={"added": 1, "changed": 2, "removed": 0})
    assert Manifest.from_json(original.to_json()) == original
    for text in (b"not json", b"[]", b'{"cdr_date": "2026-11-19"}'):
        with pytest.raises(ValueError, match="unreadable manifest"):
            Manifest.from_json(text)


def test_inventory_groups_files_manifests_and_temporaries_by_day():
    names = [
        NAME,
        NAME + ".manifest.json",
        "." + NAME + ".0123456789ab.tmp",
        "." + NAME + ".manifest.json.0123456789ab.tmp",
        "ozonetel_cdr_2026-11-18.jsonl.manifest.json",  # a manifest whose file is gone
        "ozonetel_cdr_2026-11-17.csv",  # another format: not this folder's concern
        "ozonetel_cdr_2026-11-17.jsonl.gz",
        "ozonetel_cdr_2026-02-30.jsonl",  # no such day
        ".ozonetel_cdr_2026-11-16.jsonl",  # hidden but not a temporary
        "ozonetel_cdr_2026-11-16.jsonl.0123456789ab.tmp",  # a temporary name without the dot
        "notes.txt",
    ]
    found = inventory(names, ".jsonl")
    assert sorted(found) == [dt.date(2026, 11, 18), DAY]
    assert found[DAY] == DayEntry(
        DAY,
        file=NAME,
        manifest=NAME + ".manifest.json",
        temporaries=["." + NAME + ".0123456789ab.tmp", "." + NAME + ".manifest.json.0123456789ab.tmp"],
    )
    assert found[dt.date(2026, 11, 18)] == DayEntry(
        dt.date(2026, 11, 18), manifest="ozonetel_cdr_2026-11-18.jsonl.manifest.json"
    )


def write(folder: pathlib.Path, data: bytes, proof: Manifest | None) -> DayEntry:
    (folder / NAME).write_bytes(data)
    if proof is not None:
        (folder / (NAME + ".manifest.json")).write_bytes(proof.to_json())
    return inventory([p.name for p in folder.iterdir()], ".jsonl")[DAY]


def test_judge_day_present_only_when_the_manifest_matches(tmp_path):
    data = b'{"ucid":"1"}\n'
    entry = write(tmp_path, data, manifest(data))
    proof, problem = judge_day(tmp_path, entry, EXPECTED)
    assert problem is None and proof == manifest(data)
    assert file_digest(tmp_path / NAME) == (len(data), hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize(
    ("data", "proof", "expected", "problem"),
    [
        (b"x\n", None, EXPECTED, "a file without a manifest"),
        (b"y\n", manifest(b"x\n"), EXPECTED, "the file's sha256 differs from its manifest's"),
        (b"xx\n", manifest(b"x\n"), EXPECTED, "the file has 3 bytes, its manifest says 2"),
        (b"x\n", manifest(b"x\n", file="other.jsonl"), EXPECTED, "its manifest describes other.jsonl"),
        (
            b"x\n",
            manifest(b"x\n"),
            dataclasses.replace(EXPECTED, normalize=False),
            "pulled with other options",
        ),
        (
            b"x\n",
            manifest(b"x\n", windows=[["2026-11-19 00:00:00", "2026-11-19 11:00:00"]]),
            EXPECTED,
            "its requests covered only part of the day",
        ),
    ],
)
def test_judge_day_says_why_a_day_is_not_present(tmp_path, data, proof, expected, problem):
    entry = write(tmp_path, data, proof)
    assert problem in judge_day(tmp_path, entry, expected)[1]


def test_judge_day_stale_temporary_and_missing_file(tmp_path):
    data = b"x\n"
    write(tmp_path, data, manifest(data))
    (tmp_path / ("." + NAME + ".0123456789ab.tmp")).write_bytes(b"half")
    entry = inventory([p.name for p in tmp_path.iterdir()], ".jsonl")[DAY]
    assert "a stale temporary object from an unfinished write" in judge_day(tmp_path, entry, EXPECTED)[1]
    assert judge_day(tmp_path, DayEntry(DAY), EXPECTED) == (None, "no file")


def test_verify_size_reads_no_file(tmp_path, monkeypatch):
    data = b"x\n"
    entry = write(tmp_path, data, manifest(data))
    monkeypatch.setattr(pathlib.Path, "open", lambda *a, **k: pytest.fail("the file was read"))
    monkeypatch.setattr(pathlib.Path, "read_bytes", lambda self: manifest(data).to_json())
    assert judge_day(tmp_path, entry, EXPECTED, verify="size")[1] is None


def test_the_sinks_temporary_objects_are_recognised(tmp_path):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_ozonetel.manifest import manifest_name
    from airflow_provider_ozonetel.sink import temporary_for

    day_file = ObjectStoragePath(f"file://{tmp_path}/{NAME}")
    names = [temporary_for(day_file).name, temporary_for(day_file.parent / manifest_name(NAME)).name]
    assert inventory(names, ".jsonl")[DAY].temporaries == names
