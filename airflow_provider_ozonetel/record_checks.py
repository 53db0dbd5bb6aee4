"""What a fetchCDRDetails record must be to count as a call of the day asked for. Pure: no Airflow import.

The vendor answers one day per request. A record of another day (or of no day) written into
the asked day's file would silently put a call on the wrong day, and an id that is an object
or a list cannot be counted or de-duplicated: such a record is refused, naming its place in
the answer (``details[i]``), never skipped.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ozonetel.streaming import json_type

_MISSING = object()
_ID_FIELDS = ("UCID", "CallID")


def check_cdr_record(record: dict[str, Any], day: str, index: int) -> None:
    """Raise ``ValueError`` unless ``record`` is a call of ``day`` (``YYYY-MM-DD``) with scalar ids."""
    if record.get("CallDate", _MISSING) != day:
        _check_date(record, day, index)
    for name in _ID_FIELDS:
        value = record.get(name)
        if value.__class__ is dict or value.__class__ is list:
            raise ValueError(f"details[{index}]: {name} is {json_type(value)}, not an id")


def _check_date(record: dict[str, Any], day: str, index: int) -> None:
    date = record.get("CallDate", _MISSING)
    if date is _MISSING:  # the same field in another casing ("calldate", "Call_Date")?
        spelled = [key for key in record if isinstance(key, str) and _flat(key) == "calldate"]
        if len(spelled) == 1:
            date = record[spelled[0]]
    if date == day:
        return
    if date is _MISSING or date in (None, "", "None"):
        raise ValueError(f"details[{index}] has no CallDate: it cannot be shown to be a call of {day}")
    shown = repr(date) if isinstance(date, str) else json_type(date)
    raise ValueError(f"details[{index}] has CallDate {shown[:40]}, not the day asked for ({day})")


def _flat(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())
