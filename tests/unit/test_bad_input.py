"""Bad input gets a clear error naming the field, before any request, and nothing is written."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading

import pendulum
import pytest

from airflow_provider_ozonetel.exceptions import (
    OzonetelAuthError,
    OzonetelRequestError,
)
from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
from airflow_provider_ozonetel.hooks.transport import configuration_problem
from airflow_provider_ozonetel.operators.ozonetel import (
    OzonetelCallDetailsOperator,
    OzonetelCDRDetailsOperator,
)
from airflow_provider_ozonetel.records import snake_case
from tests.answers import BASE, CDR_URL, TOKEN, TOKEN_URL, USER, cdr_body, cdr_record

DAY = "2026-11-19"
RUN = pendulum.datetime(2026, 11, 20, 3, 30, tz="Asia/Kolkata")
CONTEXT = {"data_interval_start": RUN, "data_interval_end": RUN, "logical_date": RUN, "run_id": "r1"}
MISSING = {"status": "false", "message": "Missing userName or apiKey"}


@pytest.fixture
def raw_conn(monkeypatch):
    """``ozonetel_default`` with ``extra`` given as raw text."""

    def _set(extra: str, **fields) -> None:
        conn = {"conn_type": "ozonetel", "host": BASE, "login": USER, "password": "k3y-0001", **fields}
        conn["extra"] = extra
        monkeypatch.setenv("AIRFLOW_CONN_OZONETEL_DEFAULT", json.dumps(conn))

    return _set


# ---------------------------------------------------------------- the connection


@pytest.mark.parametrize(
    ("extra", "shown"),
    [
        # (Airflow's masker may take such values for secrets: nothing a test looks for)
        ("[1, 2]", "a JSON list"),
        ('"not-an-object"', "a JSON str"),
        ("{auth_mode: token", "not valid JSON"),
    ],
)
def test_extra_that_is_not_a_json_object_is_refused(raw_conn, requests_mock, extra, shown):
    from airflow.providers.common.compat.sdk import BaseHook

    raw_conn(extra)
    try:
        BaseHook.get_connection("ozonetel_default")
    except Exception as exc:
        # Airflow 3.0.2-3.1 itself refuses such an extra ("does not parse as a dictionary"): 3.0.2
        # then finds no connection, 3.1.0 outside a task fails importing SUPERVISOR_COMMS. Nothing
        # can load it, so the hook never sees it.
        pytest.skip(f"this Airflow refuses a connection whose extra is not a JSON object itself: {exc!r}")
    with pytest.raises(
        OzonetelAuthError, match=rf"^extra: the connection's extra is {shown}; it must be a JSON object"
    ):
        OzonetelHook().get_cdr_details(DAY)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("field", ["timeout", "connect_timeout", "request_deadline"])
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e300", 1e300, -1, 0, "0", "abc", True, 86401, [5]])
def test_timeouts_that_are_not_a_sane_number_of_seconds_are_refused(set_conn, requests_mock, field, value):
    set_conn(extra={field: value})
    with pytest.raises(
        OzonetelAuthError, match=rf"^{field}: expected a number of seconds > 0 and at most 86400"
    ):
        OzonetelHook().get_cdr_details(DAY)
    assert requests_mock.call_count == 0


def test_infinity_in_the_extra_json_is_refused(raw_conn):
    raw_conn('{"timeout": Infinity, "request_deadline": NaN}')  # Python's json reads both
    with pytest.raises(OzonetelAuthError, match=r"^timeout: expected a number of seconds > 0"):
        _ = OzonetelHook().settings


def test_the_request_deadline_is_a_setting_with_a_default(set_conn):
    assert OzonetelHook().settings.request_deadline == 3600
    set_conn(extra={"request_deadline": "900"})
    assert OzonetelHook().settings.request_deadline == 900


@pytest.mark.parametrize(("field", "value"), [("login", "   "), ("login", None), ("password", " \t")])
def test_blank_login_or_key_is_refused(set_conn, requests_mock, field, value):
    set_conn(**{field: value})
    ok, message = OzonetelHook().test_connection()
    assert ok is False and message.startswith(f"{field}: the connection has no")
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [
        (
            "https://ozonetel.test:99999",
            None,
            r"host: the port in 'https://ozonetel.test:99999' is not a number",
        ),
        ("https://ozonetel.test:abc", None, r"host: the port in 'https://ozonetel.test:abc' is not a number"),
        ("ozonetel.test", 70000, r"port: 70000 is not a number from 1 to 65535"),
        ("https://ozonetel.test/?x=1", None, r"host: 'https://ozonetel.test/\?x=1' has a query or fragment"),
    ],
)
def test_bad_ports_and_hosts_name_the_field(set_conn, host, port, message):
    set_conn(host=host, port=port)
    with pytest.raises(OzonetelAuthError, match=message):
        _ = OzonetelHook().settings


def test_connect_failures_that_are_settings_are_told_apart():
    refused = ConnectionRefusedError(111, "Connection refused")
    unknown = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    passing = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    wrapped = OSError("wrapper")
    wrapped.__cause__ = refused
    assert (
        configuration_problem(wrapped) == "the connection was refused (nothing listens on that host and port)"
    )
    assert configuration_problem(OSError(unknown)) == "the host name does not resolve"
    assert configuration_problem(OSError(passing)) is None
    assert configuration_problem(TimeoutError()) is None


# ---------------------------------------------------------------- the hook's arguments


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("retry_min_wait", float("nan")),
        ("retry_min_wait", -1),
        ("retry_max_wait", float("inf")),
        ("rate_window_seconds", float("nan")),
        ("rate_window_seconds", float("inf")),
        ("token_ttl_seconds", float("nan")),
        ("token_ttl_seconds", float("inf")),
        ("token_ttl_seconds", 0),
        ("max_retries", True),
    ],
)
def test_hook_arguments_that_are_not_finite_are_refused(argument, value):
    with pytest.raises(ValueError, match=rf"^{argument}: expected"):
        OzonetelHook(**{argument: value})


# ---------------------------------------------------------------- the BASIC_AUTH answer to a token


@pytest.mark.parametrize(
    "answer", [{"status_code": 401, "json": MISSING}, {"status_code": 200, "json": MISSING}]
)
def test_a_token_refused_as_missing_names_basic_auth_and_the_fix(hook, requests_mock, answer):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    requests_mock.get(CDR_URL, **answer)
    with pytest.raises(OzonetelAuthError) as info:
        hook.get_cdr_details(DAY)
    text = str(info.value)
    assert "'Missing userName or apiKey' to a request that carried a bearer token and the userName" in text
    assert "the account is set to BASIC_AUTH, which refuses tokens." in text
    assert 'Set the connection\'s auth mode to api_key (extra "auth_mode": "api_key")' in text
    assert info.value.vendor_message == "Missing userName or apiKey"


def test_missing_in_api_key_mode_is_not_about_basic_auth(set_conn, requests_mock, fake_clock, ist_noon):
    set_conn(extra={"auth_mode": "api_key"})
    requests_mock.get(CDR_URL, status_code=401, json=MISSING)
    with pytest.raises(OzonetelAuthError) as info:
        OzonetelHook(clock=fake_clock.as_clock()).get_cdr_details(DAY)
    assert "BASIC_AUTH" not in str(info.value) and "Missing userName or apiKey" in str(info.value)


# ---------------------------------------------------------------- operator arguments


@pytest.mark.parametrize("window_hours", [0, -6, float("nan"), float("inf"), 1e-9, 0.49, 25, True, "6"])
def test_window_hours_that_would_need_too_many_requests_are_refused(window_hours):
    with pytest.raises(ValueError, match=r"^window_hours: expected a number of hours in \[0.5, 24\]") as info:
        OzonetelCDRDetailsOperator(task_id="x", window_hours=window_hours)
    assert "a day may take at most 48 requests" in str(info.value)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"file_format": "parquet"}, "not file_format='parquet' with normalize=True"),
        ({"normalize": False}, "not file_format='jsonl' with normalize=False"),
        ({"typing_process": "yes"}, "expected True or False, got 'yes'"),
    ],
)
def test_a_typing_process_only_for_typed_jsonl_or_csv(arguments, message):
    arguments = {"typing_process": True, **arguments}
    with pytest.raises(ValueError, match=r"^typing_process: ") as info:
        OzonetelCDRDetailsOperator(task_id="x", **arguments)
    assert message in str(info.value)


def test_typing_process_needs_fork(monkeypatch):
    import os

    monkeypatch.delattr(os, "fork")
    with pytest.raises(ValueError, match=r"^typing_process: needs os.fork\(\)"):
        OzonetelCDRDetailsOperator(task_id="x", typing_process=True)
    OzonetelCDRDetailsOperator(task_id="x")  # off by default: nothing needs it


def test_half_hour_windows_are_the_finest(hook, requests_mock, tmp_path, fake_clock):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    cdr = requests_mock.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    op = OzonetelCDRDetailsOperator(
        task_id="x",
        window_hours=0.5,
        destination=f"file://{tmp_path}/",
        hook_params={"clock": fake_clock.as_clock()},
    )
    assert op.execute(CONTEXT)["requests"] == 48 == cdr.call_count


@pytest.mark.parametrize(("field", "value"), [("ucid", [1]), ("monitor_ucid", {"a": 1}), ("ucid", 1.5)])
def test_a_filter_of_the_wrong_type_is_refused_before_any_request(
    hook, requests_mock, tmp_path, field, value
):
    op = OzonetelCDRDetailsOperator(task_id="x", destination=f"file://{tmp_path}/", **{field: value})
    with pytest.raises(OzonetelRequestError, match=rf"^{field}: expected digits \(an int or a string\)"):
        op.execute(CONTEXT)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("ucids", [[[1, 2]], [{"ucid": 1}], [None]])
def test_a_call_id_that_is_not_a_ucid_is_refused_before_any_request(hook, requests_mock, ucids):
    op = OzonetelCallDetailsOperator(task_id="x", ucids=ucids, destination=None)
    with pytest.raises(OzonetelRequestError, match=r"^ucid: "):
        op.execute(CONTEXT)
    assert requests_mock.call_count == 0


# ---------------------------------------------------------------- destinations


def pull_to(destination, fake_clock):
    op = OzonetelCDRDetailsOperator(
        task_id="x", destination=destination, hook_params={"clock": fake_clock.as_clock()}
    )
    return op.execute(CONTEXT)


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("", r"destination: '' names no place"),
        ("None", r"destination: 'None' names no place"),
        (" none ", r"destination: ' none ' names no place"),
        # refused either way: no filesystem for https, or a read-only one (the HTTP provider's)
        ("https://example.com/cdr/", r"destination: .*https.*(cannot be written|is read-only storage)"),
        ("nosuch://bucket/cdr/", r"destination: 'nosuch://bucket/cdr/' cannot be written"),
    ],
)
def test_a_destination_that_names_no_writable_place_is_refused(
    hook, requests_mock, fake_clock, tmp_path, monkeypatch, destination, message
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OzonetelRequestError, match=message):
        pull_to(destination, fake_clock)
    assert requests_mock.call_count == 0
    assert list(tmp_path.iterdir()) == []  # nothing in the working folder either


def test_a_device_is_never_replaced(hook, requests_mock, fake_clock):
    before = os.stat("/dev/null")
    with pytest.raises(
        OzonetelRequestError, match=r"^destination: /dev/null is a device or other special file"
    ):
        pull_to("/dev/null", fake_clock)
    with pytest.raises(OzonetelRequestError, match=r"destination: /dev/null is a device"):
        pull_to("file:///dev/null", fake_clock)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert requests_mock.call_count == 0


def test_a_fifo_and_a_symbolic_link_are_never_replaced(hook, requests_mock, fake_clock, tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    target = tmp_path / "real.jsonl"
    target.write_text("kept\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    with pytest.raises(OzonetelRequestError, match=r"pipe.jsonl is a device or other special file"):
        pull_to(str(fifo), fake_clock)
    with pytest.raises(OzonetelRequestError, match=r"link.jsonl is a symbolic link, not a regular file"):
        pull_to(f"file://{link}", fake_clock)
    assert link.is_symlink() and target.read_text() == "kept\n" and stat.S_ISFIFO(fifo.lstat().st_mode)
    assert requests_mock.call_count == 0


def test_a_file_where_a_folder_must_be_is_refused(hook, requests_mock, fake_clock, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(OzonetelRequestError, match=r"not_a_folder is a file, not a folder"):
        pull_to(f"file://{blocker}/sub/", fake_clock)
    assert requests_mock.call_count == 0


# ---------------------------------------------------------------- key names


def test_a_200000_character_key_name_is_typed_in_linear_time():
    names = ["A" * 200_000, "Ab" * 100_000, "A" * 199_999 + "b", "aB" * 100_000]
    results: list[str] = []
    worker = threading.Thread(target=lambda: results.extend(snake_case(name) for name in names), daemon=True)
    worker.start()
    worker.join(timeout=60)  # the quadratic regex took hours on these; linear takes well under a second
    assert not worker.is_alive()
    assert results[0] == "a" * 200_000 and results[2] == "a" * 199_998 + "_ab"
