"""Incremental parsing of fetchCDRDetails bodies (pure)."""

from __future__ import annotations

import io
import json

import pytest

from airflow_provider_ozonetel.streaming import MalformedBody, iter_details

# Pure logic (or the emulator): the same on every Airflow, so make test-matrix skips it.
pytestmark = pytest.mark.version_independent

BIG = 31733467784618213  # > 2**53: a float would turn it into ...212


def run(body: bytes):
    records = []
    gen = iter_details(io.BytesIO(body))
    while True:
        try:
            records.append(next(gen))
        except StopIteration as done:
            return records, done.value


def body_of(n, *, first=None, last=None, pad=0):
    rows = ",".join(json.dumps({"UCID": BIG + i, "Rating": 4.5, "Pad": "x" * pad}) for i in range(n))
    head = f"{first}," if first else ""
    tail = f",{last}" if last else ""
    return f'{{{head}"details":[{rows}]{tail}}}'.encode()


def test_small_body_records_and_envelope():
    records, envelope = run(body_of(2, last='"message":"success","status":"success"'))
    assert [r["UCID"] for r in records] == [BIG, BIG + 1]
    assert isinstance(records[0]["UCID"], int) and records[0]["Rating"] == 4.5
    assert envelope.fields == {"message": "success", "status": "success"}


@pytest.mark.parametrize(
    ("first", "last"),
    [(None, '"message":"success","status":"success"'), ('"status":"success","message":"success"', None)],
)
def test_large_body_envelope_before_or_after_the_array(first, last):
    records, envelope = run(body_of(3000, first=first, last=last, pad=40))
    assert len(records) == 3000 and records[-1]["UCID"] == BIG + 2999
    assert envelope.fields == {"message": "success", "status": "success"}


def test_large_body_with_error_at_the_end_is_reported_in_the_envelope():
    last = '"message":"API rate limit has been exceeded","status":"error"'
    records, envelope = run(body_of(3000, last=last, pad=40))
    assert len(records) == 3000
    assert (
        envelope.fields["status"] == "error"
        and envelope.fields["message"] == "API rate limit has been exceeded"
    )


def test_message_holding_a_bracket_is_read_right():
    _, envelope = run(body_of(3000, last='"message":"odd ] text","status":"success"', pad=40))
    assert envelope.fields == {"message": "odd ] text", "status": "success"}


def test_error_body_without_details():
    records, envelope = run(b'{"message": "Missing fromDate and toDate","status": "fail"}')
    assert records == [] and envelope.fields["status"] == "fail"


@pytest.mark.parametrize("cut", [10, 5000, -3])
def test_truncated_body_raises_after_the_complete_records(cut):
    body = body_of(3000, last='"message":"success","status":"success"', pad=40)
    got = []
    with pytest.raises(MalformedBody) as info:
        for record in iter_details(io.BytesIO(body[:cut])):
            got.append(record)
    assert "incomplete or invalid JSON" in str(info.value)
    assert info.value.records == len(got) <= 3000  # complete records only; the cut is still an error


def test_html_page_is_malformed():
    with pytest.raises(MalformedBody):
        run(b"<html><body>502 Bad Gateway</body></html>")
