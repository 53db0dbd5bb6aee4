"""Token auth: reuse, sharing, refresh after "Token Expired"; api_key mode never mints."""

from __future__ import annotations

import base64
import json

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_ozonetel import compat
from airflow_provider_ozonetel.exceptions import OzonetelAuthError, OzonetelTokenExpiredError
from airflow_provider_ozonetel.hooks import variable_store
from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
from airflow_provider_ozonetel.hooks.token_store import (
    TokenCipher,
    TokenState,
    dump_state,
    load_state,
    token_key,
)
from airflow_provider_ozonetel.hooks.tokens import LEASE_SECONDS, MAX_MINTS_PER_HOUR
from airflow_provider_ozonetel.hooks.variable_store import VariableStore
from airflow_provider_ozonetel.shared_state import MemoryStore
from tests.answers import API_KEY, CDR_URL, TOKEN, TOKEN_2, TOKEN_EXPIRED, TOKEN_URL, cdr_body, cdr_record
from tests.unit.test_budget import RacyStore

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


def test_connection_ids_of_one_account_share_one_token(set_conn, hook, fake_clock, requests_mock):
    set_conn("ozonetel_other")  # the same base URL and user under another connection id
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    requests_mock.get(CDR_URL, **ok_body())
    hook.get_cdr_details(DAY)
    OzonetelHook("ozonetel_other", clock=fake_clock.as_clock()).get_cdr_details(DAY)
    assert mint.call_count == 1


def test_token_is_minted_again_after_55_minutes(hook, fake_clock, requests_mock):
    mint = requests_mock.post(
        TOKEN_URL, [{"json": {"token": TOKEN, "message": ""}}, {"json": {"token": TOKEN_2, "message": ""}}]
    )
    assert hook.get_token() == TOKEN
    fake_clock.now += 54 * 60
    assert hook.get_token() == TOKEN
    fake_clock.now += 2 * 60
    assert hook.get_token() == TOKEN_2
    assert mint.call_count == 2


def test_token_expired_mints_and_retries(hook, requests_mock):
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


def store_token(hook: OzonetelHook, token: str, minted_at: float, **fields) -> None:
    """What another task's hook leaves in the shared store after minting."""
    cipher = TokenCipher(API_KEY, hook.settings.account_key)
    state = TokenState(token=token, minted_at=minted_at, **fields)
    hook.shared_store.write(token_key(hook.settings.account_id), dump_state(state, cipher, minted_at))


def test_token_expired_takes_the_token_another_task_minted(hook, fake_clock, requests_mock):
    """Another worker minted (invalidating ours) and shared its token: use it, mint nothing."""
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    hook.get_token()
    store_token(hook, TOKEN_2, fake_clock.wall(), mints=(fake_clock.wall(),))
    cdr = requests_mock.get(CDR_URL, [{"status_code": 200, "json": TOKEN_EXPIRED}, ok_body()])
    hook.get_cdr_details(DAY)
    assert mint.call_count == 1
    assert cdr.request_history[-1].headers["Authorization"] == f"Bearer {TOKEN_2}"


def test_token_expired_is_recovered_as_often_as_needed(hook, requests_mock):
    """Another client keeps minting (invalidating ours): each expiry is recovered, within the quota."""
    tokens = [f"tok-{n}" for n in range(4)]
    mint = requests_mock.post(TOKEN_URL, [{"json": {"token": t, "message": ""}} for t in tokens])
    cdr = requests_mock.get(CDR_URL, [{"status_code": 401, "json": TOKEN_EXPIRED}] * 3 + [ok_body()])
    assert len(hook.get_cdr_details(DAY)) == 1
    assert mint.call_count == 4 and cdr.call_count == 4
    assert cdr.last_request.headers["Authorization"] == "Bearer tok-3"


def test_expiry_beyond_the_mint_quota_is_retryable_by_airflow(hook, fake_clock, requests_mock):
    now = fake_clock.wall()
    # this deployment already minted 8 tokens in the last hour (the vendor allows 10)
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN_2, "message": ""})
    requests_mock.get(CDR_URL, status_code=401, json=TOKEN_EXPIRED)
    store_token(hook, TOKEN, now - 60, mints=tuple(now - 3000 + 60 * n for n in range(MAX_MINTS_PER_HOUR)))
    with pytest.raises(OzonetelTokenExpiredError) as raised:
        hook.get_cdr_details(DAY)
    assert mint.call_count == 0
    assert "already minted 8 tokens for the account in the last hour" in str(raised.value)
    assert "The next mint is allowed in 10 min; Airflow will retry the task" in str(raised.value)
    assert not isinstance(raised.value, AirflowFailException)
    assert not isinstance(raised.value, OzonetelAuthError)


def test_mints_older_than_an_hour_leave_the_quota(hook, fake_clock, requests_mock):
    now = fake_clock.wall()
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN_2, "message": ""})
    requests_mock.get(CDR_URL, [{"status_code": 401, "json": TOKEN_EXPIRED}, ok_body()])
    store_token(hook, TOKEN, now - 60, mints=tuple(now - 4000 + n for n in range(MAX_MINTS_PER_HOUR)))
    hook.get_cdr_details(DAY)
    assert mint.call_count == 1


def test_waits_for_the_lease_holders_token_instead_of_minting(set_conn, fake_clock, requests_mock, ist_noon):
    """Another worker holds the mint lease: this one waits and takes its token (one mint in all)."""
    store = RacyStore({}, "worker-2")
    hook = OzonetelHook(clock=fake_clock.as_clock(), shared_store=store)
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN_2, "message": ""})
    now = fake_clock.wall()
    store_token(hook, None, 0.0, lease_holder="worker-1", lease_until=now + LEASE_SECONDS)
    # worker 1 finishes its mint while this one polls
    fake_clock.on_sleep.append(lambda: store_token(hook, TOKEN, fake_clock.wall(), mints=(now,)))
    assert hook.get_token() == TOKEN
    assert mint.call_count == 0
    assert 0 < sum(fake_clock.sleeps) < 2


def test_a_dead_lease_holder_is_taken_over_after_the_lease(set_conn, fake_clock, requests_mock, ist_noon):
    store = RacyStore({}, "worker-2")
    hook = OzonetelHook(clock=fake_clock.as_clock(), shared_store=store, settle_seconds=0.5)
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN_2, "message": ""})
    store_token(hook, None, 0.0, lease_holder="worker-1", lease_until=fake_clock.wall() + LEASE_SECONDS)
    assert hook.get_token() == TOKEN_2
    assert mint.call_count == 1
    assert LEASE_SECONDS <= sum(fake_clock.sleeps) <= LEASE_SECONDS + 5
    state = load_state(store.read(token_key(hook.settings.account_id)), hook.tokens._cipher)
    assert state.lease_holder is None and len(state.mints) == 1  # the lease is freed after the mint


def test_a_lease_claim_lost_to_another_worker_means_waiting_for_its_token(
    set_conn, fake_clock, requests_mock, ist_noon
):
    """Two workers claim the lease at once; the one whose claim was overwritten mints nothing."""
    values: dict = {}
    store = RacyStore(values, "worker-2")
    hook = OzonetelHook(clock=fake_clock.as_clock(), shared_store=store)
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN_2, "message": ""})
    key = token_key(hook.settings.account_id)
    cipher = TokenCipher(API_KEY, hook.settings.account_key)

    def worker_1_claims_in_our_settle_time():
        now = fake_clock.wall()
        leased = TokenState(lease_holder="worker-1", lease_until=now + LEASE_SECONDS)
        values[key] = dump_state(leased, cipher, now)

    def worker_1_has_minted():
        store_token(hook, TOKEN, fake_clock.wall(), mints=(fake_clock.wall(),))

    fake_clock.on_sleep.extend([worker_1_claims_in_our_settle_time, worker_1_has_minted])
    assert hook.get_token() == TOKEN
    assert mint.call_count == 0


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
    state = load_state(hook.shared_store.read(token_key(hook.settings.account_id)), hook.tokens._cipher)
    assert state.token == TOKEN_2


def test_store_is_variables_inside_a_task_and_the_process_outside(monkeypatch):
    assert isinstance(variable_store.default_store(), MemoryStore)
    monkeypatch.setattr(compat, "in_task_context", lambda: True)
    assert isinstance(variable_store.default_store(), VariableStore)
    assert "token" in token_key("abc")  # so Airflow's UI and logs mask the value


def test_variable_store_reads_past_airflows_cache_and_writes_variables(monkeypatch):
    saved, forgotten = {}, []

    # The store's own logic; compat's Variable access runs for real in the integration tests.
    monkeypatch.setattr(compat, "get_variable", saved.get)
    monkeypatch.setattr(
        compat, "set_variable", lambda key, value, description=None: saved.update({key: value})
    )
    monkeypatch.setattr(compat, "forget_cached_variable", forgotten.append)
    store = VariableStore()
    assert store.read("k") is None
    store.write("k", "v")
    assert store.read("k") == "v" and forgotten == ["k", "k"]


def test_the_stored_token_is_encrypted_with_a_key_derived_from_the_api_key(hook, requests_mock):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    hook.get_token()
    stored = hook.shared_store.read(token_key(hook.settings.account_id))
    assert TOKEN not in stored and API_KEY not in stored
    assert TOKEN.encode() not in base64.b64decode(json.loads(stored)["token"])
    # readable with the API key; useless without it (another key, or a damaged value)
    assert load_state(stored, TokenCipher(API_KEY, hook.settings.account_key)).token == TOKEN
    assert load_state(stored, TokenCipher("another-key", hook.settings.account_key)).token is None
    assert load_state(stored, TokenCipher(API_KEY, "https://other|user")).token is None
    assert TOKEN not in repr(load_state(stored, hook.tokens._cipher))


def test_an_unreadable_stored_token_is_minted_again(hook, requests_mock):
    mint = requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    hook.shared_store.write(token_key(hook.settings.account_id), "{not json")
    assert hook.get_token() == TOKEN and mint.call_count == 1


def test_the_token_is_taken_after_the_wait_for_a_start(set_conn, fake_clock, requests_mock, ist_noon):
    """A long wait for the rate limit must not send a token that aged out meanwhile."""
    from airflow_provider_ozonetel.hooks.ozonetel import CDR_ENDPOINT

    hook = OzonetelHook(clock=fake_clock.as_clock(), token_ttl_seconds=30)
    mint = requests_mock.post(
        TOKEN_URL, [{"json": {"token": TOKEN, "message": ""}}, {"json": {"token": TOKEN_2, "message": ""}}]
    )
    cdr = requests_mock.get(CDR_URL, **ok_body())
    assert hook.get_token() == TOKEN
    OzonetelHook(clock=fake_clock.as_clock()).reserve_requests(CDR_ENDPOINT, 2)  # the window is full
    hook.get_cdr_details(DAY)
    assert fake_clock.sleeps == [pytest.approx(61.2)]
    assert mint.call_count == 2 and cdr.last_request.headers["Authorization"] == f"Bearer {TOKEN_2}"
