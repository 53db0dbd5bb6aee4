"""Generated fetchCDRDetails answers, and what a day pull may do with each (hypothesis).

Shared by ``tests/unit/test_fuzz_answers.py`` (a modest number of examples in ``make test``) and
``bench/fuzz.py`` (a large run, whose figures go in ``bench/RESULTS.md``).

A case is a body (bytes) plus what the generator knows of it: ``must_succeed`` when it built a
valid success with valid records and sent it whole in UTF-8. Whatever the case, the day pull must
either fail with a typed error (an :class:`OzonetelError`) and leave an earlier file byte for byte
as it was, or write a file whose rows are the body's records, in order; never a file with the API
key in any spelling, and never an empty file unless the body is a success with ``"details": []``.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from airflow_provider_ozonetel.secret_forms import echo_forms
from tests.answers import cdr_record

KEY = 'K3y+/=&<>"x-0042'
FORMS = sorted(echo_forms(KEY), key=len, reverse=True)
DAY = "2026-11-19"
SUCCESS = ["success", "SUCCESS", "Success", "true", "True", True]
FAILING = ["false", "fail", "error", False, None, 0, 1, "ok", "", ["success"], {"status": "success"}]
KEY_FIELDS = ["Apikey", "apikey", "APIKEY", "api_key", "ApiKey", "API-KEY", "Api_Key"]


@dataclass(frozen=True)
class Case:
    body: bytes
    must_succeed: bool
    kind: str


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
key_echo = st.sampled_from(FORMS)


def any_casing(draw: st.DrawFn, name: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(ch.upper() if flip else ch.lower() for ch, flip in zip(name, flips, strict=True))


@st.composite
def valid_record(draw: st.DrawFn) -> dict[str, Any]:
    """The docs sample of the asked day, with unknown fields, huge integers and key echoes."""
    record: dict[str, Any] = dict(cdr_record(draw(st.integers(0, 10**6))))
    if draw(st.booleans()):
        record["UCID"] = draw(st.integers(2**53, 2**80))  # past 2**63 too: kept exactly
    names = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=6), max_size=3, unique=True))
    for name in names:  # unknown fields, the name in any casing ("Xab", "XAB"...), any JSON value
        record[any_casing(draw, "x" + name)] = draw(json_values)
    if draw(st.booleans()):
        record[draw(st.sampled_from(KEY_FIELDS))] = draw(key_echo)
    if draw(st.booleans()):
        record["Xnested"] = {draw(st.sampled_from(KEY_FIELDS)): KEY, "list": [f"k={draw(key_echo)}"]}
    if draw(st.booleans()):
        record["Comments"] = f"echo {draw(key_echo)} end"
    if draw(st.booleans()):
        record[KEY] = "the key as a field name"
    return record


def _broken_record(draw: st.DrawFn) -> Any:
    record = dict(cdr_record(draw(st.integers(0, 10**6))))
    how = draw(st.sampled_from(["date", "no_date", "id_list", "duration", "collision", "element"]))
    if how == "date":
        record["CallDate"] = draw(st.sampled_from(["2026-11-18", "19-11-2026", "", None, 20261119]))
    elif how == "no_date":
        del record["CallDate"]
    elif how == "id_list":
        record[draw(st.sampled_from(["UCID", "CallID"]))] = draw(st.sampled_from([[1], {"a": 1}]))
    elif how == "duration":
        record["Duration"] = draw(st.sampled_from(["1:2", "00:61:00", 56, "x"]))
    elif how == "collision":
        record["Did"] = "another-did"
    else:
        return draw(st.sampled_from([None, 0, 1.5, "record", [], [record], True]))
    return record


@st.composite
def envelope_body(draw: st.DrawFn) -> tuple[Any, bool, str]:
    """A JSON document and whether it is a valid success whose records are all valid."""
    kind = draw(st.sampled_from(["valid", "valid", "valid", "broken_record", "odd_envelope", "random"]))
    if kind == "random":
        return draw(json_values), False, kind
    details: Any = draw(st.lists(valid_record(), max_size=4))
    if kind == "broken_record":
        details.insert(draw(st.integers(0, len(details))), _broken_record(draw))
    status: Any = draw(st.sampled_from(SUCCESS))
    fields: dict[str, Any] = {}
    if kind == "odd_envelope":
        how = draw(st.sampled_from(["status", "no_details", "details_type"]))
        if how == "status":
            status = draw(st.sampled_from(FAILING))
        elif how == "no_details":
            details = None
        else:
            details = draw(st.sampled_from([{}, {"0": cdr_record(0)}, "[]", 0, None, True]))
    fields["status"] = status
    fields["message"] = draw(st.sampled_from(["success", "", "Invalid campaignName", f"key {KEY}"]))
    for name in draw(st.lists(st.sampled_from(["totalCount", "notes", "page", "extra"]), unique=True)):
        fields[name] = draw(json_values)
    if draw(st.booleans()):
        fields["padding"] = "p" * draw(st.integers(16_000, 40_000))  # envelope past 16 KiB
    order = draw(st.permutations(["details", *fields]))
    document = {}
    for name in order:
        if name == "details":
            if details is not None:
                document["details"] = details
        else:
            document[name] = fields[name]
    return document, kind == "valid", kind


@st.composite
def cases(draw: st.DrawFn) -> Case:
    document, valid, kind = draw(envelope_body())
    text = json.dumps(
        document,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, None, 0, 2])),
        separators=draw(st.sampled_from([None, (",", ":")])),
    )
    body = text.encode("utf-8")
    if draw(st.booleans()):
        body = codecs.BOM_UTF8 + body
    damage = draw(st.sampled_from(["none"] * 6 + ["truncate", "utf16", "latin1", "garbage", "nesting"]))
    if damage == "truncate" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif damage == "utf16":
        body = text.encode("utf-16")
    elif damage == "latin1":
        body = text.encode("latin-1", "replace")
    elif damage == "garbage":
        body = draw(st.binary(max_size=64)) + body[: draw(st.integers(0, len(body)))]
    elif damage == "nesting":
        depth = draw(st.integers(500, 200_000))
        body = b'{"status":"success","details":[{"a":' + b"[" * depth + b"]" * depth + b"}]}"
    must_succeed = valid and (damage == "none" or (damage == "latin1" and text.isascii()))
    return Case(body=body, must_succeed=must_succeed, kind=f"{kind}/{damage}")


def reference(body: bytes) -> Any:
    """The body as the standard library reads it (strict UTF-8, a BOM allowed), or None."""
    try:
        return json.loads(body.removeprefix(codecs.BOM_UTF8).decode("utf-8"))
    except (ValueError, RecursionError):
        return None


def is_success(status: Any) -> bool:
    return status is True or (isinstance(status, str) and status.strip().lower() in ("success", "true"))


def scrubbed(value: Any) -> Any:
    """What a record must look like once written: every key spelling replaced by ***, every field
    named for the key ***. (Written independently of the provider's ``scrub.py``.)"""
    if isinstance(value, dict):
        out = {}
        for name, item in value.items():
            flat = "".join(ch for ch in name.lower() if ch.isalnum())
            out[scrubbed(name)] = "***" if flat == "apikey" and item is not None else scrubbed(item)
        return out
    if isinstance(value, list):
        return [scrubbed(item) for item in value]
    if isinstance(value, str):
        for form in FORMS:
            value = value.replace(form, "***")
    return value


def one_row_per_leg(details: list[Any]) -> list[Any]:
    """The records a day file holds: a leg the vendor sent twice (one UCID, ``UCID``/``Ucid``/``ucid``,
    a number or its digits) is written once, the first time (README, ``window_hours``)."""
    seen: set[str] = set()
    kept = []
    for record in details:
        leg = None
        for name in ("UCID", "Ucid", "ucid"):
            value = record.get(name)
            text = "" if value is None or isinstance(value, bool) else str(value).strip()
            if text and text.lower() not in ("none", "null"):
                leg = str(int(text)) if text.isdigit() else text
                break
        if leg is not None:
            if leg in seen:
                continue
            seen.add(leg)
        kept.append(record)
    return kept


def leaked(text: str) -> list[str]:
    """The spellings of the key found in ``text`` (CSV doubles quotes, so that spelling too)."""
    return [form for form in [*FORMS, KEY.replace('"', '""')] if form in text]
