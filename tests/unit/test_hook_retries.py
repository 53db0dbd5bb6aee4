"""Retries and pacing, on a controlled clock (no real sleeping)."""

from __future__ import annotations

import logging

import pytest
import requests

from airflow_provider_ozonetel.exceptions import (
    OzonetelRateLimitError,
    OzonetelRequestError,
    OzonetelTransientError,
)
from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
from tests.answers import (
    BIG_UCID,
    CALLBACKS_RATE_LIMIT,
    CALLBACKS_URL,
    CDR_RATE_LIMIT,
    CDR_URL,
    HTML_502,
    TOKEN,
    TOKEN_URL,
    callback_record,
    cdr_body,
    cdr_record,
)

DAY = "2026-11-19"
OK = {"text": cdr_body([cdr_record()])}
FOUND = {"json": {"status": "success", "message": [callback_record()]}}


@pytest.fixture(autouse=True)
def minted(requests_mock):
    return requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})


def test_html_502_then_success_backs_off_and_recovers(hook, fake_clock, requests_mock, caplog):
    cdr = requests_mock.get(
        CDR_URL,
        [{"status_code": 502, "text": HTML_502, "headers": {"Content-Type": "text/html"}}] * 2 + [OK],
    )
    with caplog.at_level(logging.INFO):
        assert len(hook.get_cdr_details(DAY)) == 1
    assert cdr.call_count == 3
    backoff_1, backoff_2, pacing = fake_clock.sleeps
    assert 2 <= backoff_1 <= 4 and 4 <= backoff_2 <= 6  # exponential + jitter
    assert backoff_1 + backoff_2 + pacing == pytest.approx(61.2)  # retries count against 2/min too
    assert "fetchCDRDetails answered HTTP 502 with a body that is not valid JSON" in caplog.text
    assert "retrying in" in caplog.text and "(retry 1 of 3)" in caplog.text


def test_transient_failures_are_bounded(set_conn, fake_clock, requests_mock, ist_noon):
    hook = OzonetelHook(clock=fake_clock.as_clock(), max_retries=2)
    cdr = requests_mock.get(CDR_URL, status_code=503, text="<html>503</html>")
    with pytest.raises(OzonetelTransientError, match=r"HTTP 503 with a body that is not valid JSON"):
        hook.get_cdr_details(DAY)
    assert cdr.call_count == 3


@pytest.mark.parametrize("exc", [requests.ConnectionError, requests.ReadTimeout])
def test_connection_errors_and_timeouts_are_retried(hook, requests_mock, exc):
    cdr = requests_mock.get(CDR_URL, [{"exc": exc("boom")}, OK])
    assert len(hook.get_cdr_details(DAY)) == 1
    assert cdr.call_count == 2


def test_rate_limit_answer_waits_for_the_window_and_retries(hook, fake_clock, requests_mock, caplog):
    cdr = requests_mock.get(CDR_URL, [{"status_code": 429, "json": CDR_RATE_LIMIT}, OK])
    with caplog.at_level(logging.INFO):
        assert len(hook.get_cdr_details(DAY)) == 1
    assert cdr.call_count == 2
    assert fake_clock.sleeps == [pytest.approx(61.2)]  # a full window, plus the 2% margin
    assert (
        "the vendor's rate limit answered (fetchCDRDetails answered HTTP 429: API rate limit" in caplog.text
    )
    assert "Pacing fetchCDRDetails" in caplog.text and "waiting 61.2 s" in caplog.text


def test_rate_limit_body_on_http_200_is_a_rate_limit(hook, fake_clock, requests_mock):
    calls = requests_mock.get(CALLBACKS_URL, [{"json": CALLBACKS_RATE_LIMIT}, FOUND])
    assert len(hook.get_call_details(BIG_UCID, report_type="historical")) == 1
    assert calls.call_count == 2 and fake_clock.sleeps == [pytest.approx(61.2)]


def test_rate_limit_retries_are_bounded(set_conn, fake_clock, requests_mock, ist_noon):
    hook = OzonetelHook(clock=fake_clock.as_clock(), rate_limit_retries=2)
    cdr = requests_mock.get(CDR_URL, status_code=429, json=CDR_RATE_LIMIT)
    with pytest.raises(OzonetelRateLimitError, match="API rate limit has been exceeded"):
        hook.get_cdr_details(DAY)
    assert cdr.call_count == 3


def test_request_errors_are_not_retried(hook, requests_mock):
    cdr = requests_mock.get(CDR_URL, json={"message": "Invalid campaignName", "status": "fail"})
    with pytest.raises(OzonetelRequestError, match="Invalid campaignName"):
        hook.get_cdr_details(DAY, campaign_name="nope")
    assert cdr.call_count == 1


def test_fetch_cdr_is_paced_at_two_per_minute(hook, fake_clock, requests_mock):
    requests_mock.get(CDR_URL, **OK)
    starts = []
    for hour in range(0, 24, 6):
        hook.get_cdr_details(DAY, from_time=f"{hour:02d}:00", to_time=f"{hour + 5:02d}:59:59")
        starts.append(fake_clock.now)
        fake_clock.now += 0.5
    offsets = [round(s - starts[0], 1) for s in starts]
    assert offsets == [0, 0.5, 61.2, 61.7]  # the window plus a 2% margin
    assert all(sum(1 for s in starts if t <= s < t + 60) <= 2 for t in starts)


def test_callbacks_are_paced_at_fifty_per_minute(hook, fake_clock, requests_mock):
    requests_mock.get(CALLBACKS_URL, **FOUND)
    for n in range(120):
        hook.get_call_details(BIG_UCID + n, report_type="historical")
        fake_clock.now += 0.1
    assert len(fake_clock.sleeps) == 2  # 120 requests: the 51st and the 101st waited
    elapsed = fake_clock.now - 1000
    rate = 120 / elapsed * 60
    assert 50 * 0.9 <= rate <= 60  # near the limit, never a burst past it in one window


def test_shorter_rate_window_for_the_emulator(set_conn, fake_clock, requests_mock, ist_noon):
    hook = OzonetelHook(clock=fake_clock.as_clock(), rate_window_seconds=1)
    requests_mock.get(CDR_URL, **OK)
    for _ in range(3):
        hook.get_cdr_details(DAY)
    assert fake_clock.sleeps == [pytest.approx(1.02)]
