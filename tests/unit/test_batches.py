"""batches.iter_batches reads every answer as streaming.iter_details does (pure).

The reference is ``streaming.iter_details`` (ijson, one record at a time): for any body, cut into
any chunks, the batches hold the same records in the same order and end with the same envelope,
or the same error after the same records.
"""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_ozonetel import batches
from airflow_provider_ozonetel.batches import NotRecords, decode_records, iter_batches
from airflow_provider_ozonetel.streaming import MalformedBody, iter_details


class Chunked(io.RawIOBase):
    """``data`` handed out ``size`` bytes at most a read, whatever is asked (a slow network)."""

    def __init__(self, data: bytes, size: int):
        self._data = memoryview(data)
        self._size = size
        self.served = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = self._size if size < 0 else min(size, self._size)
        chunk = bytes(self._data[self.served : self.served + n])
        self.served += len(chunk)
        return chunk


def drain(gen) -> tuple[list, object]:
    """What a generator yields, then its return value or the exception it raised."""
    out = []
    while True:
        try:
            out.append(next(gen))
        except StopIteration as done:
            return out, done.value
        except Exception as exc:
            return out, exc


def outcome(end: object) -> object:
    if isinstance(end, MalformedBody):  # yajl's text quotes the bytes around the error: chunk-dependent
        return (type(end).__name__, str(end).startswith("incomplete or invalid JSON ("), end.records)
    if isinstance(end, Exception):
        return (type(end).__name__, str(end), getattr(end, "records", None))
    return end


def reference(body: bytes) -> tuple[list[dict], object]:
    records, end = drain(iter_details(io.BytesIO(body)))
    return records, outcome(end)


def batched(body: bytes, chunk: int, decode=decode_records) -> tuple[list[dict], object, list]:
    found, end = drain(iter_batches(Chunked(body, chunk), decode, chunk_bytes=chunk))
    records = [record for batch in found for record in batch.records]
    return records, outcome(end), found


def assert_same_reading(body: bytes, chunk: int) -> None:
    records, end, found = batched(body, chunk)
    assert (records, end) == reference(body)
    first = 0
    for batch in found:  # consecutive, each saying where it starts
        assert batch.first == first
        first += len(batch.records)


# ---------------------------------------------------------------- generated answers

_TEXT = st.text(alphabet=st.sampled_from('ab}{][",:\\ \n\t\u00e9\u2028\x01/None'), max_size=12)
_SCALAR = st.one_of(
    _TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_RECORD = st.dictionaries(_TEXT, _VALUE, max_size=6)
_ELEMENT = st.one_of(_RECORD, _RECORD, _RECORD, _SCALAR)  # mostly records; sometimes not


@st.composite
def answers(draw) -> bytes:
    details = draw(st.lists(_ELEMENT, max_size=12))
    status = draw(st.sampled_from(["success", "fail", True, "true"]))
    envelope = {"status": status, "message": draw(_TEXT)}
    extra = draw(st.dictionaries(st.sampled_from(["page", "notes", "x"]), _VALUE, max_size=2))
    before = draw(st.booleans())
    body = {**envelope, **extra, "details": details} if before else {"details": details, **envelope, **extra}
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]))
    text = json.dumps(body, separators=separators, ensure_ascii=draw(st.booleans()), default=str)
    data = text.encode()
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data if draw(st.booleans()) else data
    damage = draw(st.sampled_from(["none", "none", "cut", "byte"]))
    if damage == "cut" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "byte" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + draw(st.sampled_from([b"}", b"]", b",", b'"', b"{", b"x"])) + data[at + 1 :]
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=answers(), chunk=st.sampled_from([1, 2, 7, 64, 1000, 1 << 18]))
def test_any_answer_in_any_chunks_reads_as_iter_details_reads_it(body, chunk):
    assert_same_reading(body, chunk)


# ---------------------------------------------------------------- the cases that matter, by name

R = {"UCID": 2**70, "CallDate": "2026-11-19", "Note": 'a}b{"]', "Inner": {"x": [1, {"y": "}"}]}}


def body_of(records: list, *, head: str = "", tail: str = ',"message":"success","status":"success"') -> bytes:
    return ("{" + head + '"details":[' + ",".join(json.dumps(r) for r in records) + "]" + tail + "}").encode()


@pytest.mark.parametrize(
    "body",
    [
        body_of([R] * 50),
        body_of([R] * 50, head='"status":"success","message":"ok",', tail=""),
        body_of([]),
        body_of([R, None, R], tail=',"status":"fail","message":"Invalid campaignName"'),
        body_of([R] * 3)[:-30],  # cut off
        body_of([R] * 3).replace(b"]", b",]", 1)[:0] + body_of([R] * 3)[:-50] + b",]}",  # "]" after ","
        b'{"details":[' + json.dumps(R).encode() + b" " + json.dumps(R).encode() + b"]}",  # no ","
        b'{"details":[{"a":1}, {"a":tru}],"status":"success"}',
        b'{"message":"Invalid","status":"fail"}',
        b"\xef\xbb\xbf" + body_of([R]),
        b"[]",
    ],
)
@pytest.mark.parametrize("chunk", [3, 100, 1 << 18])
def test_named_answers_read_as_iter_details_reads_them(body, chunk):
    assert_same_reading(body, chunk)


def test_a_day_is_cut_into_a_few_large_batches():
    body = body_of([dict(R, UCID=i) for i in range(3000)])
    records, _, found = batched(body, batches.CHUNK_BYTES)
    assert len(records) == 3000
    assert all(batch.decoded for batch in found)
    assert len(found) <= len(body) // batches.CHUNK_BYTES + 2


def test_a_record_with_braces_in_strings_costs_a_few_tries_not_a_hand_over():
    tricky = dict(R, Note="}" * 10 + "]},{" * 5)
    records, _, found = batched(body_of([tricky] * 2000), 1 << 16)
    assert len(records) == 2000 and all(batch.decoded for batch in found)


def test_a_decoder_that_refuses_an_element_hands_the_rest_to_iter_details():
    def fussy(data: bytes):
        raise NotRecords

    records, end, found = batched(body_of([R] * 5), 1 << 18, fussy)
    assert len(records) == 5 and not any(batch.decoded for batch in found)
    assert end.fields == {"message": "success", "status": "success"}


def test_bytes_that_never_cut_into_a_record_are_handed_over_within_the_bound():
    endless = Chunked(b'{"status":"success","details":[{"a":"' + b"x" * (4 << 20), 1 << 16)
    _, end = drain(iter_batches(endless, decode_records))
    assert "without a complete record" in str(end)
    assert endless.served < 2 * (1 << 20) + batches.MAX_PENDING


# ---------------------------------------------------------------- runs of digits (streaming.MAX_DIGITS)

LONG = "7" * 4301  # ijson's C backend crashed on such an integer; iter_details refuses any such run


@pytest.mark.parametrize(
    "body",
    [
        body_of([R] * 5 + [{"UCID": 1, "UUI": "@"}] + [R] * 5).replace(b'"@"', LONG.encode()),  # an integer
        body_of([R] * 5 + [{"UCID": 1, "UUI": LONG}] + [R] * 5),  # msgspec would read the string
        body_of([R] * 5 + [{"UCID": 1, "UUI": f"{LONG}{LONG}"}]),  # over two chunks at any size
        body_of([R] * 5, head=f'"notes":"{LONG}",'),  # before the array
        body_of([R] * 5, tail=f',"notes":"{LONG}","status":"success"'),  # after it
        body_of([R] * 5 + [{"UCID": 1, "UUI": "@"}] + [R] * 5).replace(b'"@"', LONG[1:].encode()),  # 4300
    ],
    ids=["integer", "string", "spanning", "head", "tail", "4300"],
)
@pytest.mark.parametrize("chunk", [3, 100, 1000, 1 << 18])
def test_a_run_of_digits_past_the_bound_is_refused_as_iter_details_refuses_it(body, chunk):
    records, end, _ = batched(body, chunk)
    # the reference reads the same chunks (the records before the error are those read before it)
    reference_records, reference_end = drain(iter_details(Chunked(body, chunk)))
    assert (records, end) == (reference_records, outcome(reference_end))
    if b"7" * 4301 in body:
        assert "longer than 4300 digits" in str(end[1])
    else:
        assert records[5]["UUI"] == int(LONG[:-1])
