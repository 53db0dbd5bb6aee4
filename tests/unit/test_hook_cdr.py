"""fetchCDRDetails through the hook: request shapes, streaming, exact IDs, validation."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from airflow_provider_ozonetel.exceptions import (
    OzonetelRateLimitError,
    OzonetelRequestError,
    OzonetelTokenExpiredError,
    OzonetelTransientError,
)
from tests.answers import (
    BIG_UCID,
    CDR_URL,
    TOKEN,
    TOKEN_URL,
    USER,
    cdr_body,
    cdr_record,
)

YESTERDAY = "2026-11-19"  # the fixtures pin now at 2026-11-20 12:00 IST


@pytest.fixture
def minted(requests_mock):
    return requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})


def test_day_request_shape_in_token_mode(hook, minted, requests_mock):
    cdr = requests_mock.get(CDR_URL, text=cdr_body([cdr_record(0), cdr_record(1)]))
    records = hook.get_cdr_details(YESTERDAY)

    assert [r["UCID"] for r in records] == [BIG_UCID, BIG_UCID + 1]
    mint = minted.last_request
    assert mint.headers["apiKey"] == "sekret-api-key-4711"
    assert mint.json() == {"userName": USER}
    sent = cdr.last_request
    assert sent.method == "GET"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Content-Type"] == "application/json"
    assert "apiKey" not in sent.headers
    assert sent.qs == {}
    assert sent.json() == {
        "fromDate": "2026-11-19 00:00:00",
        "toDate": "2026-11-19 23:59:59",
        "userName": USER,
    }
    assert hook.requests_sent == {"generateToken": 1, "fetchCDRDetails": 1}


def test_filters_and_window_map_to_the_documented_keys(hook, minted, requests_mock):
    cdr = requests_mock.get(CDR_URL, text=cdr_body([]))
    hook.get_cdr_details(
        dt.date(2026, 11, 19),
        from_time="06:00",
        to_time=dt.time(11, 59, 59),
        ucid=BIG_UCID,
        campaign_name="Inbound_Support",
        monitor_ucid="17000000009372",
        call_type="Progressive",
        status="NotAnswered",
    )
    assert cdr.last_request.json() == {
        "fromDate": "2026-11-19 06:00:00",
        "toDate": "2026-11-19 11:59:59",
        "userName": USER,
        "ucid": str(BIG_UCID),
        "campaignName": "Inbound_Support",
        "monitorUCID": "17000000009372",
        "callType": "Progressive",
        "status": "NotAnswered",
    }


def test_today_ends_now_because_the_vendor_refuses_future_times(hook, minted, requests_mock):
    cdr = requests_mock.get(CDR_URL, text=cdr_body([]))
    hook.get_cdr_details("2026-11-20")
    assert cdr.last_request.json()["toDate"] == "2026-11-20 12:00:00"


def test_ids_above_2_pow_53_stay_exact(hook, minted, requests_mock):
    raw = (
        '{"details":[{"UCID": 31733467784618299, "CallID": 31733467784618213, "CallDate": "2026-11-19"}],'
        '"message":"success","status":"success"}'
    )
    requests_mock.get(CDR_URL, text=raw)
    (record,) = hook.get_cdr_details(YESTERDAY)
    assert record["UCID"] == 31733467784618299 and record["CallID"] == 31733467784618213
    assert float(record["UCID"]) != record["UCID"]  # a float could not hold it


class _ReadTracker(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.max_pos_seen = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.max_pos_seen = self.tell()
        return chunk


def test_records_arrive_before_the_whole_answer_is_read(hook, minted, requests_mock):
    body = cdr_body([cdr_record(i) for i in range(5000)]).encode()
    raw = _ReadTracker(body)
    requests_mock.get(CDR_URL, body=raw)
    records = hook.iter_cdr_details(YESTERDAY)
    first = next(records)
    assert first["UCID"] == BIG_UCID
    assert raw.max_pos_seen < len(body) / 4  # streamed, not read whole
    assert sum(1 for _ in records) == 4999


def test_vendor_error_at_the_end_of_a_body_raises_after_the_records(hook, minted, requests_mock):
    body = cdr_body(
        [cdr_record(i) for i in range(3)], status="error", message="API rate limit has been exceeded"
    )
    requests_mock.get(CDR_URL, text=body)
    seen = []
    with pytest.raises(OzonetelRateLimitError) as info:
        for record in hook.iter_cdr_details(YESTERDAY):
            seen.append(record)
    assert len(seen) == 3
    assert str(info.value) == (
        "fetchCDRDetails answered 'API rate limit has been exceeded' at the end of its answer (HTTP 200), "
        "after 3 record(s): the answer is incomplete and no result was kept. The vendor's rate limit "
        "ended the answer early. Airflow's task retry pulls it again (give the task retries); if this "
        "recurs, run fewer pulls of this account at once."
    )
    assert info.value.vendor_message == "API rate limit has been exceeded"
    # Nothing chained: no "During handling of the above exception (StopIteration)" in the task log.
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert requests_mock.call_count == 2  # the mint and the one request: not resent by the hook


def test_token_expired_at_the_end_of_a_body_says_the_task_retry_pulls_again(hook, minted, requests_mock):
    body = cdr_body([cdr_record(i) for i in range(2)], status="error", message="Token Expired")
    requests_mock.get(CDR_URL, text=body)
    with pytest.raises(OzonetelTokenExpiredError) as info:
        hook.get_cdr_details(YESTERDAY)
    text = str(info.value)
    assert "answered 'Token Expired' at the end of its answer (HTTP 200), after 2 record(s)" in text
    assert "Airflow's task retry pulls it again with the newer token" in text
    assert info.value.__context__ is None


def test_an_error_answer_without_records_is_retried_by_the_hook_and_chains_nothing(
    hook, minted, requests_mock, fake_clock
):
    rate_limited = cdr_body([], status="error", message="API rate limit has been exceeded")
    cdr = requests_mock.get(CDR_URL, [{"text": rate_limited}, {"text": cdr_body([cdr_record()])}])
    assert len(hook.get_cdr_details(YESTERDAY)) == 1
    assert cdr.call_count == 2
    requests_mock.get(CDR_URL, text=cdr_body([], status="error", message="Invalid campaignName"))
    with pytest.raises(OzonetelRequestError, match="Invalid campaignName") as info:
        hook.get_cdr_details(YESTERDAY)
    assert info.value.__context__ is None


def test_truncated_answer_raises_a_clear_error(hook, minted, requests_mock):
    body = cdr_body([cdr_record(i) for i in range(3000)])
    requests_mock.get(CDR_URL, text=body[: len(body) // 2])
    with pytest.raises(OzonetelTransientError, match=r"fetchCDRDetails answer was cut off after \d+ records"):
        hook.get_cdr_details(YESTERDAY)


def test_empty_day_is_an_empty_list(hook, minted, requests_mock):
    requests_mock.get(CDR_URL, text=cdr_body([]))
    assert hook.get_cdr_details(YESTERDAY) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"cdr_date": "2026-11-05"},
            r"cdr_date=2026-11-05 is older than the vendor's 15-day retention.*no longer holds",
        ),
        ({"cdr_date": "2026-11-21"}, r"cdr_date=2026-11-21 is in the future \(today is 2026-11-20 IST\)"),
        ({"cdr_date": "20/11/2026"}, r"cdr_date: expected a date or a 'YYYY-MM-DD' string"),
        (
            {"cdr_date": YESTERDAY, "from_time": "13:00", "to_time": "12:00"},
            r"from_time=13:00:00 is after to_time",
        ),
        (
            {"cdr_date": "2026-11-20", "to_time": "18:00"},
            r"to_time=18:00 is in the future \(now is 12:00:00 IST\)",
        ),
        ({"cdr_date": YESTERDAY, "ucid": "12ab"}, r"ucid: '12ab' is not numeric"),
        ({"cdr_date": YESTERDAY, "monitor_ucid": 1.5}, r"monitor_ucid: expected digits"),
        ({"cdr_date": YESTERDAY, "campaign_name": " "}, r"campaign_name: expected a non-empty string"),
    ],
)
def test_bad_input_is_refused_before_any_request(hook, requests_mock, kwargs, message):
    with pytest.raises(OzonetelRequestError, match=message):
        hook.iter_cdr_details(**kwargs)
    assert requests_mock.call_count == 0


def test_oldest_kept_day_is_accepted(hook, minted, requests_mock):
    cdr = requests_mock.get(CDR_URL, text=cdr_body([]))
    hook.get_cdr_details("2026-11-06")
    assert json.loads(cdr.last_request.body)["fromDate"] == "2026-11-06 00:00:00"
