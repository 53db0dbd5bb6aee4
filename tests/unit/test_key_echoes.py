"""The API key never leaves: not through a redirect, not in an output row, not in an error text.

The connection's key here is ``K3y+/=&<>"x-4711``: every escaping (HTML, percent, JSON) changes
it, so a check that only looks for the key as it is would miss its echoes.
"""

from __future__ import annotations

import gzip
import json

import pendulum
import pytest

from airflow_provider_ozonetel.exceptions import OzonetelAuthError, OzonetelError
from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
from airflow_provider_ozonetel.operators.ozonetel import (
    OzonetelCallDetailsOperator,
    OzonetelCDRDetailsOperator,
)
from airflow_provider_ozonetel.secret_forms import echo_forms
from tests.answers import (
    BIG_UCID,
    CALLBACKS_URL,
    CDR_URL,
    TOKEN,
    TOKEN_URL,
    callback_record,
    cdr_body,
    cdr_record,
)

KEY = 'K3y+/=&<>"x-4711'
FORMS = sorted(echo_forms(KEY))
DAY = "2026-11-19"
RUN = pendulum.datetime(2026, 11, 20, 3, 30, tz="Asia/Kolkata")
CONTEXT = {"data_interval_start": RUN, "data_interval_end": RUN, "logical_date": RUN, "run_id": "r1"}
EVIL = "https://collector.example"


@pytest.fixture
def key_conn(set_conn):
    set_conn(password=KEY)


@pytest.fixture
def vendor(requests_mock, key_conn, ist_noon):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    return requests_mock


def assert_no_key(text: str) -> None:
    leaked = [form for form in [*FORMS, KEY.replace('"', '""')] if form in text]
    assert leaked == [], f"the key leaked as {leaked}"


def test_the_forms_cover_every_escaping():
    assert {
        'K3y+/=&<>"x-4711',
        "K3y+/=&amp;&lt;&gt;&quot;x-4711",
        "K3y%2B%2F%3D%26%3C%3E%22x-4711",
        "K3y%2b%2f%3d%26%3c%3e%22x-4711",
        'K3y+/=&<>\\"x-4711',
        'K3y+/=&<>\\\\\\"x-4711',
    } <= set(FORMS)


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize("auth_mode", ["token", "api_key"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_off_the_host_is_not_followed(set_conn, vendor, fake_clock, auth_mode, status):
    set_conn(password=KEY, extra={"auth_mode": auth_mode})
    collector = vendor.get(f"{EVIL}/steal", text=cdr_body([]))
    vendor.get(CDR_URL, status_code=status, headers={"Location": f"{EVIL}/steal?apiKey=whatever"})
    hook = OzonetelHook(clock=fake_clock.as_clock())
    with pytest.raises(OzonetelAuthError) as info:
        hook.get_cdr_details(DAY)
    assert collector.call_count == 0
    assert str(info.value).startswith(
        f"fetchCDRDetails answered with an HTTP {status} redirect to {EVIL}/steal, off the configured "
        "host https://ozonetel.test: not followed, since it would carry the API key or token there."
    )
    assert "whatever" not in str(info.value)


def test_callbacks_and_token_redirects_off_the_host_are_not_followed(vendor, fake_clock):
    collector = vendor.get(f"{EVIL}/steal", json={"status": "success", "message": []})
    vendor.post(f"{EVIL}/steal", json={"token": "stolen", "message": ""})
    vendor.get(CALLBACKS_URL, status_code=302, headers={"Location": f"{EVIL}/steal"})
    vendor.post(TOKEN_URL, status_code=307, headers={"Location": f"{EVIL}/steal"})
    hook = OzonetelHook(clock=fake_clock.as_clock())
    with pytest.raises(OzonetelAuthError, match="CallBacks answered with an HTTP 302 redirect"):
        hook.get_call_details(BIG_UCID, report_type="historical")
    with pytest.raises(OzonetelAuthError, match="generateToken answered with an HTTP 307 redirect"):
        hook.get_token()
    assert collector.call_count == 0 and vendor.call_count == 2


@pytest.mark.parametrize("target", ["http://ozonetel.test/elsewhere", "https://ozonetel.test:8443/x"])
def test_a_redirect_to_another_scheme_or_port_is_off_the_host(vendor, fake_clock, target):
    vendor.get(CDR_URL, status_code=301, headers={"Location": target})
    with pytest.raises(OzonetelAuthError, match="off the configured host"):
        OzonetelHook(clock=fake_clock.as_clock()).get_cdr_details(DAY)


def test_a_redirect_on_the_host_is_followed(vendor, fake_clock):
    moved = vendor.get("https://ozonetel.test/v2/fetchCDRDetails", text=cdr_body([cdr_record(0)]))
    vendor.get(CDR_URL, status_code=307, headers={"Location": "/v2/fetchCDRDetails"})
    assert len(OzonetelHook(clock=fake_clock.as_clock()).get_cdr_details(DAY)) == 1
    assert moved.last_request.headers["Authorization"] == f"Bearer {TOKEN}"


# ---------------------------------------------------------------- echoes in rows


def echoing_record(n: int) -> dict:
    return {
        **cdr_record(n),
        "Apikey": KEY,
        "apikey": KEY,
        "APIKEY": KEY,
        "api_key": KEY,
        "Meta": {"ApiKey": KEY, "list": [{"api-key": KEY}, f"key={KEY}"]},
        "Comments": f"echo: {KEY} / {json.dumps({'k': KEY})} / {FORMS[0]}",
        KEY: "the key as a field name",
    }


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize(("file_format", "compression"), [("jsonl", None), ("csv", None), ("jsonl", "gzip")])
def test_day_rows_never_hold_the_key(tmp_path, fake_clock, vendor, normalize, file_format, compression):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0), echoing_record(1), cdr_record(2)]))
    op = OzonetelCDRDetailsOperator(
        task_id="pull",
        destination=f"file://{tmp_path}/",
        file_format=file_format,
        compression=compression,
        normalize=normalize,
        hook_params={"clock": fake_clock.as_clock()},
    )
    result = op.execute(CONTEXT)
    data = (tmp_path / result["path"].rsplit("/", 1)[1]).read_bytes()
    text = (gzip.decompress(data) if compression else data).decode()
    assert result["rows"] == 3
    assert_no_key(text)
    assert "***" in text and "echo: ***" in text


@pytest.mark.parametrize("normalize", [True, False])
def test_day_rows_returned_as_xcom_never_hold_the_key(fake_clock, vendor, normalize):
    vendor.get(CDR_URL, text=cdr_body([echoing_record(0)]))
    op = OzonetelCDRDetailsOperator(
        task_id="pull", destination=None, normalize=normalize, hook_params={"clock": fake_clock.as_clock()}
    )
    (row,) = op.execute(CONTEXT)
    assert_no_key(json.dumps(row))
    meta = row["meta"] if normalize else row["Meta"]
    assert meta == {"ApiKey": "***", "list": [{"api-key": "***"}, "key=***"]}


def test_callbacks_records_never_hold_the_key_under_any_spelling(vendor, fake_clock):
    record = {**callback_record(BIG_UCID, KEY), "apikey": KEY, "API_KEY": KEY, "Extra": {"Apikey": KEY}}
    record["Comments"] = f"sent with apiKey={KEY}"
    vendor.get(CALLBACKS_URL, json={"status": "success", "message": [record]})
    (got,) = OzonetelHook(clock=fake_clock.as_clock()).get_call_details(BIG_UCID, report_type="historical")
    assert (got["Apikey"], got["apikey"], got["API_KEY"], got["Extra"]) == (
        "***",
        "***",
        "***",
        {"Apikey": "***"},
    )
    assert got["Comments"] == "sent with apiKey=***"
    assert_no_key(json.dumps(got))


@pytest.mark.parametrize("normalize", [True, False])
def test_call_lookup_files_and_xcom_never_hold_the_key(tmp_path, vendor, fake_clock, normalize):
    record = {**callback_record(BIG_UCID, KEY), "Nested": {"deeper": [{"APIKEY": KEY}]}}
    vendor.get(CALLBACKS_URL, json={"status": "success", "message": [record]})
    for destination in (f"file://{tmp_path}/calls/", None):
        op = OzonetelCallDetailsOperator(
            task_id="look",
            ucids=[BIG_UCID],
            report_type="historical",
            normalize=normalize,
            destination=destination,
            hook_params={"clock": fake_clock.as_clock()},
        )
        result = op.execute(CONTEXT)
        text = (
            (tmp_path / "calls" / result["path"].rsplit("/", 1)[1]).read_text()
            if destination
            else json.dumps(result)
        )
        assert_no_key(text)


# ---------------------------------------------------------------- echoes in error texts


@pytest.mark.parametrize(
    "answer",
    [
        {"json": {"status": "error", "message": f"userName or apiKey is Invalid: {KEY}"}},
        {"text": json.dumps({"status": "error", "message": json.dumps({"apiKey": KEY})})},
        {"status_code": 500, "text": f"<html>bad key {FORMS[0]} {KEY.replace('&', '&amp;')}</html>"},
        {"status_code": 400, "text": "<html>GET /x?k=K3y%2B%2F%3D%26%3C%3E%22x-4711 failed</html>"},
        {"status_code": 400, "text": "<html>" + "&lt;".join(["K3y+/=&amp;", "&gt;&quot;x-4711"]) + "</html>"},
    ],
)
def test_error_texts_never_hold_the_key_in_any_escaping(vendor, fake_clock, answer):
    vendor.get(CALLBACKS_URL, **answer)
    hook = OzonetelHook(clock=fake_clock.as_clock(), max_retries=0)
    with pytest.raises(OzonetelError) as info:
        hook.get_call_details(BIG_UCID, report_type="historical")
    assert_no_key(str(info.value))
    assert_no_key(repr(info.value.vendor_message))


def test_the_masker_knows_every_escaping(vendor, fake_clock):
    from airflow.providers.common.compat.sdk import redact

    vendor.get(CDR_URL, text=cdr_body([]))
    OzonetelHook(clock=fake_clock.as_clock()).get_cdr_details(DAY)
    assert_no_key(str(redact(" | ".join(FORMS))))


# ---------------------------------------------------------------- a host with a password


@pytest.mark.parametrize(
    "host",
    [
        "https://user:pa55word@ozonetel.test",
        "user:pa55word@ozonetel.test",
        "https://:pa55word@ozonetel.test/x",
    ],
)
def test_a_host_with_a_password_is_refused_without_showing_it(set_conn, requests_mock, fake_clock, host):
    set_conn(host=host)
    hook = OzonetelHook(clock=fake_clock.as_clock())
    ok, message = hook.test_connection()
    assert ok is False
    assert "pa55word" not in message
    assert (
        "host: the base URL holds a user name or password ('user:pass@'); the provider refuses it" in message
    )
    assert "Put the CloudAgent user name in Login and the API key in Password" in message
    with pytest.raises(OzonetelAuthError) as info:
        hook.get_cdr_details(DAY)
    assert "pa55word" not in str(info.value)
    assert requests_mock.call_count == 0
