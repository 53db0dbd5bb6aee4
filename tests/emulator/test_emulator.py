"""The Ozonetel emulator, black box: plain ``requests`` against a running server (no Airflow).

The data clock is pinned to 2026-11-20 12:00 IST unless a test moves it; rate windows
and token life are moved with ``emu.advance(...)`` instead of sleeping.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
import subprocess
import sys
import time
import tracemalloc

import pytest
import requests

from airflow_provider_ozonetel.emulator import answers
from airflow_provider_ozonetel.emulator.config import EmulatorConfig, parse_now
from airflow_provider_ozonetel.emulator.data import Dataset, day_of_ucid
from airflow_provider_ozonetel.emulator.faults import Faults
from airflow_provider_ozonetel.emulator.server import run_emulator
from airflow_provider_ozonetel.emulator.streaming import body_chunks

# Pure logic (or the emulator): the same on every Airflow, so make test-matrix skips it.
pytestmark = pytest.mark.version_independent

NOW = "2026-11-20T12:00:00"
TODAY = dt.date(2026, 11, 20)
YESTERDAY = dt.date(2026, 11, 19)
SEED_FIELDS = [
    "AgentDialStatus", "AgentID", "AgentName", "CallAudio", "CallDate", "CallID", "CallerConfAudioFile",
    "CallerID", "CampaignName", "Comments", "ConferenceDuration", "CustomerDialStatus", "CustomerRingTime",
    "DID", "DialOutName", "DialStatus", "DialedNumber", "Disposition", "Duration", "DynamicDID", "E164",
    "EndTime", "Event", "HandlingTime", "HangupBy", "HoldDuration", "Location", "PickupTime", "Rating",
    "RatingComments", "Skill", "StartTime", "Status", "TalkTime", "TimeToAnswer", "TransferType",
    "TransferredTo", "Type", "UCID", "UUI", "WrapUpEndTime", "WrapUpStartTime", "WrapupDuration",
]  # fmt: skip
CALLBACK_FIELDS = [
    "monitorUCID", "UUI", "Did", "CampaignName", "Location", "CallerID", "PhoneName", "Skill", "StartTime",
    "EndTime", "TimeToAnswer", "CallDuration", "Duration", "FallBackRule", "DialedNumber", "Type", "AgentID",
    "AgentPhoneNumber", "AgentUniqueID", "AgentName", "Disposition", "HangupBy", "Status", "AudioFile",
    "TransferType", "TransferredTo", "Comments", "DialStatus", "Apikey", "AgentStatus", "CustomerStatus",
    "UserName", "CallerConfAudioFile", "ConfDuration", "CampaignStatus", "DataUniqueId", "CallCompleted",
    "ConferenceData",
]  # fmt: skip


@pytest.fixture
def emu(ozonetel_emulator_factory):
    return ozonetel_emulator_factory(calls_per_day=500, now=NOW)


# ----------------------------------------------------------------- helpers
def mint(emu) -> str:
    answer = requests.post(emu.token_url, headers={"apiKey": emu.api_key}, json={"userName": emu.user})
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def day_body(emu, day: dt.date = YESTERDAY, first: str = "00:00:00", last: str = "23:59:59", **extra) -> dict:
    return {
        "fromDate": f"{day} {first}",
        "toDate": f"{day} {last}",
        "userName": emu.user,
        **extra,
    }


def fetch(emu, body=None, *, token: str | None = None, headers=None, advance=True, **kwargs):
    """One fetchCDRDetails request; moves the window clock a minute first (no rate limit) by default."""
    if advance:
        emu.advance(minutes=1)
    send = dict(headers or {})
    if token is not None:
        send["Authorization"] = f"Bearer {token}"
    if body is not None and "data" not in kwargs:
        kwargs["json"] = body
    return requests.get(emu.cdr_url, headers=send, timeout=30, **kwargs)


def callbacks(emu, path: str | None = None, **params):
    query = {"userName": emu.user, "apiKey": emu.api_key, "reportType": "currentday", **params}
    query = {k: v for k, v in query.items() if v is not None}
    return requests.get(emu.base_url + (path or "/CAServices/CDR/callBacks.php"), params=query, timeout=30)


def first_call(emu, day: dt.date, first: str = "00:00:00", last: str = "23:59:59") -> dict:
    return next(emu.dataset.iter_day(day, first, last))


# ----------------------------------------------------------- Generate Token
def test_token_success_shape_and_randomness(emu):
    first = requests.post(emu.token_url, headers={"apiKey": emu.api_key}, json={"userName": emu.user})
    second = requests.post(emu.token_url, headers={"apiKey": emu.api_key}, json={"userName": emu.user})
    assert first.status_code == second.status_code == 200
    assert list(first.json()) == ["token", "message"]
    assert first.json()["message"] == ""
    assert len(first.json()["token"]) >= 40
    assert first.json()["token"] != second.json()["token"]
    assert emu.state.mints == 2
    assert emu.state.token_id == 2


@pytest.mark.parametrize(
    ("headers", "kwargs", "status", "expected"),
    [
        ({"apiKey": "demo_key"}, {"json": {}}, 400, answers.USERNAME_NULL),
        ({"apiKey": "demo_key"}, {"json": {"userName": ""}}, 400, answers.USERNAME_NULL),
        ({"apiKey": "demo_key"}, {"data": "not json"}, 400, answers.USERNAME_NULL),
        ({"apiKey": "demo_key"}, {"json": {"userName": "someone"}}, 401, answers.TOKEN_INVALID_CREDENTIALS),
        ({"apiKey": "wrong"}, {"json": {"userName": "demo_user"}}, 401, answers.TOKEN_INVALID_CREDENTIALS),
        ({}, {"json": {"userName": "demo_user"}}, 401, answers.TOKEN_INVALID_CREDENTIALS),
    ],
)
def test_token_errors(emu, headers, kwargs, status, expected):
    answer = requests.post(emu.token_url, headers=headers, **kwargs)
    assert answer.status_code == status
    assert answer.json() == expected
    assert answer.json()["message"] in ("UserName is null", "Invalid userName or apiKey")
    assert emu.state.mints == 0


def test_token_wants_post(emu):
    assert requests.get(emu.token_url, headers={"apiKey": emu.api_key}).status_code == 405


def test_new_mint_invalidates_earlier_tokens(emu):
    old = mint(emu)
    assert fetch(emu, day_body(emu), token=old).status_code == 200
    new = mint(emu)
    stale = fetch(emu, day_body(emu), token=old)
    assert stale.status_code == 401
    assert stale.text == '{"status":"false","message":"Token Expired","data":null}'
    assert fetch(emu, day_body(emu), token=new).status_code == 200


def test_token_lives_60_emulator_minutes(emu):
    token = mint(emu)
    emu.advance(minutes=58)
    assert fetch(emu, day_body(emu), token=token).status_code == 200  # 59 minutes old
    expired = fetch(emu, day_body(emu), token=token)  # 60 minutes old
    assert (expired.status_code, expired.json()) == (401, answers.TOKEN_EXPIRED)


def test_unknown_token_is_expired(emu):
    mint(emu)
    answer = fetch(emu, day_body(emu), token="eyJforged")
    assert (answer.status_code, answer.json()) == (401, answers.TOKEN_EXPIRED)


def test_mint_limit_10_per_hour(emu):
    for _ in range(10):
        mint(emu)
    refused = requests.post(emu.token_url, headers={"apiKey": emu.api_key}, json={"userName": emu.user})
    assert refused.status_code == 429
    assert refused.json() == {"status": "false", "message": "Token generation limit exceeded", "data": None}
    assert (emu.state.mints, emu.state.mint_refusals) == (10, 1)
    emu.advance(minutes=60)
    mint(emu)
    assert emu.state.mints == 11


# ------------------------------------------------------- Fetch CDR Details
def test_cdr_success_is_streamed_with_the_seed_shape(emu):
    answer = fetch(emu, day_body(emu), token=mint(emu))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers.get("transfer-encoding") == "chunked"
    assert answer.text.startswith('{"details":[{"AgentDialStatus":')
    assert answer.text.endswith('],"message":"success","status":"success"}')
    body = answer.json()
    assert list(body) == ["details", "message", "status"]
    assert body["details"] == list(emu.dataset.iter_day(YESTERDAY))
    assert len(body["details"]) == emu.dataset.count_day(YESTERDAY) > 500
    assert all(list(record) == SEED_FIELDS for record in body["details"])
    assert emu.state.records_sent == len(body["details"])


def test_cdr_post_is_405_and_body_is_required(emu):
    token = mint(emu)
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.post(emu.cdr_url, headers=auth, json=day_body(emu)).status_code == 405
    for kwargs in ({}, {"params": day_body(emu)}, {"data": "{not json"}, {"data": "[1, 2]"}):
        answer = fetch(emu, headers=auth, **kwargs)
        assert answer.status_code == 400
        assert answer.text == '{"status":"false","message":"Invalid Json Pass Valid Json"}'


def test_cdr_missing_auth(emu):
    mint(emu)
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}, {"apiKey": "demo_key"}):
        answer = fetch(emu, day_body(emu), headers=headers)
        assert answer.status_code == 401
        assert answer.text == '{"status":"false","message":"Missing userName or apiKey"}'


MISSING_DATES_TEXT = '{"message":"Missing fromDate and toDate","status":"fail"}'


@pytest.mark.parametrize(
    ("change", "status", "expected"),
    [
        ({"userName": None}, 401, answers.MISSING_USER),
        ({"userName": ""}, 401, answers.MISSING_USER),
        ({"userName": "someone_else"}, 401, answers.INVALID_USER),
        ({"fromDate": None}, 400, answers.MISSING_DATES),
        ({"toDate": None}, 400, answers.MISSING_DATES),
        ({"toDate": ""}, 400, answers.MISSING_DATES),
        ({"fromDate": "2026-11-19"}, 400, answers.BAD_DATE_FORMAT),
        ({"toDate": "2026/11/19 23:59:59"}, 400, answers.BAD_DATE_FORMAT),
        ({"fromDate": "2026-02-30 00:00:00"}, 400, answers.BAD_DATE_FORMAT),
        ({"fromDate": 20261119}, 400, answers.BAD_DATE_FORMAT),
        ({"fromDate": "2026-11-21 00:00:00", "toDate": "2026-11-21 10:00:00"}, 400, answers.FUTURE_DATES),
        ({"toDate": "2026-11-21 00:00:00"}, 400, answers.FUTURE_DATES),
        ({"toDate": "2026-11-20 10:00:00"}, 400, answers.DIFFERENT_DAYS),
        ({"campaignName": "No_Such_Campaign"}, 400, answers.INVALID_CAMPAIGN),
    ],
)
def test_cdr_validation_answers(emu, change, status, expected):
    body = {k: v for k, v in {**day_body(emu), **change}.items() if v is not None}
    answer = fetch(emu, body, token=mint(emu))
    assert answer.status_code == status
    assert answer.json() == expected
    assert list(answer.json()) == list(expected)  # the seed's key order


def test_cdr_error_texts_word_for_word(emu):
    token = mint(emu)
    answer = fetch(emu, {"userName": emu.user}, token=token)
    assert answer.text == MISSING_DATES_TEXT
    answer = fetch(emu, day_body(emu, fromDate="2026-11-19T00:00:00"), token=token)
    assert answer.json()["message"] == (
        "Invalid fromDate format. Please pass the date in the format yyyy-MM-dd HH:mm:ss"
    )
    assert fetch(emu, day_body(emu, toDate="2026-11-21 00:00:00"), token=token).json()["message"] == (
        "fromDate and toDate should not be future dates"
    )
    assert fetch(emu, day_body(emu, toDate="2026-11-20 00:00:00"), token=token).json()["message"] == (
        "fromDate and toDate should be same date"
    )
    assert fetch(emu, day_body(emu, campaignName="x"), token=token).text == (
        '{"message":"Invalid campaignName","status":"fail"}'
    )


def test_cdr_check_order(emu):
    token = mint(emu)
    # a bad token wins over a bad body; a bad body over a bad user; a bad user over bad dates
    assert fetch(emu, data="{", token="stale").json() == answers.TOKEN_EXPIRED
    assert fetch(emu, data="{", token=token).json() == answers.INVALID_JSON
    assert fetch(emu, {"userName": "x", "fromDate": "bad"}, token=token).json() == answers.INVALID_USER
    assert fetch(emu, day_body(emu, fromDate="bad", campaignName="x"), token=token).json() == (
        answers.BAD_DATE_FORMAT
    )
    # the future check comes before the same-day check
    body = day_body(emu, toDate="2026-11-22 00:00:00")
    assert fetch(emu, body, token=token).json() == answers.FUTURE_DATES


def test_cdr_rate_limit_two_per_minute_sliding(emu):
    token = mint(emu)
    assert fetch(emu, day_body(emu), token=token).status_code == 200
    emu.advance(seconds=30)
    assert fetch(emu, day_body(emu), token=token, advance=False).status_code == 200
    limited = fetch(emu, day_body(emu), token=token, advance=False)
    assert limited.status_code == 429
    assert limited.text == '{"message":"API rate limit has been exceeded","status":"error"}'
    emu.advance(seconds=31)  # the first request left the window, the second has not
    assert fetch(emu, day_body(emu), token=token, advance=False).status_code == 200
    assert fetch(emu, day_body(emu), token=token, advance=False).status_code == 429
    assert emu.state.rate_limited["cdr"] == 2


def test_cdr_rate_limit_counts_requests_with_bad_dates(emu):
    token = mint(emu)
    bad = day_body(emu, fromDate="yesterday")
    assert fetch(emu, bad, token=token).status_code == 400
    assert fetch(emu, bad, token=token, advance=False).status_code == 400
    assert fetch(emu, day_body(emu), token=token, advance=False).status_code == 429
    # requests refused before the account is known do not count
    emu.advance(minutes=1)
    assert fetch(emu, {"userName": "nobody"}, token=token, advance=False).status_code == 401
    assert fetch(emu, day_body(emu), token=token, advance=False).status_code == 200


def test_rate_windows_follow_minute_seconds(ozonetel_emulator_factory):
    emu = ozonetel_emulator_factory(calls_per_day=10, now=NOW, minute_seconds=0.2)
    token = mint(emu)
    assert fetch(emu, day_body(emu), token=token, advance=False).status_code == 200
    assert fetch(emu, day_body(emu), token=token, advance=False).status_code == 200
    assert fetch(emu, day_body(emu), token=token, advance=False).status_code == 429
    time.sleep(0.25)
    assert fetch(emu, day_body(emu), token=token, advance=False).status_code == 200


def test_api_key_mode(ozonetel_emulator_factory):
    emu = ozonetel_emulator_factory(calls_per_day=50, now=NOW, auth_mode="api_key")
    ok = fetch(emu, day_body(emu), headers={"apiKey": emu.api_key})
    assert ok.status_code == 200
    assert len({r["CallID"] for r in ok.json()["details"]}) == 50
    token = mint(emu)  # the token API still answers, but the report API ignores tokens
    answer = fetch(emu, day_body(emu), token=token)
    assert (answer.status_code, answer.text) == (
        401,
        '{"status":"false","message":"Missing userName or apiKey"}',
    )
    wrong = fetch(emu, day_body(emu), headers={"apiKey": "wrong"})
    assert (wrong.status_code, wrong.text) == (
        401,
        '{"status":"false","message":"userName or apiKey is Invalid"}',
    )
    both = fetch(emu, day_body(emu), token=token, headers={"apiKey": emu.api_key})
    assert both.status_code == 200


def test_cdr_filters(emu):
    token = mint(emu)
    truth = list(emu.dataset.iter_day(YESTERDAY))
    window = fetch(emu, day_body(emu, first="10:00:00", last="10:59:59"), token=token).json()["details"]
    assert window == [r for r in truth if "10:00:00" <= r["StartTime"] <= "10:59:59"]
    assert window
    pick = truth[123]
    by_ucid = fetch(emu, day_body(emu, ucid=str(pick["UCID"])), token=token).json()["details"]
    assert by_ucid == [pick]
    by_monitor = fetch(emu, day_body(emu, monitorUCID=pick["UCID"]), token=token).json()["details"]
    assert by_monitor == [pick]
    outside = fetch(emu, day_body(emu, first="00:00:00", last="00:00:01", ucid=pick["UCID"]), token=token)
    assert outside.json()["details"] == []
    inbound = fetch(emu, day_body(emu, callType="inbound"), token=token).json()["details"]
    assert inbound == [r for r in truth if r["Type"] == "InBound"]
    missed = fetch(emu, day_body(emu, status="NotAnswered"), token=token).json()["details"]
    assert missed == [r for r in truth if r["Status"] == "NotAnswered"]
    assert missed
    campaign = fetch(emu, day_body(emu, campaignName="Inbound_Sales"), token=token).json()["details"]
    assert campaign == [r for r in truth if r["CampaignName"] == "Inbound_Sales"]


def test_cdr_today_has_only_calls_started_before_now(emu):
    details = fetch(emu, day_body(emu, TODAY), token=mint(emu)).json()["details"]
    assert details
    assert all(r["StartTime"] < "12:00:00" for r in details)
    assert details == list(emu.dataset.iter_day(TODAY, now=emu.now()))
    assert len({r["CallID"] for r in details}) < 500


def test_cdr_retention_answers_empty_success(emu):
    token = mint(emu)
    old = fetch(emu, day_body(emu, TODAY - dt.timedelta(days=15)), token=token)
    assert old.status_code == 200
    assert old.json() == {"details": [], "message": "success", "status": "success"}
    kept = fetch(emu, day_body(emu, TODAY - dt.timedelta(days=14)), token=token)
    assert len({r["CallID"] for r in kept.json()["details"]}) == 500


def test_cdr_big_ints_are_exact_json_numbers(emu):
    text = fetch(emu, day_body(emu), token=mint(emu)).text
    ucids = [int(digits) for digits in re.findall(r'"UCID":(\d+)', text)]
    call_ids = [int(digits) for digits in re.findall(r'"CallID":(\d+)', text)]
    assert len(ucids) == len(call_ids) == emu.dataset.count_day(YESTERDAY)
    assert min(ucids) > 2**53 and min(call_ids) > 2**53
    assert ucids == list(emu.dataset.ucids(YESTERDAY))
    assert all(int(float(n)) != n for n in ucids + call_ids)  # a float64 gets every one wrong


def test_midnight_crossing_and_multi_leg_calls_are_served(emu):
    details = fetch(emu, day_body(emu), token=mint(emu)).json()["details"]
    crossing = [r for r in details if r["EndTime"] < r["StartTime"]]
    assert crossing
    assert all(r["StartTime"] >= "23:00:00" and r["EndTime"] < "01:00:00" for r in crossing)
    legs = collections.Counter(r["CallID"] for r in details)
    multi = [call_id for call_id, n in legs.items() if n > 1]
    assert multi
    for call_id in multi:
        rows = [r for r in details if r["CallID"] == call_id]
        assert len({r["UCID"] for r in rows}) == len(rows)
        assert len({r["CallerID"] for r in rows}) == 1
        assert rows[0]["TransferType"] != ""


# ------------------------------------------------------------------ the data
def test_dataset_is_deterministic_per_seed():
    one, again, other = Dataset(1, 300), Dataset(1, 300), Dataset(2, 300)
    assert list(one.iter_day(YESTERDAY)) == list(again.iter_day(YESTERDAY))
    assert list(one.iter_day(YESTERDAY)) != list(other.iter_day(YESTERDAY))
    assert list(one.iter_day(YESTERDAY)) != list(one.iter_day(TODAY))


def test_same_seed_serves_the_same_bytes(ozonetel_emulator_factory):
    first = ozonetel_emulator_factory(calls_per_day=200, now=NOW, seed=7)
    second = ozonetel_emulator_factory(calls_per_day=200, now=NOW, seed=7)
    third = ozonetel_emulator_factory(calls_per_day=200, now=NOW, seed=8)
    bodies = [fetch(e, day_body(e), token=mint(e)).text for e in (first, second, third)]
    assert bodies[0] == bodies[1] != bodies[2]


def test_dataset_shape():
    data = Dataset(1, 2000)
    records = list(data.iter_day(YESTERDAY))
    assert len({r["CallID"] for r in records}) == 2000
    assert 2100 < len(records) == data.count_day(YESTERDAY) < 2500
    starts = [r["StartTime"] for r in records]
    assert starts == sorted(starts)
    hours = collections.Counter(int(s[:2]) for s in starts)
    assert min(hours[h] for h in (10, 11, 12, 15, 16, 17)) > 5 * max(hours[h] for h in range(6))
    types = collections.Counter(r["Type"] for r in records)
    assert {"InBound", "Manual", "Progressive", "Preview", "Predictive"} <= set(types)
    missed = [r for r in records if r["Status"] == "NotAnswered"]
    assert 0.1 < len(missed) / len(records) < 0.4
    assert all(r["PickupTime"] == "" and r["TalkTime"] == "00:00:00" for r in missed)
    answered = [r for r in records if r["Status"] == "Answered"]
    assert all(r["PickupTime"] and r["CallAudio"].endswith(".mp3") for r in answered)
    assert {r["TransferType"] for r in records} >= {"", "Agent Transfer"}
    legs = collections.Counter(r["CallID"] for r in records)
    share = sum(1 for n in legs.values() if n > 1) / len(legs)
    assert 0.05 < share < 0.2
    assert len({r["AgentID"] for r in answered}) > 20
    assert all(r["CallDate"] == "2026-11-19" for r in records)


def test_ucids_are_unique_across_days_and_found_again():
    data = Dataset(3, 400)
    days = [YESTERDAY - dt.timedelta(days=n) for n in range(3)]
    ucids = [set(data.ucids(day)) for day in days]
    assert sum(map(len, ucids)) == len(set().union(*ucids)) > 1200
    for day in days:
        for record in list(data.iter_day(day))[::37]:
            assert data.find_ucid(record["UCID"]) == record
            assert data.find_ucid(str(record["UCID"])) == record
            assert day_of_ucid(record["UCID"]) == day
    call_ids = list(data.call_ids(YESTERDAY))
    assert len(call_ids) == len(set(call_ids)) == len({r["CallID"] for r in data.iter_day(YESTERDAY)})
    assert data.find_ucid(123) is None
    assert data.find_ucid("not a number") is None


# ---------------------------------------------------------- CDR in CallBacks
def test_callbacks_success_shape(emu):
    record = first_call(emu, YESTERDAY, "10:00:00")
    answer = callbacks(emu, ucid=record["UCID"], reportType="historical")
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == ["status", "message"]
    assert body["status"] == "success"
    (found,) = body["message"]
    assert list(found) == CALLBACK_FIELDS
    assert found["monitorUCID"] == str(record["UCID"])
    assert found["Apikey"] == emu.api_key
    assert found["UserName"] == emu.user
    assert found["StartTime"] == f"2026-11-19 {record['StartTime']}"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", found["EndTime"])
    assert found["TransferType"] in (
        "No Transfers",
        "Agent Transfer",
        "Skill Transfer",
        "Conference",
        "Phone Transfer",
    )
    assert found["CallCompleted"] == "TRUE"


def test_callbacks_path_any_casing(emu):
    record = first_call(emu, YESTERDAY, "10:00:00")
    for path in ("/caservices/cdr/callbacks.php", "/CAServices/CDR/CallBacks.php"):
        answer = callbacks(emu, path=path, ucid=record["UCID"], reportType="historical")
        assert answer.json()["status"] == "success"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"userName": ""}, "userName should not be empty"),
        ({"userName": None}, "userName should not be empty"),
        ({"apiKey": ""}, "apiKey should not be empty"),
        ({"ucid": None}, "ucid should not be empty"),
        ({"reportType": ""}, "reportType should not be empty"),
        ({"reportType": "yesterday"}, "Invalid reportType"),
        ({"ucid": "12ab"}, "ucid should be numeric only"),
        ({"userName": "someone"}, "userName or apiKey is Invalid"),
        ({"apiKey": "wrong"}, "userName or apiKey is Invalid"),
        # order: empties first, then the report type, then the UCID, then the account
        ({"userName": "", "apiKey": ""}, "userName should not be empty"),
        ({"ucid": "", "reportType": "bad"}, "ucid should not be empty"),
        ({"reportType": "bad", "ucid": "x"}, "Invalid reportType"),
        ({"ucid": "x", "apiKey": "wrong"}, "ucid should be numeric only"),
    ],
)
def test_callbacks_errors(emu, params, message):
    answer = callbacks(emu, **{"ucid": "31733460000000001", **params})
    assert answer.status_code == 200
    assert answer.text == json.dumps({"status": "error", "message": message}, separators=(",", ":"))


def test_callbacks_no_data(emu):
    answer = callbacks(emu, ucid="12345")
    assert answer.status_code == 200
    assert answer.json() == {"status": "success", "message": "No Data Found with UCID 12345"}


def test_callbacks_rate_limit_50_per_minute(emu):
    for _ in range(50):
        assert callbacks(emu, ucid="1").json()["status"] == "success"
    limited = callbacks(emu, ucid="1")
    assert (limited.status_code, limited.json()) == (
        200,
        {"status": "error", "message": "max limit exceeded"},
    )
    assert emu.state.rate_limited["callbacks"] == 1
    emu.advance(minutes=1)
    assert callbacks(emu, ucid="1").json()["status"] == "success"


def _stores(emu, record) -> dict[str, bool]:
    return {
        report: isinstance(callbacks(emu, ucid=record["UCID"], reportType=report).json()["message"], list)
        for report in ("currentday", "historical")
    }


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-11-19T23:59:00", {"currentday": True, "historical": False}),
        ("2026-11-20T00:00:00", {"currentday": False, "historical": False}),
        ("2026-11-20T02:59:59", {"currentday": False, "historical": False}),
        ("2026-11-20T03:00:00", {"currentday": False, "historical": True}),
        ("2026-12-03T12:00:00", {"currentday": False, "historical": True}),  # 14 days later
        ("2026-12-04T12:00:00", {"currentday": False, "historical": False}),  # past retention
    ],
)
def test_callbacks_store_rules_scenario_1(emu, now, expected):
    record = first_call(emu, YESTERDAY, "10:00:00")
    emu.set_now(now)
    assert _stores(emu, record) == expected


def test_callbacks_store_rules_scenario_2_call_across_midnight(emu):
    crossing = next(r for r in emu.dataset.iter_day(YESTERDAY) if r["EndTime"] < r["StartTime"])
    emu.set_now("2026-11-20T01:00")
    assert _stores(emu, crossing) == {"currentday": False, "historical": False}
    emu.set_now("2026-11-20T03:00")
    assert _stores(emu, crossing) == {"currentday": False, "historical": True}
    (found,) = callbacks(emu, ucid=crossing["UCID"], reportType="historical").json()["message"]
    assert found["StartTime"].startswith("2026-11-19 ") and found["EndTime"].startswith("2026-11-20 ")


def test_callbacks_store_rules_scenario_3_and_calls_not_started_yet(emu):
    record = first_call(emu, TODAY)
    start = dt.datetime.fromisoformat(f"{TODAY}T{record['StartTime']}")
    emu.set_now(start)
    assert _stores(emu, record) == {"currentday": False, "historical": False}  # starts right now
    emu.set_now(start + dt.timedelta(seconds=1))
    assert _stores(emu, record) == {"currentday": True, "historical": False}


def test_no_currentday_variant(ozonetel_emulator_factory):
    emu = ozonetel_emulator_factory(calls_per_day=100, now=NOW, currentday=False)
    record = first_call(emu, YESTERDAY)
    assert callbacks(emu, ucid=record["UCID"], reportType="currentday").json() == {
        "status": "error",
        "message": "Invalid reportType",
    }
    assert callbacks(emu, ucid=record["UCID"], reportType="historical").json()["status"] == "success"


# -------------------------------------------------------------------- faults
def test_fault_5xx(emu):
    token = mint(emu)
    emu.set_faults(error_5xx=1)
    answer = fetch(emu, day_body(emu), token=token)
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("text/html")
    assert "<html>" in answer.text and "502 Bad Gateway" in answer.text
    assert fetch(emu, day_body(emu), token=token).status_code == 200
    emu.set_faults(error_5xx=-1)
    assert [callbacks(emu, ucid="1").status_code for _ in range(3)] == [502, 502, 502]
    assert mint(emu)  # the token endpoint is not in the default scope
    emu.set_faults(error_5xx=0)
    assert callbacks(emu, ucid="1").status_code == 200
    emu.set_faults(error_5xx=1, error_5xx_endpoints=["token"])
    assert (
        requests.post(emu.token_url, headers={"apiKey": emu.api_key}, json={"userName": emu.user}).status_code
        == 502
    )
    assert emu.state.faults["error_5xx"]["fired"] == 5


def test_fault_drop_breaks_the_read(emu):
    token = mint(emu)
    emu.set_faults(drop=1)
    answer = fetch(emu, day_body(emu), token=token, stream=True)
    assert answer.status_code == 200
    received = b""
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        for chunk in answer.iter_content(chunk_size=None):
            received += chunk
    assert received.startswith(b'{"details":[{')
    assert b'"status":"success"' not in received
    assert fetch(emu, day_body(emu), token=token).json()["status"] == "success"


def test_fault_drop_on_an_empty_answer(emu):
    token = mint(emu)
    emu.set_faults(drop=1)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        fetch(emu, day_body(emu, TODAY - dt.timedelta(days=20)), token=token).json()


def test_fault_truncate_ends_cleanly_with_broken_json(emu):
    token = mint(emu)
    emu.set_faults(truncate=1)
    answer = fetch(emu, day_body(emu), token=token)
    assert answer.status_code == 200
    assert answer.text.startswith('{"details":[{')
    with pytest.raises(ValueError):
        json.loads(answer.text)
    assert fetch(emu, day_body(emu), token=token).json()["status"] == "success"


def test_fault_error_at_end(emu):
    emu.set_faults(error_at_end=1)
    answer = fetch(emu, day_body(emu), token=mint(emu))
    assert answer.status_code == 200
    assert answer.text.endswith('],"message":"API rate limit has been exceeded","status":"error"}')
    body = answer.json()
    assert body["details"] == list(emu.dataset.iter_day(YESTERDAY))
    assert (body["message"], body["status"]) == ("API rate limit has been exceeded", "error")


def test_fault_rate_limit_storm(emu):
    token = mint(emu)
    emu.set_faults(rate_limit_storm=2)
    first = fetch(emu, day_body(emu), token=token)
    assert (first.status_code, first.json()) == (429, answers.CDR_RATE_LIMIT)
    second = callbacks(emu, ucid="1")
    assert (second.status_code, second.json()) == (200, {"status": "error", "message": "max limit exceeded"})
    assert fetch(emu, day_body(emu), token=token).status_code == 200
    assert emu.state.rate_limited == {"token": 0, "cdr": 1, "callbacks": 1}


def test_fault_steal_token(emu):
    token = mint(emu)
    emu.set_faults(steal_token=1)
    stolen = fetch(emu, day_body(emu), token=token)
    assert (stolen.status_code, stolen.json()) == (401, answers.TOKEN_EXPIRED)
    state = emu.state
    assert (state.mints, state.stolen_mints, state.token_id) == (1, 1, 2)
    assert fetch(emu, day_body(emu), token=mint(emu)).status_code == 200


def test_fault_slow(emu):
    emu.set_faults(slow=0.3, slow_count=1)
    started = time.monotonic()
    callbacks(emu, ucid="1")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    callbacks(emu, ucid="1")
    assert time.monotonic() - started < 0.3
    assert emu.state.faults["slow"] == {
        "remaining": 0,
        "fired": 1,
        "endpoints": ["cdr", "callbacks"],
        "seconds": 0.3,
    }


def test_fault_trickle_sends_the_body_a_byte_at_a_time(emu):
    emu.set_faults(trickle=0.01, trickle_count=1)
    answer = requests.get(
        emu.base_url + "/CAServices/CDR/callBacks.php",
        params={"userName": emu.user, "apiKey": emu.api_key, "reportType": "currentday", "ucid": "1"},
        stream=True,
        timeout=30,
    )
    pieces = [piece for piece in answer.raw.stream(1 << 16) if piece]
    body = b"".join(pieces)
    assert json.loads(body)["status"] == "success" and len(pieces) > len(body) // 2
    assert "content-length" not in answer.headers
    assert callbacks(emu, ucid="1").json()["status"] == "success"  # the next answer is whole again
    assert emu.state.faults["trickle"] == {
        "remaining": 0,
        "fired": 1,
        "endpoints": ["cdr", "callbacks"],
        "seconds": 0.01,
    }


def test_faults_from_options_like_the_command_line(ozonetel_emulator_factory):
    emu = ozonetel_emulator_factory(calls_per_day=20, now=NOW, fault_truncate=1, faults={"5xx": 1})
    token = mint(emu)
    assert fetch(emu, day_body(emu), token=token).status_code == 502
    with pytest.raises(ValueError):
        fetch(emu, day_body(emu), token=token).json()


def test_fault_settings_are_validated():
    faults = Faults()
    for bad in (
        {"nonsense": 1},
        {"drop": -2},
        {"drop": "many"},
        {"drop_endpoints": ["nowhere"]},
        {"slow": -1},
    ):
        with pytest.raises(ValueError):
            faults.set(**bad)
    faults.set(**{"fault_5xx": 3, "slow": 1.5})
    snapshot = faults.snapshot()
    assert snapshot["error_5xx"]["remaining"] == 3
    assert snapshot["slow"]["remaining"] == -1


# --------------------------------------------------------------- admin routes
def test_admin_routes(emu):
    token = mint(emu)
    state = requests.get(emu.base_url + "/_emulator/state").json()
    assert state["mints"] == 1 and state["token_id"] == 1
    assert state["clock"] == {"now": "2026-11-20T12:00:00+05:30", "pinned": True, "minute_seconds": 60.0}
    raw = requests.get(emu.base_url + "/_emulator/state?log=1").text
    assert token not in raw and emu.api_key not in raw
    assert json.loads(raw)["log"][0]["endpoint"] == "token"

    faults = requests.post(emu.base_url + "/_emulator/faults", json={"truncate": 1})
    assert faults.status_code == 200 and faults.json()["truncate"]["remaining"] == 1
    assert requests.post(emu.base_url + "/_emulator/faults", json={"bogus": 1}).status_code == 400
    with pytest.raises(ValueError):
        fetch(emu, day_body(emu), token=token).json()
    cleared = requests.post(emu.base_url + "/_emulator/faults", json={"clear": True, "drop": 0}).json()
    assert all(f["remaining"] == 0 for f in cleared.values())

    clock = requests.post(emu.base_url + "/_emulator/clock", json={"now": "2026-11-21T02:59"}).json()
    assert clock["now"] == "2026-11-21T02:59:00+05:30"
    assert emu.now() == parse_now("2026-11-21T02:59")
    assert fetch(emu, day_body(emu, TODAY), token=token).json()["details"]  # today became yesterday
    assert requests.post(emu.base_url + "/_emulator/clock", json={"advance_minutes": 1}).status_code == 200
    assert requests.post(emu.base_url + "/_emulator/clock", json={"now": "tomorrow"}).status_code == 400
    assert requests.post(emu.base_url + "/_emulator/clock", json={"now": None}).json()["pinned"] is False


def test_unknown_path_is_404(emu):
    assert requests.get(emu.base_url + "/nope").status_code == 404
    assert emu.state.requests["other"] == 1


# ----------------------------------------------------------------- streaming
def test_a_50k_day_streams_before_it_is_generated(ozonetel_emulator_factory):
    emu = ozonetel_emulator_factory(calls_per_day=50_000, now=NOW)
    answer = fetch(emu, day_body(emu), token=mint(emu), stream=True)
    chunks = answer.iter_content(chunk_size=None)
    first = next(chunks)
    assert first.startswith(b'{"details":[{')
    assert emu.state.records_sent < 50_000  # the server is not done when the client gets its first bytes
    size = len(first) + sum(len(chunk) for chunk in chunks)
    assert size > 40_000_000
    assert emu.state.records_sent == emu.dataset.count_day(YESTERDAY) > 50_000


def test_body_generation_has_flat_memory():
    data = Dataset(1, 8_000)
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in body_chunks(data.iter_day(YESTERDAY)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 8_000_000
    assert peak < 2_000_000, f"peak {peak} bytes for a {total}-byte body"


def test_body_cache_serves_the_same_bytes(ozonetel_emulator_factory, tmp_path):
    emu = ozonetel_emulator_factory(calls_per_day=300, now=NOW, cache_dir=str(tmp_path))
    token = mint(emu)
    first = fetch(emu, day_body(emu), token=token).text
    assert len(list(tmp_path.glob("*.json"))) == 1
    second = fetch(emu, day_body(emu), token=token).text
    assert first == second
    assert emu.state.records_sent == 2 * emu.dataset.count_day(YESTERDAY)
    assert fetch(emu, day_body(emu, ucid="1"), token=token).json()["details"] == []  # filters bypass it
    assert len(list(tmp_path.glob("*.json"))) == 1


# ------------------------------------------------------------ running it
def test_run_emulator_starts_fast_and_stops():
    started = time.monotonic()
    with run_emulator(calls_per_day=10) as emu:
        assert time.monotonic() - started < 1.0
        assert emu.base_url.startswith("http://127.0.0.1:")
        assert requests.get(emu.base_url + "/_emulator/state").status_code == 200
        url = emu.base_url
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + "/_emulator/state", timeout=2)


def test_config_validation():
    with pytest.raises(ValueError):
        EmulatorConfig(auth_mode="oauth")
    with pytest.raises(ValueError):
        EmulatorConfig(minute_seconds=0)
    with pytest.raises(ValueError):
        parse_now("20/11/2026")
    assert parse_now("2026-11-20T12:00").isoformat() == "2026-11-20T12:00:00+05:30"
    assert (
        parse_now(dt.datetime(2026, 11, 20, 6, 30, tzinfo=dt.UTC)).isoformat() == "2026-11-20T12:00:00+05:30"
    )


def test_cli_port_0_prints_the_url_first():
    command = [
        sys.executable,
        "-m",
        "airflow_provider_ozonetel.emulator",
        "--port",
        "0",
        "--now",
        NOW,
        "--seed",
        "5",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        try:
            url = process.stdout.readline().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
            state = requests.get(url + "/_emulator/state", timeout=5).json()
            assert state["config"]["seed"] == 5
            assert state["clock"]["now"] == "2026-11-20T12:00:00+05:30"
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_cli_help_documents_every_option():
    out = subprocess.run(
        [sys.executable, "-m", "airflow_provider_ozonetel.emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in (
        "--host", "--port", "--user", "--api-key", "--auth-mode", "--seed", "--calls-per-day",
        "--minute-seconds", "--now", "--no-currentday", "--fault-slow", "--fault-slow-count", "--fault-5xx",
        "--fault-drop", "--fault-truncate", "--fault-error-at-end", "--fault-rate-limit-storm",
        "--fault-steal-token", "--fault-trickle", "--fault-trickle-count",
    ):  # fmt: skip
        assert flag in out


def test_the_emulator_does_not_import_airflow():
    code = (
        "import sys, airflow_provider_ozonetel.emulator.server, airflow_provider_ozonetel.emulator.cli; "
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_fast_record_writer_matches_the_json_encoder():
    plain = Dataset(4, 300)
    for record in plain.iter_day(YESTERDAY):
        assert json.loads(plain.encode_record(record)) == record
    odd = Dataset(4, 50, account='we"ird\\name')
    for record in odd.iter_day(YESTERDAY):
        assert json.loads(odd.encode_record(record)) == record
