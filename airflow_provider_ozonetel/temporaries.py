"""Temporary objects beside a destination: their names, and the cleanup of those a killed write left.

Every write goes to ``.<name>.<12 hex>.tmp`` beside its destination and is renamed onto it
when complete (``sink.py``). A write that is killed outright (SIGKILL, the OOM killer, a lost
worker) never reaches its ``finally`` and leaves its temporary object behind. The next write
of the same destination deletes those last modified more than ``STALE_AFTER`` ago.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

#: A temporary object untouched this long is taken for the leftover of a killed write. A live
#: write touches its object with every ~1 MB it writes, and on object stores (S3, GCS...) the
#: object appears only when the write closes; its longest silences are the waits before a
#: request answers (pacing, retries, a read timeout of 10 minutes). Deleting a live write's
#: object by mistake loses nothing: that write fails at its rename, leaving the destination as it
#: was, and is retried.
STALE_AFTER = dt.timedelta(hours=1)

_SUFFIX = re.compile(r"\.[0-9a-f]{12}\.tmp")


def temporary_for(destination: ObjectStoragePath) -> ObjectStoragePath:
    """A unique hidden sibling, ``.<name>.<12 hex>.tmp``: a write in progress (or a crashed one)."""
    return destination.parent / f".{destination.name}.{uuid.uuid4().hex[:12]}.tmp"


def is_temporary_of(name: str, destination_name: str) -> bool:
    """Whether ``name`` is a temporary object of ``destination_name`` (from ``temporary_for``)."""
    prefix = f".{destination_name}"
    return name.startswith(prefix) and _SUFFIX.fullmatch(name, len(prefix)) is not None


def remove_stale_temporaries(
    destination: ObjectStoragePath, *, older_than: dt.timedelta = STALE_AFTER, now: float | None = None
) -> list[str]:
    """Delete the temporary objects of ``destination`` last modified more than ``older_than`` ago.

    Returns the names deleted. Best effort: a listing or deletion that fails is logged, never
    raised (the write that called this must not fail for it). An object whose modification time
    the storage does not report is left alone.
    """
    current = time.time() if now is None else now
    cutoff = current - older_than.total_seconds()
    removed: list[str] = []
    try:
        name = destination.name
        siblings = [child for child in destination.parent.iterdir() if is_temporary_of(child.name, name)]
    except Exception as exc:
        log.warning("Could not list %s for stale temporary objects: %s", destination.parent, exc)
        return removed
    for child in siblings:
        try:
            modified = modified_at(child.stat())
        except Exception:  # deleted meanwhile, or not readable: not ours to judge
            continue
        if modified is None:
            log.info("Left the temporary object %s: the storage reports no modification time", child)
            continue
        if modified > cutoff:
            continue  # young enough to be a write in progress
        age = dt.timedelta(seconds=int(current - modified))
        if remove_temporary(child, f"stale: last written {age} ago, a write that was killed"):
            removed.append(child.name)
    return removed


def remove_temporary(path: ObjectStoragePath, why: str) -> bool:
    """Delete one temporary object, logging it with ``why``; False (and a warning) when it fails."""
    try:
        path.unlink(missing_ok=True)
    except Exception as exc:
        log.warning("Could not remove the temporary object %s (%s): %s", path, why, exc)
        return False
    log.info("Removed the temporary object %s (%s)", path, why)
    return True


def modified_at(info: Any) -> float | None:
    """Epoch seconds of the last modification from a ``stat()`` result (local or fsspec), or None.

    ``st_mtime`` covers local files and S3; other fsspec stores name it differently (GCS:
    ``updated``; Azure: ``last_modified``), as a datetime or an ISO 8601 string.
    """
    mtime = getattr(info, "st_mtime", None)
    if isinstance(mtime, int | float) and mtime > 0:
        return float(mtime)
    if not isinstance(info, dict):
        return None
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(key)
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return value.timestamp()
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return None
