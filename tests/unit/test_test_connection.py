"""test_connection(): one request, no token minted, no secret in the message."""

from __future__ import annotations

import pytest

from tests.answers import API_KEY, BASE, CALLBACKS_URL, CDR_RATE_LIMIT, CDR_URL, TOKEN_URL, cdr_body

NO_DATA = {"status": "success", "message": "No Data Found with UCID 0"}


MISSING = {"status": "false", "message": "Missing userName or apiKey"}
EMPTY_DAY = {"text": cdr_body([])}
CONNECTED = f"Connected to {BASE} as demo_user; the API key was accepted. "


def test_good_connection(hook, requests_mock):
    mint = requests_mock.post(TOKEN_URL, json={"token": "t", "message": ""})
    calls = requests_mock.get(CALLBACKS_URL, json=NO_DATA)
    probe = requests_mock.get(CDR_URL, status_code=401, json=MISSING)
    ok, message = hook.test_connection()
    assert ok is True
    assert message == CONNECTED + (
        "The account refuses the apiKey header alone (Missing userName or apiKey), so it is set to "
        "TOKEN_AUTH (no token was minted to check: running tasks keep theirs), as auth mode token expects."
    )
    assert calls.call_count == 1 and mint.call_count == 0  # minting would break running tasks' token
    assert calls.last_request.qs["ucid"] == ["0"]
    sent = probe.last_request
    assert sent.headers["apiKey"] == API_KEY and "Authorization" not in sent.headers
    assert sent.json() == {
        "fromDate": "2026-11-19 00:00:00",
        "toDate": "2026-11-19 00:00:01",
        "userName": "demo_user",
    }


def test_token_mode_on_a_basic_auth_account_names_the_fix(hook, requests_mock):
    mint = requests_mock.post(TOKEN_URL, json={"token": "t", "message": ""})
    requests_mock.get(CALLBACKS_URL, json=NO_DATA)
    requests_mock.get(CDR_URL, **EMPTY_DAY)
    ok, message = hook.test_connection()
    assert (ok, mint.call_count) == (False, 0)
    assert message == CONNECTED + (
        "The account answers the apiKey header alone, so it is set to BASIC_AUTH, which refuses tokens: "
        "set the connection's auth mode to api_key."
    )


@pytest.mark.parametrize(
    ("answer", "ok", "verdict"),
    [
        (EMPTY_DAY, True, "so it is set to BASIC_AUTH, as auth mode api_key expects."),
        ({"status_code": 401, "json": MISSING}, False, "set the connection's auth mode to token."),
    ],
)
def test_api_key_mode_is_checked_too(set_conn, hook, requests_mock, answer, ok, verdict):
    set_conn(extra={"auth_mode": "api_key"})
    requests_mock.get(CALLBACKS_URL, json=NO_DATA)
    requests_mock.get(CDR_URL, **answer)
    result, message = hook.test_connection()
    assert result is ok and message.startswith(CONNECTED) and message.endswith(verdict)


def test_an_auth_mode_that_cannot_be_told_keeps_the_test_green(hook, requests_mock):
    requests_mock.get(CALLBACKS_URL, json=NO_DATA)
    requests_mock.get(CDR_URL, status_code=429, json=CDR_RATE_LIMIT)
    ok, message = hook.test_connection()
    assert ok is True
    assert message.startswith(
        CONNECTED + "The account's auth mode could not be checked (fetchCDRDetails answered"
    )
    assert message.endswith("auth mode token kept.")


def test_wrong_key(hook, requests_mock):
    calls = requests_mock.get(
        CALLBACKS_URL, json={"status": "error", "message": "userName or apiKey is Invalid"}
    )
    ok, message = hook.test_connection()
    assert ok is False
    assert "userName or apiKey is Invalid" in message and API_KEY not in message
    assert calls.call_count == 1


def test_rate_limited_is_reported_not_waited(hook, requests_mock, fake_clock):
    calls = requests_mock.get(CALLBACKS_URL, json={"status": "error", "message": "max limit exceeded"})
    ok, message = hook.test_connection()
    assert (ok, calls.call_count, fake_clock.sleeps) == (False, 1, [])
    assert "max limit exceeded" in message


def test_wrong_path_or_host(hook, requests_mock):
    requests_mock.get(CALLBACKS_URL, status_code=404, text="<html>Not Found</html>")
    ok, message = hook.test_connection()
    assert ok is False and "CallBacks answered HTTP 404" in message


def test_missing_api_key(set_conn, hook):
    set_conn(password="")
    ok, message = hook.test_connection()
    assert ok is False and "password: the connection has no API key" in message
