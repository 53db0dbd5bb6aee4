"""Retries and pacing, on a controlled clock (no real sleeping)."""

from __future__ import annotations

import logging

import pytest
import requests
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_ozonetel.exceptions import (
    OzonetelRateLimitError,
    OzonetelRequestError,
    OzonetelTransientError,
)
from airflow_provider_ozonetel.hooks.ozonetel import CDR_ENDPOINT, OzonetelHook
from airflow_provider_ozonetel.shared_state import MemoryStore
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
    (wait,) = fake_clock.sleeps
    assert 61.2 <= wait <= 61.2 * 1.25  # a full window plus the 2% margin, plus 0-25% jitter
    assert (
        "the vendor's rate limit answered (fetchCDRDetails answered HTTP 429: API rate limit" in caplog.text
    )
    assert (
        f"Pacing fetchCDRDetails: waiting {wait:.1f} s after the vendor's rate-limit answer (a window "
        "plus jitter; 0 other request(s) of this account in the last window and ahead)"
    ) in caplog.text
    assert "requests of this account" not in caplog.text  # the answer's penalty is not "requests"
    assert hook.rate_stats.rate_answers == 1 and hook.rate_stats.waited == pytest.approx(wait)


def test_rate_limit_jitter_spreads_the_retries_of_clients_told_to_wait(set_conn, requests_mock, ist_noon):
    """Clients outside the budget (another process, another tool) come back at different times."""
    from tests.conftest import FakeClock

    waits = []
    for _ in range(5):
        MemoryStore.clear()
        clock = FakeClock()
        requests_mock.get(CDR_URL, [{"status_code": 429, "json": CDR_RATE_LIMIT}, OK])
        OzonetelHook(clock=clock.as_clock()).get_cdr_details(DAY)
        waits.append(clock.sleeps[-1])
    assert len({round(w, 3) for w in waits}) == 5
    assert all(61.2 <= w <= 61.2 * 1.25 for w in waits)


def test_rate_limit_body_on_http_200_is_a_rate_limit(hook, fake_clock, requests_mock):
    calls = requests_mock.get(CALLBACKS_URL, [{"json": CALLBACKS_RATE_LIMIT}, FOUND])
    assert len(hook.get_call_details(BIG_UCID, report_type="historical")) == 1
    assert calls.call_count == 2 and 61.2 <= fake_clock.sleeps[0] <= 61.2 * 1.25


def test_rate_limit_waits_are_bounded_in_time(set_conn, fake_clock, requests_mock, ist_noon):
    hook = OzonetelHook(clock=fake_clock.as_clock(), rate_limit_timeout=300)
    cdr = requests_mock.get(CDR_URL, status_code=429, json=CDR_RATE_LIMIT)
    with pytest.raises(OzonetelRateLimitError) as raised:
        hook.get_cdr_details(DAY)
    message = str(raised.value)
    assert message.startswith("fetchCDRDetails: gave up waiting for the account's rate limit after ")
    assert "(rate_limit_timeout=300 s)" in message
    assert f"{cdr.call_count} rate-limit answer(s)" in message
    assert "the vendor's last answer: API rate limit has been exceeded" in message
    assert sum(fake_clock.sleeps) <= 300  # never waits past the budget
    assert 4 <= cdr.call_count <= 5  # windows of 61.2-76.5 s in 300 s
    assert not isinstance(raised.value, AirflowFailException)  # Airflow's task retries apply


def test_rate_limit_retries_is_a_deprecated_alias(set_conn, fake_clock, requests_mock, ist_noon):
    with pytest.warns(DeprecationWarning, match="rate_limit_timeout"):
        hook = OzonetelHook(clock=fake_clock.as_clock(), rate_limit_retries=2)
    assert hook.retry.rate_limit_timeout == pytest.approx(3 * 61.2)


def test_a_slot_beyond_the_timeout_fails_at_once_naming_the_competition(
    set_conn, fake_clock, requests_mock, ist_noon
):
    """Other tasks hold the next windows: waiting would exceed the budget, so fail now, and say why."""
    requests_mock.get(CDR_URL, **OK)
    busy = OzonetelHook(clock=fake_clock.as_clock())
    busy.reserve_requests(CDR_ENDPOINT, 6)  # three windows taken by another task
    hook = OzonetelHook(clock=fake_clock.as_clock(), rate_limit_timeout=120)
    with pytest.raises(OzonetelRateLimitError, match=r"after 0 s .*0 rate-limit answer\(s\), 6 competing"):
        hook.get_cdr_details(DAY)
    assert fake_clock.sleeps == [] and requests_mock.call_count == 1  # the token only


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


def test_hooks_in_one_process_share_one_budget_whatever_their_clocks(set_conn, requests_mock, ist_noon):
    """Two hooks (each with its own clock object) of one account: the third request waits a window."""
    from tests.conftest import FakeClock

    requests_mock.get(CDR_URL, **OK)
    first, second = FakeClock(), FakeClock()
    OzonetelHook(clock=first.as_clock()).get_cdr_details(DAY)
    OzonetelHook(clock=first.as_clock()).get_cdr_details(DAY)
    OzonetelHook(clock=second.as_clock()).get_cdr_details(DAY)
    assert first.sleeps == [] and second.sleeps == [pytest.approx(61.2)]


def test_two_connection_ids_of_one_account_share_the_budget(set_conn, fake_clock, requests_mock, ist_noon):
    set_conn("ozonetel_copy")
    requests_mock.get(CDR_URL, **OK)
    OzonetelHook(clock=fake_clock.as_clock()).get_cdr_details(DAY)
    OzonetelHook(clock=fake_clock.as_clock()).get_cdr_details(DAY)
    OzonetelHook("ozonetel_copy", clock=fake_clock.as_clock()).get_cdr_details(DAY)
    assert fake_clock.sleeps == [pytest.approx(61.2)]
