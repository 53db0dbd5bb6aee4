"""Proof that a day file is complete, and the folder layout both day operators share.

Pure: no Airflow import. The few functions that read storage take any path object with
``open``/``stat``/``name`` (an ``ObjectStoragePath``, a ``pathlib.Path``).

A folder holds, for each IST day::

    ozonetel_cdr_2026-11-19.jsonl                   the day's rows (any format/compression suffix)
    ozonetel_cdr_2026-11-19.jsonl.manifest.json     its manifest, written (atomically) after it
    .ozonetel_cdr_2026-11-19.jsonl.<12 hex>.tmp     a write in progress, or a crashed one

A day is *present* only when its manifest matches its file (size and sha256), covers the whole
day, was pulled with the same options, and no temporary object of it is left over.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MANIFEST_VERSION = 1
MANIFEST_SUFFIX = ".manifest.json"
DAY_FILE_PREFIX = "ozonetel_cdr_"
#: The first and last second of a day, as the request windows spell them.
DAY_START, DAY_END = "00:00:00", "23:59:59"
_CHUNK = 1 << 20


class ManifestError(ValueError):
    """A manifest that cannot be read."""


def day_file_name(day: dt.date, suffix: str) -> str:
    return f"{DAY_FILE_PREFIX}{day.isoformat()}{suffix}"


def manifest_name(file_name: str) -> str:
    return file_name + MANIFEST_SUFFIX


@dataclass(frozen=True)
class Manifest:
    """What a day file holds and how it was pulled (``<file>.manifest.json``).

    ``windows`` are the requests' ``[fromDate, toDate]`` (IST); ``changes`` counts the rows
    ``added``, ``changed`` and ``removed`` since the previous pull of the day (None: the first
    pull, or a pull that replaced a file it could not compare with).
    """

    cdr_date: str
    file: str
    format: str
    compression: str | None
    normalize: bool
    rows: int
    calls: int
    bytes: int
    sha256: str
    windows: list[list[str]]
    filters: dict[str, str]
    pulled_at: str
    provider_version: str
    changes: dict[str, int] | None = None
    manifest_version: int = MANIFEST_VERSION

    def to_json(self) -> bytes:
        return (json.dumps(dataclasses.asdict(self), indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        try:
            fields = json.loads(data)
            if not isinstance(fields, dict):
                raise TypeError("not a JSON object")
            return cls(**fields)
        except (ValueError, TypeError) as exc:
            raise ManifestError(f"unreadable manifest ({exc})") from None

    def covers_whole_day(self) -> bool:
        """Whether the request windows, together, cover the day from 00:00:00 to 23:59:59."""
        day = self.cdr_date
        spans = sorted(
            (start[11:], end[11:]) for start, end in self.windows if start[:10] == day and end[:10] == day
        )
        reached = None  # the last second covered so far
        for start, end in spans:
            if reached is None:
                if start != DAY_START:
                    return False
            elif start > _next_second(reached):
                return False
            reached = end if reached is None else max(reached, end)
        return reached == DAY_END


def _next_second(hms: str) -> str:
    moment = dt.datetime.strptime(hms, "%H:%M:%S") + dt.timedelta(seconds=1)
    return moment.strftime("%H:%M:%S")


# ---------------------------------------------------------------- the folder's contents


@dataclass
class DayEntry:
    """What a folder listing holds for one day: its file, its manifest, leftover temporaries."""

    day: dt.date
    file: str | None = None
    manifest: str | None = None
    temporaries: list[str] = field(default_factory=list)


def inventory(names: Iterable[str], suffix: str) -> dict[dt.date, DayEntry]:
    """Group a folder's file names by day, for day files ending in ``suffix`` (``.jsonl.gz``...)."""
    pattern = re.compile(
        r"^(?P<dot>\.)?"
        + re.escape(DAY_FILE_PREFIX)
        + r"(?P<day>\d{4}-\d{2}-\d{2})"
        + re.escape(suffix)
        + r"(?P<manifest>"
        + re.escape(MANIFEST_SUFFIX)
        + r")?(?P<tmp>\.[0-9a-f]+\.tmp)?$"
    )
    days: dict[dt.date, DayEntry] = {}
    for name in names:
        match = pattern.match(name)
        if match is None or bool(match["dot"]) != bool(match["tmp"]):
            continue
        try:
            day = dt.date.fromisoformat(match["day"])
        except ValueError:
            continue
        entry = days.setdefault(day, DayEntry(day))
        if match["tmp"]:
            entry.temporaries.append(name)
        elif match["manifest"]:
            entry.manifest = name
        else:
            entry.file = name
    return days


def file_digest(path: Any) -> tuple[int, str]:
    """Size and sha256 of a stored file, read in 1 MB chunks."""
    sha256 = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha256.update(chunk)
            size += len(chunk)
    return size, sha256.hexdigest()


def stored_size(path: Any) -> int:
    """A stored file's size without reading it (fsspec's info dict, or an ``os.stat_result``)."""
    info = path.stat()
    return int(info["size"]) if isinstance(info, dict) else int(info.st_size)


@dataclass(frozen=True)
class Expected:
    """The options a day file must have been pulled with to count for this pull."""

    file_format: str
    compression: str | None
    normalize: bool
    filters: dict[str, str]


def judge_day(
    folder: Any, entry: DayEntry, expected: Expected, *, verify: str = "sha256"
) -> tuple[Manifest | None, str | None]:
    """``(manifest, None)`` when the day is present; else ``(manifest or None, why it is not)``.

    ``verify="sha256"`` reads the whole file to compare its hash; ``"size"`` only its size.
    """
    if entry.file is None:
        return None, "no file"
    if entry.manifest is None:
        return None, "a file without a manifest (its write did not finish)"
    try:
        manifest = Manifest.from_json((folder / entry.manifest).read_bytes())
    except ManifestError as exc:
        return None, str(exc)
    problem = _mismatch(manifest, entry, expected)
    if problem is None:
        if verify == "sha256":
            size, sha256 = file_digest(folder / entry.file)
        else:
            size, sha256 = stored_size(folder / entry.file), manifest.sha256
        if size != manifest.bytes:
            problem = f"the file has {size} bytes, its manifest says {manifest.bytes}"
        elif sha256 != manifest.sha256:
            problem = "the file's sha256 differs from its manifest's (the file changed after its pull)"
    if problem is None and entry.temporaries:
        leftovers = ", ".join(sorted(entry.temporaries))
        problem = f"a stale temporary object from an unfinished write ({leftovers})"
    return manifest, problem


def _mismatch(manifest: Manifest, entry: DayEntry, expected: Expected) -> str | None:
    if manifest.file != entry.file or manifest.cdr_date != entry.day.isoformat():
        return f"its manifest describes {manifest.file} of {manifest.cdr_date}"
    pulled = (manifest.format, manifest.compression, manifest.normalize, manifest.filters)
    wanted = (expected.file_format, expected.compression, expected.normalize, expected.filters)
    if pulled != wanted:
        return (
            f"pulled with other options (format {manifest.format}, compression {manifest.compression}, "
            f"normalize {manifest.normalize}, filters {manifest.filters or 'none'})"
        )
    if not manifest.covers_whole_day():
        return f"its requests covered only part of the day ({manifest.windows})"
    return None
