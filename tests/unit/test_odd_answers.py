"""Odd fetchCDRDetails answers: never a silent empty day, never a wrong row.

Each answer goes through the day operator (requests-mock) with an earlier file at the
destination. A refused answer raises a typed error and leaves that file byte for byte as it
was (and no temporary file behind); an accepted one writes exactly the body's records.
"""

from __future__ import annotations

import io
import json
import sys
import tracemalloc

import pendulum
import pytest

from airflow_provider_ozonetel.exceptions import (
    OzonetelAuthError,
    OzonetelError,
    OzonetelRequestError,
    OzonetelUnexpectedAnswerError,
)
from airflow_provider_ozonetel.operators.ozonetel import (
    OzonetelCallDetailsOperator,
    OzonetelCDRDetailsOperator,
)
from tests.answers import (
    BIG_UCID,
    CALLBACKS_URL,
    CDR_URL,
    TOKEN,
    TOKEN_URL,
    cdr_record,
)

DAY = "2026-11-19"  # the fixtures pin now at 2026-11-20 12:00 IST
RUN = pendulum.datetime(2026, 11, 20, 3, 30, tz="Asia/Kolkata")
CONTEXT = {"data_interval_start": RUN, "data_interval_end": RUN, "logical_date": RUN, "run_id": "r1"}
EARLIER = b'{"ucid": "1", "note": "an earlier good day"}\n'


@pytest.fixture
def vendor(requests_mock, hook):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    return requests_mock


@pytest.fixture
def out(tmp_path):
    """The day's file, holding an earlier good pull."""
    path = tmp_path / "out" / f"ozonetel_cdr_{DAY}.jsonl"
    path.parent.mkdir()
    path.write_bytes(EARLIER)
    return path


def pull(out, fake_clock, **kwargs):
    kwargs.setdefault("destination", f"file://{out.parent}/")
    op = OzonetelCDRDetailsOperator(task_id="pull", hook_params={"clock": fake_clock.as_clock()}, **kwargs)
    return op.execute(CONTEXT)


def refused(out, fake_clock, error=OzonetelUnexpectedAnswerError, match=None, **kwargs):
    """Run the pull; it must raise ``error`` and leave the earlier file exactly as it was."""
    with pytest.raises(error, match=match) as info:
        pull(out, fake_clock, **kwargs)
    assert out.read_bytes() == EARLIER
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temporary file left
    return info.value


def rows_of(out):
    return [json.loads(line) for line in out.read_text().splitlines()]


def body(details, **envelope) -> str:
    envelope = envelope or {"message": "success", "status": "success"}
    return json.dumps({"details": details, **envelope})


R0, R1 = cdr_record(0), cdr_record(1)


def body_with_uui(raw_json: str) -> str:
    """A success with one record whose UUI is ``raw_json``, verbatim."""
    record = json.dumps(R0).replace('"UUI": ""', f'"UUI": {raw_json}')
    return '{"status":"success","message":"success","details":[' + record + "]}"


# ---------------------------------------------------------------- details that are not records


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ([None], r"details\[0\] is null, not a call record"),
        ([R0, None, R1], r"after 1 records: details\[1\] is null, not a call record"),
        ([7], r"details\[0\] is a number, not a call record"),
        ([R0, "x"], r"details\[1\] is a string, not a call record"),
        ([[R0]], r"details\[0\] is a list, not a call record"),
        ([True], r"details\[0\] is a boolean, not a call record"),
    ],
)
@pytest.mark.parametrize("normalize", [True, False])
def test_a_details_element_that_is_not_a_record_is_refused(
    out, fake_clock, vendor, details, message, normalize
):
    vendor.get(CDR_URL, text=body(details))
    error = refused(out, fake_clock, match=message, normalize=normalize)
    assert "no result was kept" in str(error)


def test_an_error_after_a_null_element_is_the_error_reported(out, fake_clock, vendor):
    vendor.get(CDR_URL, text=body([None], status="fail", message="Invalid campaignName"))
    refused(out, fake_clock, error=OzonetelRequestError, match="Invalid campaignName")


# ---------------------------------------------------------------- success without a details list


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        ({"status": "success", "message": "success"}, "missing"),
        ({"status": "success", "message": "success", "details": {}}, "an object"),
        ({"status": "success", "message": "success", "details": {"0": {"UCID": 1}}}, "an object"),
        ({"status": "success", "message": "success", "details": "none today"}, "a string"),
        ({"status": "success", "message": "success", "details": None}, "null"),
        ({"status": "success", "message": "success", "details": 0}, "a number"),
        ({"status": True, "details": "[]"}, "a string"),
    ],
)
def test_a_success_without_a_details_list_is_not_an_empty_day(out, fake_clock, vendor, answer, shown):
    vendor.get(CDR_URL, text=json.dumps(answer))
    refused(out, fake_clock, match=rf"success whose 'details' is {shown}, not a list")


def test_a_large_success_without_a_details_list_is_refused(out, fake_clock, vendor):
    answer = {"status": "success", "message": "success", "details": {"x": "y" * 40_000}}
    vendor.get(CDR_URL, text=json.dumps(answer))
    refused(out, fake_clock, match="'details' is an object")


def test_only_an_empty_details_list_is_an_empty_day(out, fake_clock, vendor):
    vendor.get(CDR_URL, text=body([]))
    result = pull(out, fake_clock)
    assert (result["rows"], result["calls"]) == (0, 0)
    assert out.read_bytes() == b""


@pytest.mark.parametrize("status", ["success", "SUCCESS", "true", "True", True])
def test_every_spelling_of_success_is_a_success(out, fake_clock, vendor, status):
    vendor.get(CDR_URL, text=body([R0, R1], status=status, message="success"))
    assert pull(out, fake_clock)["rows"] == 2
    assert [r["ucid"] for r in rows_of(out)] == [str(BIG_UCID), str(BIG_UCID + 1)]


@pytest.mark.parametrize("status", [False, "false", "fail", "error", None, 1, "1", "ok", ["success"]])
def test_anything_else_is_not_a_success(out, fake_clock, vendor, status):
    vendor.get(CDR_URL, text=body([R0], status=status, message="something"))
    refused(out, fake_clock, error=OzonetelError)


@pytest.mark.parametrize(
    "answer",
    [
        b"[]",
        b'"success"',
        b"null",
        b"42",
        b"[{}]",
        b'{"details": [], "status": "success", "status": "false"}',
    ],
)
def test_a_body_that_is_not_the_documented_object_is_refused(out, fake_clock, vendor, answer):
    vendor.get(CDR_URL, content=answer)
    refused(out, fake_clock, error=OzonetelError)


def test_a_top_level_key_given_twice_is_refused(out, fake_clock, vendor):
    answer = '{"status":"success","details":[' + json.dumps(R0) + '],"message":"ok","details":[]}'
    vendor.get(CDR_URL, text=answer)
    refused(out, fake_clock, match="'details' twice")


# ---------------------------------------------------------------- bodies the vendor may really send


def test_a_utf8_byte_order_mark_is_skipped(out, fake_clock, vendor):
    vendor.get(CDR_URL, content=b"\xef\xbb\xbf" + body([R0]).encode())
    assert pull(out, fake_clock)["rows"] == 1


def test_a_byte_order_mark_alone_before_an_error_is_still_the_error(out, fake_clock, vendor):
    vendor.get(
        CDR_URL, content=b"\xef\xbb\xbf" + b'{"status":"false","message":"Missing userName or apiKey"}'
    )
    refused(out, fake_clock, error=OzonetelAuthError, match="Missing userName or apiKey")


@pytest.mark.parametrize("where", ["before", "after", "both"])
def test_a_large_body_with_other_keys_around_details(out, fake_clock, vendor, where):
    records = [cdr_record(i) for i in range(60)]  # about 80 KB
    extra = {"totalCount": 60, "notes": ["a ] b", {"c": [1, 2]}], "page": {"no": 1, "of": [1]}}
    envelope = {"status": "success", "message": "success"}
    before = {**extra, **envelope} if where in ("before", "both") else {}
    after = (
        {**extra, **envelope} if where == "after" else ({"tail": [[]], "x": "]"} if where == "both" else {})
    )
    text = json.dumps({**before, "details": records, **after})
    assert len(text) > 64_000
    vendor.get(CDR_URL, text=text)
    assert pull(out, fake_clock)["rows"] == 60


def test_a_large_body_with_a_failing_status_after_an_array_key_is_an_error(out, fake_clock, vendor):
    records = [cdr_record(i) for i in range(30)]
    text = json.dumps({"details": records, "status": "fail", "errors": [], "message": "Invalid campaignName"})
    vendor.get(CDR_URL, text=text)
    refused(out, fake_clock, error=OzonetelRequestError, match="Invalid campaignName")


@pytest.mark.parametrize("ucid", [2**63 - 1, 2**63, 2**64, 2**64 + 1, 10**30, -(2**63) - 1])
def test_integers_of_any_size_are_kept_exactly(out, fake_clock, vendor, ucid):
    text = body([{**R0, "UCID": ucid, "CallID": ucid, "Rating": 4.75, "Big": 1.5e300}])
    vendor.get(CDR_URL, text=text)
    pull(out, fake_clock)
    (row,) = rows_of(out)
    assert row["ucid"] == row["call_id"] == str(ucid)
    assert '"rating":4.75' in out.read_text() and '"big":1.5e+300' in out.read_text().lower()
    pull(out, fake_clock, normalize=False)
    raw = out.read_text()
    assert f'"UCID":{ucid},' in raw and f'"CallID":{ucid},' in raw


def test_integers_above_2_pow_63_reach_csv_exactly(out, fake_clock, vendor):
    vendor.get(CDR_URL, text=body([{**R0, "UCID": 2**64 + 7, "Other": {"n": 2**70}}]))
    pull(out, fake_clock, file_format="csv")
    text = (out.parent / f"ozonetel_cdr_{DAY}.csv").read_text()
    assert str(2**64 + 7) in text and str(2**70) in text


# ---------------------------------------------------------------- nesting and memory


@pytest.mark.parametrize("normalize", [True, False])
def test_a_record_nested_deeper_than_python_writes_is_refused(out, fake_clock, vendor, normalize):
    deep = "[" * 50_000 + "]" * 50_000
    vendor.get(CDR_URL, text=body_with_uui(deep))
    refused(out, fake_clock, match="nested too deeply", normalize=normalize)


def test_an_envelope_nested_deeper_than_python_reads_is_refused(out, fake_clock, vendor):
    deep = "[" * 50_000 + "]" * 50_000
    vendor.get(CDR_URL, text='{"status":"success","details":[],"x":' + deep + "}")
    refused(out, fake_clock, match="nested too deeply")


class _Endless(io.RawIOBase):
    """A body that never ends: ``prefix`` then ``filler`` forever."""

    def __init__(self, prefix: bytes, filler: bytes):
        self._pending = prefix
        self._filler = filler * (65536 // len(filler))
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._pending or self._filler
        self._pending = b""
        n = min(len(buffer), len(data))
        buffer[:n] = data[:n]
        self.served += n
        return n


TOO_BIG = "more than 1024 KiB without a complete record"
TOO_DEEP = r"nested too deeply: more than 1024 '\[' or '\{' without a complete record"


@pytest.mark.parametrize(
    ("prefix", "filler", "message"),
    [
        (b'{"status":"success","details":[', b"[", TOO_DEEP),  # nesting without end
        (b'{"status":"success","details":[{"a":', b'{"b":', TOO_DEEP),
        (b'{"status":"success","details":[{"a":"', b"x", TOO_BIG),  # one endless string in a record
        (b'{"status":"success","details":[{"a":[', b"1,", TOO_BIG),  # one endless record
        (b'{"status":"success","message":"', b"y", TOO_BIG),  # an endless envelope
        (b'{"status":"success","details":[', b"{},", None),  # endless tiny records: no bound hit
    ],
)
def test_a_crafted_endless_body_is_refused_in_bounded_memory(
    out, fake_clock, vendor, prefix, filler, message
):
    stream = _Endless(prefix, filler)
    if message is None:  # records keep coming: what stops them is the first one's missing CallDate
        message, stream = r"details\[0\] has no CallDate", _Endless(prefix, filler)
    vendor.get(CDR_URL, body=stream)
    tracemalloc.start()
    try:
        refused(out, fake_clock, match=message)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stream.served < 2 * 1024 * 1024  # it stopped reading soon after the bound
    assert peak < 64 * 1024 * 1024


def test_deep_nesting_is_refused_in_the_hook_as_well(hook, vendor):
    vendor.get(CDR_URL, body=_Endless(b'{"status":"success","details":[', b"["))
    with pytest.raises(OzonetelUnexpectedAnswerError, match=TOO_DEEP):
        hook.get_cdr_details(DAY)


def test_bracket_dense_records_within_the_bound_are_read(out, fake_clock, vendor):
    records = [{**cdr_record(i), "Notes": "[{" * 300, "Tags": [[1], [2], {"a": [3]}]} for i in range(400)]
    vendor.get(CDR_URL, text=body(records))
    assert pull(out, fake_clock)["rows"] == 400
    assert rows_of(out)[399]["notes"] == "[{" * 300


# ---------------------------------------------------------------- records that are not the asked day's


def test_a_record_of_another_day_is_refused(out, fake_clock, vendor):
    vendor.get(CDR_URL, text=body([R0, {**R1, "CallDate": "2026-11-18"}]))
    refused(
        out, fake_clock, match=r"details\[1\] has CallDate '2026-11-18', not the day asked for \(2026-11-19\)"
    )


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("date", [None, "", "None", 20261119, "19-11-2026"])
def test_a_record_without_the_asked_date_is_refused(out, fake_clock, vendor, date, normalize):
    vendor.get(CDR_URL, text=body([{**R0, "CallDate": date}]))
    refused(out, fake_clock, match=r"details\[0\] has (no CallDate|CallDate)", normalize=normalize)


def test_a_record_missing_calldate_is_refused(out, fake_clock, vendor):
    record = {k: v for k, v in R0.items() if k != "CallDate"}
    vendor.get(CDR_URL, text=body([record]))
    refused(out, fake_clock, match=r"details\[0\] has no CallDate")


def test_calldate_in_another_casing_is_read(out, fake_clock, vendor):
    record = {("calldate" if k == "CallDate" else k): v for k, v in R0.items()}
    vendor.get(CDR_URL, text=body([record]))
    assert pull(out, fake_clock)["rows"] == 1
    assert rows_of(out)[0]["call_date"] == DAY


@pytest.mark.parametrize("field", ["CallID", "UCID"])
@pytest.mark.parametrize("value", [[BIG_UCID], {"id": BIG_UCID}])
@pytest.mark.parametrize("window_hours", [None, 12])
def test_an_id_that_is_a_list_or_object_is_refused(out, fake_clock, vendor, field, value, window_hours):
    vendor.get(CDR_URL, text=body([R0, {**R1, field: value}]))
    refused(out, fake_clock, match=rf"details\[1\]: {field} is an? (list|object), not an id", normalize=False)


# ---------------------------------------------------------------- filters and columns


@pytest.mark.parametrize("ucid", [0, "0"])
def test_ucid_zero_is_a_filter_not_no_filter(out, fake_clock, vendor, ucid):
    cdr = vendor.get(CDR_URL, text=body([]))
    pull(out, fake_clock, ucid=ucid, monitor_ucid=ucid)
    assert cdr.last_request.json()["ucid"] == "0"
    assert cdr.last_request.json()["monitorUCID"] == "0"


def test_an_empty_filter_template_is_no_filter(out, fake_clock, vendor):
    cdr = vendor.get(CDR_URL, text=body([]))
    pull(out, fake_clock, ucid="", campaign_name="")
    assert "ucid" not in cdr.last_request.json() and "campaignName" not in cdr.last_request.json()


@pytest.mark.parametrize(
    ("first", "second"),
    [("DID", "Did"), ("CallID", "call_id"), ("StartTimeUTC", "start_time_utc"), ("FooBar", "foo_bar")],
)
def test_two_keys_for_one_column_with_different_values_are_refused(out, fake_clock, vendor, first, second):
    record = {**R0, first: "111", second: "222"}
    vendor.get(CDR_URL, text=body([record]))
    refused(out, fake_clock, match=rf"'{first}' and '{second}' both map to the column '\w+' with different")


def test_two_keys_for_one_column_that_agree_are_one_column(out, fake_clock, vendor):
    vendor.get(CDR_URL, text=body([{**R0, "DID": "90050", "Did": "90050", "Skill": "", "skill": None}]))
    pull(out, fake_clock)
    (row,) = rows_of(out)
    assert row["did"] == "90050" and row["skill"] is None


def test_two_keys_for_one_column_are_kept_apart_in_raw_records(out, fake_clock, vendor):
    vendor.get(CDR_URL, text=body([{**R0, "DID": "111", "Did": "222"}]))
    pull(out, fake_clock, normalize=False)
    (row,) = rows_of(out)
    assert (row["DID"], row["Did"]) == ("111", "222")


# ---------------------------------------------------------------- CallBacks


@pytest.mark.parametrize(
    ("message", "match"),
    [
        ([None], r"message\[0\] is null, not a call record"),
        ([{"UCID": "1"}, "x"], r"message\[1\] is a string, not a call record"),
        (42, "its message is a number"),
        (None, "its message is null"),
    ],
)
def test_callbacks_elements_that_are_not_records_are_refused(tmp_path, fake_clock, vendor, message, match):
    vendor.get(CALLBACKS_URL, json={"status": "success", "message": message})
    op = OzonetelCallDetailsOperator(
        task_id="look",
        ucids=[BIG_UCID],
        report_type="historical",
        destination=f"file://{tmp_path}/calls/",
        hook_params={"clock": fake_clock.as_clock()},
    )
    with pytest.raises(OzonetelUnexpectedAnswerError, match=match):
        op.execute(CONTEXT)
    assert not (tmp_path / "calls").exists() or list((tmp_path / "calls").iterdir()) == []


@pytest.fixture
def default_recursion_limit():
    """Python's default recursion limit for the test: Airflow raises the process's to 5000 each
    time it deep-copies an operator (BaseOperator.__deepcopy__), which an earlier test's
    dag.test() may have done in this process (seen on Airflow 3.0.6)."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(before)


@pytest.mark.usefixtures("default_recursion_limit")
@pytest.mark.parametrize("normalize", [True, False])
def test_a_record_nested_to_the_bound_is_refused_cleanly(out, fake_clock, vendor, normalize):
    deep = "[" * 1000 + "]" * 1000  # within the reader's bound, beyond what the writers recurse
    vendor.get(CDR_URL, text=body_with_uui(deep))
    refused(out, fake_clock, match="row 1 holds a value nested too deeply to write", normalize=normalize)


@pytest.mark.parametrize("where", ["number", "string", "across_chunks"])
def test_a_run_of_digits_past_pythons_limit_is_refused_not_a_crash(out, fake_clock, vendor, where):
    # ijson's C backend crashed the process (a segmentation fault) on an integer of 4,301 digits.
    digits = "7" * 4301
    if where == "number":
        text = body_with_uui(digits)
    elif where == "string":
        text = body_with_uui(f'"{digits}"')
    else:  # the run starts 100 bytes before the end of the reader's first 64 KiB
        head = '{"status":"success","message":"'
        tail = '","details":[{"a":'
        text = head + "x" * (65536 - 100 - len(head) - len(tail)) + tail + digits + "}]}"
        assert text.index(digits) == 65436
    vendor.get(CDR_URL, text=text)
    refused(out, fake_clock, match="a number \\(or a run of digits\\) longer than 4300 digits")


def test_an_integer_of_4300_digits_is_kept_exactly(out, fake_clock, vendor):
    vendor.get(CDR_URL, text=body_with_uui("9" * 4300))
    pull(out, fake_clock, normalize=False)
    assert rows_of(out)[0]["UUI"] == int("9" * 4300)
