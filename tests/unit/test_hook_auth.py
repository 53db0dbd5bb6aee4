"""Token auth: reuse, sharing, refresh after "Token Expired"; api_key mode never mints."""

from __future__ import annotations

import json
import time

import pytest
import time_machine

from airflow_provider_ozonetel.exceptions import OzonetelAuthError
from airflow_provider_ozonetel.hooks import token_store
from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
from airflow_provider_ozonetel.hooks.token_store import (
    InProcessTokenStore,
    StoredToken,
    VariableTokenStore,
)
from tests.answers import API_KEY, CDR_URL, TOKEN, TOKEN_2, TOKEN_EXPIRED, TOKEN_URL, cdr_body, cdr_record

DAY = "2026-11-19"


def ok_body():
    return {"text": cdr_body([cdr_record()])}


def test_token_is_minted_once_and_reused(hook, requests_mock):
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    requests_mock.get(CDR_URL, **ok_body())
    hook.get_cdr_details(DAY)
    hook.get_cdr_details(DAY, from_time="10:00")
    assert mint.call_count == 1
    assert hook.get_token() == TOKEN


def test_hooks_in_one_process_share_the_token(hook, fake_clock, requests_mock):
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    requests_mock.get(CDR_URL, **ok_body())
    hook.get_cdr_details(DAY)
    other = OzonetelHook(clock=fake_clock.as_clock())
    other.get_cdr_details(DAY)
    assert mint.call_count == 1
    assert requests_mock.request_history[-1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_token_is_minted_again_after_55_minutes(hook, requests_mock):
    mint = requests_mock.post(
        TOKEN_URL, [{"json": {"token": TOKEN, "message": ""}}, {"json": {"token": TOKEN_2, "message": ""}}]
    )
    assert hook.get_token() == TOKEN
    with time_machine.travel(time.time() + 54 * 60, tick=False):
        assert hook.get_token() == TOKEN
    with time_machine.travel(time.time() + 56 * 60, tick=False):
        assert hook.get_token() == TOKEN_2
    assert mint.call_count == 2


def test_token_expired_mints_once_and_retries(hook, requests_mock):
    mint = requests_mock.post(
        TOKEN_URL, [{"json": {"token": TOKEN, "message": ""}}, {"json": {"token": TOKEN_2, "message": ""}}]
    )
    cdr = requests_mock.get(CDR_URL, [{"status_code": 401, "json": TOKEN_EXPIRED}, ok_body()])
    records = hook.get_cdr_details(DAY)
    assert len(records) == 1
    assert mint.call_count == 2
    assert [r.headers["Authorization"] for r in cdr.request_history] == [
        f"Bearer {TOKEN}",
        f"Bearer {TOKEN_2}",
    ]


def test_token_expired_takes_the_token_another_task_minted(hook, requests_mock):
    """Another worker minted (invalidating ours) and shared its token: use it, mint nothing."""
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    hook.get_token()
    hook.token_store.save(StoredToken(TOKEN_2, time.time()))  # the other task's token, shared
    cdr = requests_mock.get(CDR_URL, [{"status_code": 200, "json": TOKEN_EXPIRED}, ok_body()])
    hook.get_cdr_details(DAY)
    assert mint.call_count == 1
    assert cdr.request_history[-1].headers["Authorization"] == f"Bearer {TOKEN_2}"


def test_token_expired_twice_fails_without_looping(hook, requests_mock):
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    cdr = requests_mock.get(CDR_URL, status_code=401, json=TOKEN_EXPIRED)
    with pytest.raises(OzonetelAuthError, match="Token Expired"):
        hook.get_cdr_details(DAY)
    assert mint.call_count == 2 and cdr.call_count == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"status": "false", "message": "Invalid userName or apiKey", "data": None},
            "Invalid userName or apiKey",
        ),
        ({"status": "false", "message": "UserName is null", "data": None}, "UserName is null"),
    ],
)
def test_mint_refused_is_an_auth_error_without_retries(hook, requests_mock, body, message):
    mint = requests_mock.post(TOKEN_URL, status_code=401, json=body)
    with pytest.raises(OzonetelAuthError, match=message):
        hook.get_cdr_details(DAY)
    assert mint.call_count == 1
    assert requests_mock.call_count == 1


def test_mint_limit_is_not_retried(hook, requests_mock):
    mint = requests_mock.post(
        TOKEN_URL, status_code=429, json={"status": "false", "message": "limit", "data": None}
    )
    with pytest.raises(OzonetelAuthError.__mro__[1]):  # OzonetelError
        hook.get_token()
    assert mint.call_count == 1


def test_api_key_mode_sends_the_key_header_and_never_mints(set_conn, hook, requests_mock):
    set_conn(extra={"auth_mode": "api_key"})
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    cdr = requests_mock.get(CDR_URL, **ok_body())
    hook.get_cdr_details(DAY)
    assert mint.call_count == 0
    assert cdr.last_request.headers["apiKey"] == API_KEY
    assert "Authorization" not in cdr.last_request.headers
    with pytest.raises(OzonetelAuthError, match="'api_key' auth, which has no token"):
        hook.get_token()


def test_token_rejected_in_api_key_account_explains_the_auth_mode(hook, requests_mock):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    requests_mock.get(
        CDR_URL, status_code=401, json={"status": "false", "message": "Missing userName or apiKey"}
    )
    with pytest.raises(OzonetelAuthError, match=r"Missing userName or apiKey.*auth mode"):
        hook.get_cdr_details(DAY)


def test_force_refresh_mints_even_when_a_token_is_fresh(hook, requests_mock):
    mint = requests_mock.post(
        TOKEN_URL, [{"json": {"token": TOKEN, "message": ""}}, {"json": {"token": TOKEN_2, "message": ""}}]
    )
    assert hook.get_token() == TOKEN
    assert hook.get_token(force_refresh=True) == TOKEN_2
    assert mint.call_count == 2
    assert InProcessTokenStore("ozonetel_default").load().token == TOKEN_2


def test_store_is_a_variable_inside_a_task_and_in_process_outside(monkeypatch):
    assert isinstance(token_store.default_store("ozonetel_default"), InProcessTokenStore)
    monkeypatch.setattr(token_store, "in_task_context", lambda: True)
    store = token_store.default_store("ozonetel_default")
    assert isinstance(store, VariableTokenStore)
    assert store.variable_key == "ozonetel_token_ozonetel_default"
    assert "token" in store.variable_key  # so Airflow's UI and logs mask the value


def test_variable_store_round_trip(monkeypatch):
    saved = {}

    class FakeVariable:
        @staticmethod
        def get(key, default=None):
            return saved.get(key, default)

        @staticmethod
        def set(key, value, description=None):
            saved[key] = value

    monkeypatch.setattr("airflow.sdk.Variable", FakeVariable)
    store = VariableTokenStore("ozonetel_token_x")
    assert store.load() is None
    store.save(StoredToken(TOKEN, 123.0))
    assert json.loads(saved["ozonetel_token_x"]) == {"token": TOKEN, "minted_at": 123.0}
    assert store.load() == StoredToken(TOKEN, 123.0)
    assert TOKEN not in repr(store.load())
    saved["ozonetel_token_x"] = "garbage"
    assert store.load() is None
