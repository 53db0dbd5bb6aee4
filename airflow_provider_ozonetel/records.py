"""Turn one raw Ozonetel CDR record into a typed row. Pure: stdlib only, no Airflow import.

``normalize_cdr`` takes a fetchCDRDetails record, ``normalize_callback`` a CDR-in-CallBacks
record (both as parsed from JSON; ``ijson`` and ``json`` give big integers as exact ``int``).
The row they return follows ``cdr_record.schema.json`` (``SCHEMA_PATH``):

* Every vendor field is kept, under a snake_case name (``CallID`` -> ``call_id``,
  ``monitorUCID`` -> ``monitor_ucid``, ``Did``/``DID`` -> ``did``); unknown fields too,
  with their value unchanged. Known fields are matched whatever their casing or
  underscores (``CallId``, ``call_id`` and ``CALLID`` are all ``call_id``). An unknown
  field whose snake_case name is taken by a column the provider derives (say a new
  vendor ``StartTimeUTC``) is kept as ``<name>_vendor`` rather than overwritten.
* ``""``, ``"None"`` and ``null`` become ``None``, for every field.
* ``call_id``, ``ucid`` and ``monitor_ucid`` are strings: the vendor sends JSON numbers
  above 2**53, which a float (or a JavaScript/BigQuery FLOAT64 reader) would corrupt.
* ``HH:MM:SS`` durations become integer seconds under ``<name>_seconds``; hours may
  exceed 24.
* Times become ISO-8601 timestamps with the IST offset, ``2024-12-06T12:20:00+05:30``.
  fetchCDRDetails gives a time of day plus ``CallDate``; a time earlier than the
  ``StartTime`` is on the next day (a call across midnight). The start and the end
  also get a UTC twin, ``start_time_utc``/``end_time_utc``, as ``2024-12-06T06:50:00Z``.
* The CallBacks ``Apikey`` field (the account's API key) is never output: the
  ``api_key`` column is always ``None``.

A value that cannot be what its field promises (a malformed duration, time or date,
an id that is a float) raises ``ValueError`` naming the field and the value: the
provider fails loudly instead of loading a wrong row.

Speed matters (a busy day is 500,000 records): the per-key work is one dict lookup,
parsed durations, validated times and dates and UTC conversions are memoised (each memo
kept for what ``bench/records_speed.py --caches`` measured it saves, quoted beside it),
and timestamps are built by string concatenation.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import pathlib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = [
    "CSV_COLUMNS",
    "SCHEMA_PATH",
    "load_schema",
    "normalize_callback",
    "normalize_cdr",
    "snake_case",
]

SCHEMA_PATH: pathlib.Path = pathlib.Path(__file__).with_name("cdr_record.schema.json")

IST_OFFSET = "+05:30"
_IST_MINUTES = 5 * 60 + 30

# Kinds of conversion.
_PLAIN = 0  # value unchanged (after the null rule)
_ID = 1  # big integer id -> exact decimal string
_DURATION = 2  # "HH:MM:SS" -> int seconds
_TIME = 3  # "HH:MM:SS" (+ CallDate) or "YYYY-MM-DD HH:MM:SS" -> ISO-8601 +05:30
_NUMBER = 4  # int/float kept; a numeric string is parsed
_REDACT = 5  # always None (secrets)
_DATE = 6  # "YYYY-MM-DD", validated

# Known vendor fields: vendor name -> (column, kind). fetchCDRDetails and CallBacks
# share most names; a name only one API sends is harmless for the other.
_KNOWN: dict[str, tuple[str, int]] = {
    # ids (JSON numbers above 2**53 in fetchCDRDetails)
    "CallID": ("call_id", _ID),
    "UCID": ("ucid", _ID),
    "MonitorUCID": ("monitor_ucid", _ID),
    "monitorUCID": ("monitor_ucid", _ID),
    # date and times
    "CallDate": ("call_date", _DATE),
    "StartTime": ("start_time", _TIME),
    "EndTime": ("end_time", _TIME),
    "PickupTime": ("pickup_time", _TIME),
    "WrapUpStartTime": ("wrap_up_start_time", _TIME),
    "WrapUpEndTime": ("wrap_up_end_time", _TIME),
    # durations
    "Duration": ("duration_seconds", _DURATION),
    "TalkTime": ("talk_time_seconds", _DURATION),
    "TimeToAnswer": ("time_to_answer_seconds", _DURATION),
    "HandlingTime": ("handling_time_seconds", _DURATION),
    "HoldDuration": ("hold_duration_seconds", _DURATION),
    "WrapupDuration": ("wrapup_duration_seconds", _DURATION),
    "ConferenceDuration": ("conference_duration_seconds", _DURATION),
    "CustomerRingTime": ("customer_ring_time_seconds", _DURATION),
    "CallDuration": ("call_duration_seconds", _DURATION),
    "ConfDuration": ("conf_duration_seconds", _DURATION),
    # numbers
    "Rating": ("rating", _NUMBER),
    # secrets
    "Apikey": ("api_key", _REDACT),
    # plain fields, fetchCDRDetails
    "AgentDialStatus": ("agent_dial_status", _PLAIN),
    "AgentID": ("agent_id", _PLAIN),
    "AgentName": ("agent_name", _PLAIN),
    "CallAudio": ("call_audio", _PLAIN),
    "CallerConfAudioFile": ("caller_conf_audio_file", _PLAIN),
    "CallerID": ("caller_id", _PLAIN),
    "CampaignName": ("campaign_name", _PLAIN),
    "Comments": ("comments", _PLAIN),
    "CustomerDialStatus": ("customer_dial_status", _PLAIN),
    "DID": ("did", _PLAIN),
    "Did": ("did", _PLAIN),
    "DialOutName": ("dial_out_name", _PLAIN),
    "DialStatus": ("dial_status", _PLAIN),
    "DialedNumber": ("dialed_number", _PLAIN),
    "Disposition": ("disposition", _PLAIN),
    "DynamicDID": ("dynamic_did", _PLAIN),
    "E164": ("e164", _PLAIN),
    "Event": ("event", _PLAIN),
    "HangupBy": ("hangup_by", _PLAIN),
    "Location": ("location", _PLAIN),
    "RatingComments": ("rating_comments", _PLAIN),
    "Skill": ("skill", _PLAIN),
    "Status": ("status", _PLAIN),
    "TransferType": ("transfer_type", _PLAIN),
    "TransferredTo": ("transferred_to", _PLAIN),
    "Type": ("type", _PLAIN),
    "UUI": ("uui", _PLAIN),
    # plain fields, CallBacks only
    "PhoneName": ("phone_name", _PLAIN),
    "FallBackRule": ("fall_back_rule", _PLAIN),
    "AgentPhoneNumber": ("agent_phone_number", _PLAIN),
    "AgentUniqueID": ("agent_unique_id", _PLAIN),
    "AudioFile": ("audio_file", _PLAIN),
    "AgentStatus": ("agent_status", _PLAIN),
    "CustomerStatus": ("customer_status", _PLAIN),
    "UserName": ("user_name", _PLAIN),
    "CampaignStatus": ("campaign_status", _PLAIN),
    "DataUniqueId": ("data_unique_id", _PLAIN),
    "CallCompleted": ("call_completed", _PLAIN),
    "ConferenceData": ("conference_data", _PLAIN),
}

#: The typed row's known columns, in a stable, readable order: ids, the date and the
#: timestamps first, then the call's description, durations, recordings, and the
#: CallBacks-only columns. Unknown vendor fields are not listed (a writer appends them).
CSV_COLUMNS: tuple[str, ...] = (
    "call_id",
    "ucid",
    "monitor_ucid",
    "call_date",
    "start_time",
    "start_time_utc",
    "end_time",
    "end_time_utc",
    "pickup_time",
    "wrap_up_start_time",
    "wrap_up_end_time",
    "type",
    "event",
    "status",
    "dial_status",
    "agent_dial_status",
    "customer_dial_status",
    "hangup_by",
    "disposition",
    "campaign_name",
    "skill",
    "location",
    "did",
    "dynamic_did",
    "caller_id",
    "e164",
    "dialed_number",
    "dial_out_name",
    "agent_id",
    "agent_name",
    "transfer_type",
    "transferred_to",
    "uui",
    "comments",
    "rating",
    "rating_comments",
    "duration_seconds",
    "talk_time_seconds",
    "time_to_answer_seconds",
    "handling_time_seconds",
    "hold_duration_seconds",
    "wrapup_duration_seconds",
    "conference_duration_seconds",
    "customer_ring_time_seconds",
    "call_duration_seconds",
    "conf_duration_seconds",
    "call_audio",
    "caller_conf_audio_file",
    # CallBacks only
    "audio_file",
    "phone_name",
    "fall_back_rule",
    "agent_phone_number",
    "agent_unique_id",
    "agent_status",
    "customer_status",
    "user_name",
    "campaign_status",
    "data_unique_id",
    "call_completed",
    "conference_data",
    "api_key",
)

_TIME_COLUMNS = ("start_time", "end_time", "pickup_time", "wrap_up_start_time", "wrap_up_end_time")
# column -> the vendor's name, for error messages
_VENDOR_NAME: dict[str, str] = {}
for _vendor, (_column, _kind) in _KNOWN.items():
    _VENDOR_NAME.setdefault(_column, _vendor)

# Columns the provider writes: an unknown vendor field may not take one of these names.
_RESERVED = frozenset(CSV_COLUMNS)

_SEPARATORS = re.compile(r"[^\w]+")
# Zero-width, so linear: "([A-Z]+)([A-Z][a-z])" backtracks over every start of a long capital
# run and took quadratic time (minutes for a 200,000-character key).
_ACRONYM = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_UNDERSCORES = re.compile(r"__+")


# Not memoised: _resolve remembers each key's column in _SPEC, so a day calls this once per new
# key; an lru_cache here saved 0.2% of normalize_cdr's time (within noise; records_speed --caches).
def snake_case(name: str) -> str:
    """A vendor field name in snake_case: ``WrapUpStartTime`` -> ``wrap_up_start_time``.

    Camel case and acronym runs are split (``XYZCode`` -> ``xyz_code``, ``monitorUCID`` ->
    ``monitor_ucid``); digits stay with what precedes them (``E164`` -> ``e164``); other
    characters than letters, digits and ``_`` become ``_``. A name with nothing left
    (``"!!"``) is returned unchanged.
    """
    s = _SEPARATORS.sub("_", name)
    s = _ACRONYM.sub("_", s)
    s = _CAMEL.sub(r"\1_\2", s)
    s = _UNDERSCORES.sub("_", s).strip("_").lower()
    return s or name


def _flat(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


# Per-key lookup table used in the hot loop; unknown keys are added as they are met.
_SPEC: dict[str, tuple[str, int]] = dict(_KNOWN)
_SPEC_LIMIT = 20_000  # a feed with ever-new keys must not grow memory without bound
# Known fields by their name without case or separators ("callid" -> CallID's spec).
_BY_FLAT: dict[str, tuple[str, int]] = {}
for _vendor, _spec in _KNOWN.items():
    for _alias in (_flat(_vendor), _flat(_spec[0])):
        if _BY_FLAT.setdefault(_alias, _spec) != _spec:
            raise RuntimeError(f"ambiguous vendor field alias {_alias!r}")  # pragma: no cover
for _column in CSV_COLUMNS:
    if _column.endswith(("_seconds", "_utc")):  # "DurationSeconds" is a new field, not "Duration"
        _BY_FLAT.pop(_flat(_column), None)
del _vendor, _column, _kind, _spec, _alias


def _resolve(key: str) -> tuple[str, int]:
    """The (column, kind) of a key not in ``_SPEC`` yet, remembered for the next record."""
    if not isinstance(key, str):
        raise ValueError(f"record key {key!r} is not a string")
    spec = _BY_FLAT.get(_flat(key))
    if spec is None:
        column = snake_case(key)
        if column in _RESERVED:
            column += "_vendor"
        spec = (column, _PLAIN)
    if len(_SPEC) < _SPEC_LIMIT:
        _SPEC[key] = spec
    return spec


# ---------------------------------------------------------------- converters

# Memo tables, each kept for what it saves of normalize_cdr's time on a busy day (200,000 calls,
# each start its own second; ``bench/records_speed.py --caches``: the table emptied before every
# record, best of 40 blocks, CPU time; two runs on a loaded 2-core machine): _DURATIONS 37-39%,
# _TIMES_OF_DAY 20-28% (also the gate of _place_times' fast path), _UTC_MINUTE 12-19%, _DATES
# 4-12%. Date arithmetic (_next_day, _prev_day) is not memoised: it runs for a call across
# midnight or a _UTC_MINUTE miss only, and memos of it saved nothing measurable (-2%, noise).
_CACHE_LIMIT = 200_000
_DURATIONS: dict[str, int] = {}
_TIMES_OF_DAY: set[str] = set()
_DATES: set[str] = set()
_UTC_MINUTE: dict[str, str] = {}  # "YYYY-MM-DDTHH:MM" (IST) -> same in UTC


def _remember(cache: dict | set, limit: int = _CACHE_LIMIT) -> None:
    if len(cache) >= limit:
        cache.clear()


def _duration(value: Any, field: str) -> int:
    """``"HH:MM:SS"`` -> seconds; any number of hour digits (``"25:00:00"`` is 90000)."""
    if value.__class__ is str:
        seconds = _DURATIONS.get(value)
        if seconds is not None:
            return seconds
        parts = value.split(":")
        if len(parts) == 3:
            hh, mm, ss = parts
            if (
                hh.isascii()
                and hh.isdigit()
                and len(mm) == 2
                and len(ss) == 2
                and mm.isascii()
                and mm.isdigit()
                and ss.isascii()
                and ss.isdigit()
                and mm < "60"
                and ss < "60"
            ):
                seconds = int(hh) * 3600 + int(mm) * 60 + int(ss)
                _remember(_DURATIONS)
                _DURATIONS[value] = seconds
                return seconds
    raise ValueError(f"{field}: expected a duration 'HH:MM:SS', got {value!r}")


def _id(value: Any, field: str) -> str:
    """An id as its exact decimal string; a float would already have lost digits."""
    cls = value.__class__
    if cls is int:
        return str(value)
    if cls is Decimal and value == value.to_integral_value():
        return str(int(value))
    if cls is float and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    raise ValueError(f"{field}: expected an integer id, got {value!r} (a float cannot hold it exactly)")


def _number(value: Any, field: str) -> int | float | Decimal:
    cls = value.__class__
    # A JSON number with a fraction or an exponent arrives as an exact Decimal and stays one: the
    # files then hold the number as sent, digit for digit (a float would keep 17 digits).
    if cls is int or cls is float or cls is Decimal:
        return value
    if cls is str:
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if math.isfinite(number):
                    return number
    raise ValueError(f"{field}: expected a number, got {value!r}")


def _check_time_of_day(value: str, field: str) -> None:
    if value in _TIMES_OF_DAY:
        return
    if (
        len(value) == 8
        and value.isascii()
        and value[2] == ":"
        and value[5] == ":"
        and (value[0:2] + value[3:5] + value[6:8]).isdigit()
        and value[0:2] < "24"
        and value[3:5] < "60"
        and value[6:8] < "60"
    ):
        _TIMES_OF_DAY.add(value)  # at most 86,400 entries
        return
    raise ValueError(f"{field}: expected a time 'HH:MM:SS', got {value!r}")


def _check_date(value: Any, field: str) -> None:
    if value.__class__ is str and value in _DATES:
        return
    if (
        value.__class__ is str
        and len(value) == 10
        and value.isascii()
        and value[4] == "-"
        and value[7] == "-"
        and (value[0:4] + value[5:7] + value[8:10]).isdigit()
    ):
        try:
            _dt.date.fromisoformat(value)
        except ValueError:
            pass
        else:
            _remember(_DATES)
            _DATES.add(value)
            return
    raise ValueError(f"{field}: expected a date 'YYYY-MM-DD', got {value!r}")


def _next_day(date: str) -> str:
    return (_dt.date.fromisoformat(date) + _dt.timedelta(days=1)).isoformat()


def _prev_day(date: str) -> str:
    return (_dt.date.fromisoformat(date) - _dt.timedelta(days=1)).isoformat()


def _utc(ist: str) -> str:
    """``2024-12-06T12:20:00+05:30`` -> ``2024-12-06T06:50:00Z`` (IST has no DST)."""
    minute = ist[:16]
    utc_minute = _UTC_MINUTE.get(minute)
    if utc_minute is None:
        date = minute[:10]
        total = int(minute[11:13]) * 60 + int(minute[14:16]) - _IST_MINUTES
        if total < 0:
            total += 24 * 60
            date = _prev_day(date)
        utc_minute = f"{date}T{total // 60:02d}:{total % 60:02d}"
        _remember(_UTC_MINUTE)
        _UTC_MINUTE[minute] = utc_minute
    return utc_minute + ist[16:19] + "Z"


def _place_time_slow(value: Any, column: str, date: str | None, start_tod: str | None) -> str:
    """Validate and place one time value that missed the memoised fast path."""
    field = _VENDOR_NAME[column]
    if value.__class__ is str:
        if len(value) == 8:
            _check_time_of_day(value, field)
            if date is None:
                raise ValueError(f"{field}: time of day {value!r} but the record has no CallDate")
            _check_date(date, "CallDate")
            day = _next_day(date) if start_tod is not None and value < start_tod else date
            return day + "T" + value + IST_OFFSET
        if len(value) == 19 and (value[10] == " " or value[10] == "T"):
            _check_date(value[:10], field)
            _check_time_of_day(value[11:19], field)
            return value[:10] + "T" + value[11:19] + IST_OFFSET
    raise ValueError(f"{field}: expected a time 'HH:MM:SS' or 'YYYY-MM-DD HH:MM:SS', got {value!r}")


def _place_times(out: dict[str, Any]) -> None:
    """Rewrite the raw time columns of ``out`` as ISO-8601 IST timestamps; add the UTC twins.

    A time of day is on ``CallDate``, or on the next day when it is earlier than the
    ``StartTime`` (a call across midnight).
    """
    date = out.get("call_date")
    start = out.get("start_time")
    start_tod = None
    if start.__class__ is str:
        if len(start) == 8:
            start_tod = start
        elif len(start) == 19:
            start_tod = start[11:19]
            if date is None:
                date = start[:10]
    fast = date in _DATES  # the date is valid: validated times of day can be placed directly
    times_of_day = _TIMES_OF_DAY
    for column in _TIME_COLUMNS:
        value = out.get(column)
        if value is None:
            continue
        if fast and value.__class__ is str and value in times_of_day:
            if start_tod is not None and value < start_tod:
                out[column] = _next_day(date) + "T" + value + IST_OFFSET
            else:
                out[column] = date + "T" + value + IST_OFFSET
        else:
            out[column] = _place_time_slow(value, column, date, start_tod)
    if "start_time" in out:
        start = out["start_time"]
        if start is None:
            out["start_time_utc"] = None
        else:
            out["start_time_utc"] = _utc(start)
            if out.get("call_date") is None:
                out["call_date"] = start[:10]  # CallBacks records carry no CallDate
    if "end_time" in out:
        end = out["end_time"]
        out["end_time_utc"] = None if end is None else _utc(end)


# ---------------------------------------------------------------- public API


def _normalize(record: dict[str, Any]) -> dict[str, Any]:
    spec_of = _SPEC
    durations = _DURATIONS
    out: dict[str, Any] = {}
    timed = False
    for key, value in record.items():
        try:
            column, kind = spec_of[key]
        except KeyError:
            column, kind = _resolve(key)
        if value is None or value == "" or value == "None":
            out[column] = None
            if kind == _TIME:
                timed = True
        elif not kind:
            out[column] = value
        elif kind == _DURATION:
            seconds = durations.get(value) if value.__class__ is str else None
            out[column] = _duration(value, key) if seconds is None else seconds
        elif kind == _TIME:
            out[column] = value
            timed = True
        elif kind == _ID:
            out[column] = value if value.__class__ is str else _id(value, key)
        elif kind == _NUMBER:
            out[column] = _number(value, key)
        elif kind == _DATE:
            _check_date(value, key)
            out[column] = value
        else:  # _REDACT
            out[column] = None
    if len(out) != len(record):  # two keys landed in one column
        _check_collisions(record)
    if timed:
        _place_times(out)
    return out


def _check_collisions(record: dict[str, Any]) -> None:
    """Two vendor keys with one column (``DID`` and ``Did``): fine when they agree, else refused."""
    first: dict[str, tuple[str, Any]] = {}
    for key, value in record.items():
        column, kind = _SPEC.get(key) or _resolve(key)
        if kind == _REDACT or column not in first:
            first[column] = (key, value)
            continue
        other_key, other = first[column]
        if not (_is_null(value) and _is_null(other)) and (value != other or type(value) is not type(other)):
            raise ValueError(
                f"{other_key!r} and {key!r} both map to the column {column!r} with different values "
                f"({_short(other)} and {_short(value)}); the provider will not pick one "
                "(normalize=False keeps the vendor's records as they are)"
            )


def _is_null(value: Any) -> bool:
    return value is None or value == "" or value == "None"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def normalize_cdr(record: dict[str, Any]) -> dict[str, Any]:
    """The typed row of one fetchCDRDetails record (see the module docstring and the schema).

    Raises ``ValueError`` (naming the field and the value) for a malformed duration,
    time, date, rating or id, and ``TypeError`` for a record that is not a mapping.
    """
    if record.__class__ is not dict:
        _check_mapping(record)
    return _normalize(record)


def normalize_callback(record: dict[str, Any]) -> dict[str, Any]:
    """The typed row of one CDR-in-CallBacks record.

    Its ``StartTime``/``EndTime`` are full ``YYYY-MM-DD HH:MM:SS`` IST times; ``call_date``
    is derived from ``StartTime`` when the record has none. The ``Apikey`` field holds the
    account's API key: the ``api_key`` column is always present and always ``None``.
    """
    if record.__class__ is not dict:
        _check_mapping(record)
    out = _normalize(record)
    out["api_key"] = None
    return out


def _check_mapping(record: Any) -> None:
    if not isinstance(record, Mapping):
        raise TypeError(f"record: expected a mapping of field names to values, got {type(record).__name__}")


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the typed row, as a fresh dict."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
