"""CDR in CallBacks through the hook: query shape, the IST report-type rules, "No Data Found"."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
import time_machine

from airflow_provider_ozonetel.exceptions import (
    OzonetelAuthError,
    OzonetelDataNotAvailableError,
    OzonetelRequestError,
)
from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
from tests.answers import API_KEY, BIG_UCID, CALLBACKS_URL, USER, callback_record

NO_DATA = {"status": "success", "message": f"No Data Found with UCID {BIG_UCID}"}


def found(api_key=API_KEY):
    return {"json": {"status": "success", "message": [callback_record(BIG_UCID, api_key)]}}


def test_query_shape_and_records(hook, requests_mock):
    calls = requests_mock.get(CALLBACKS_URL, **found())
    records = hook.get_call_details(BIG_UCID, report_type="historical")
    assert calls.last_request.qs == {
        "username": [USER.lower()],
        "apikey": [API_KEY.lower()],
        "ucid": [str(BIG_UCID)],
        "reporttype": ["historical"],
    }  # requests-mock lower-cases query values
    assert (
        "userName=demo_user" in calls.last_request.url and "reportType=historical" in calls.last_request.url
    )
    assert records[0]["monitorUCID"] == str(BIG_UCID)
    assert records[0]["Apikey"] == "***"  # the API echoes the key; it never leaves the hook


def test_no_data_found_is_an_empty_list(hook, requests_mock):
    requests_mock.get(CALLBACKS_URL, json=NO_DATA)
    assert hook.get_call_details(BIG_UCID, report_type="currentday") == []


def _auto(requests_mock, ist_time: str, call_date):
    calls = requests_mock.get(CALLBACKS_URL, **found())
    with time_machine.travel(pendulum.parse(ist_time, tz="Asia/Kolkata"), tick=False):
        hook = OzonetelHook()
        result = hook.get_call_details(BIG_UCID, call_date=call_date)
    return result, [r.qs["reporttype"][0] for r in calls.request_history]


@pytest.mark.parametrize(
    ("now", "call_date", "report_type"),
    [
        ("2026-11-19T23:59:00", "2026-11-19", "currentday"),  # scenario 1 before midnight
        ("2026-11-20T03:00:00", "2026-11-19", "historical"),  # scenarios 1-2 after 03:00
        ("2026-11-20T00:00:00", "2026-11-20", "currentday"),  # scenario 3: started after midnight
        ("2026-11-25T12:00:00", "2026-11-19", "historical"),
    ],
)
def test_auto_picks_the_store_by_the_ist_rules(set_conn, requests_mock, now, call_date, report_type):
    records, asked = _auto(requests_mock, now, call_date)
    assert asked == [report_type] and len(records) == 1


@pytest.mark.parametrize("now", ["2026-11-20T00:00:00", "2026-11-20T02:59:00"])
def test_yesterday_between_midnight_and_three_is_not_available(set_conn, requests_mock, now):
    with pytest.raises(OzonetelDataNotAvailableError) as info:
        _auto(requests_mock, now, dt.date(2026, 11, 19))
    assert info.value.available_at == pendulum.datetime(2026, 11, 20, 3, 0, tz="Asia/Kolkata")
    assert "readable from 2026-11-20T03:00:00+05:30" in str(info.value)
    assert requests_mock.call_count == 0


def test_auto_without_a_date_tries_current_day_then_historical(hook, requests_mock):
    calls = requests_mock.get(CALLBACKS_URL, [{"json": NO_DATA}, found()])
    records = hook.get_call_details(BIG_UCID)
    assert [r.qs["reporttype"][0] for r in calls.request_history] == ["currentday", "historical"]
    assert len(records) == 1


def test_auto_falls_back_to_historical_when_currentday_is_refused(hook, requests_mock):
    refused = {"json": {"status": "error", "message": "Invalid reportType"}}
    calls = requests_mock.get(CALLBACKS_URL, [refused, found(), found()])
    assert len(hook.get_call_details(BIG_UCID, call_date="2026-11-20")) == 1
    assert len(hook.get_call_details(BIG_UCID + 1, call_date="2026-11-20")) == 1
    assert [r.qs["reporttype"][0] for r in calls.request_history] == [
        "currentday",
        "historical",
        "historical",
    ]


def test_explicit_report_type_refused_is_a_request_error(hook, requests_mock):
    requests_mock.get(CALLBACKS_URL, json={"status": "error", "message": "Invalid reportType"})
    with pytest.raises(OzonetelRequestError, match="Invalid reportType"):
        hook.get_call_details(BIG_UCID, report_type="currentday")


def test_wrong_key_is_an_auth_error_on_http_200(hook, requests_mock):
    requests_mock.get(CALLBACKS_URL, json={"status": "error", "message": "userName or apiKey is Invalid"})
    with pytest.raises(OzonetelAuthError, match="userName or apiKey is Invalid"):
        hook.get_call_details(BIG_UCID, report_type="historical")
    assert requests_mock.call_count == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ucid": "31733467784618299x"}, r"ucid: '31733467784618299x' is not numeric"),
        ({"ucid": ""}, r"ucid: a UCID is required"),
        ({"ucid": [BIG_UCID]}, r"ucid: expected digits \(an int or a string\), got list"),
        ({"ucid": {"ucid": 1}}, r"ucid: expected digits \(an int or a string\), got dict"),
        ({"ucid": 1, "report_type": "yesterday"}, r"report_type: 'yesterday' is not one of auto, currentday"),
        ({"ucid": 1, "call_date": "2026-10-01"}, r"call_date=2026-10-01 is older than"),
        ({"ucid": 1, "call_date": "2026-11-21"}, r"call_date=2026-11-21 is in the future"),
    ],
)
def test_bad_input_is_refused_before_any_request(hook, requests_mock, kwargs, message):
    with pytest.raises(OzonetelRequestError, match=message):
        hook.get_call_details(**kwargs)
    assert requests_mock.call_count == 0


def test_custom_callbacks_path_from_the_connection(set_conn, hook, requests_mock):
    set_conn(extra={"callbacks_path": "CAServices/CDR/CallBacks.php"})
    calls = requests_mock.get("https://ozonetel.test/CAServices/CDR/CallBacks.php", **found())
    hook.get_call_details(BIG_UCID, report_type="historical")
    assert calls.call_count == 1
