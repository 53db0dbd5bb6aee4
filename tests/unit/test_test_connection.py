"""test_connection(): one request, no token minted, no secret in the message."""

from __future__ import annotations

from tests.answers import API_KEY, BASE, CALLBACKS_URL, TOKEN_URL

NO_DATA = {"status": "success", "message": "No Data Found with UCID 0"}


def test_good_connection(hook, requests_mock):
    mint = requests_mock.post(TOKEN_URL, json={"token": "t", "message": ""})
    calls = requests_mock.get(CALLBACKS_URL, json=NO_DATA)
    ok, message = hook.test_connection()
    assert ok is True
    assert message == f"Connected to {BASE} as demo_user (auth mode token); the API key was accepted"
    assert calls.call_count == 1 and mint.call_count == 0  # minting would break running tasks' token
    assert calls.last_request.qs["ucid"] == ["0"]


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
