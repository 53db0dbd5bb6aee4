"""Conventions of Airflow's own providers: the hook's session closed when a task ends, the
connection id (and hook_params) templated, every connection extra declared and used."""

from __future__ import annotations

import pendulum
import pytest
import requests

from airflow_provider_ozonetel.exceptions import OzonetelRequestError
from airflow_provider_ozonetel.operators.ozonetel import (
    OzonetelCallDetailsOperator,
    OzonetelCDRCatchUpOperator,
    OzonetelCDRDetailsOperator,
)
from airflow_provider_ozonetel.sensors.ozonetel import OzonetelHistoricalDataSensor
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

RUN = pendulum.datetime(2026, 11, 20, 3, 30, tz="Asia/Kolkata")
CONTEXT = {"data_interval_start": RUN, "data_interval_end": RUN, "logical_date": RUN, "run_id": "manual_1"}


@pytest.fixture
def closed_sessions(monkeypatch):
    """Counts ``requests.Session.close`` calls (the real close still runs)."""
    closed = []
    real_close = requests.Session.close

    def close(session):
        closed.append(session)
        real_close(session)

    monkeypatch.setattr(requests.Session, "close", close)
    return closed


@pytest.fixture
def vendor(requests_mock, hook):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    return requests_mock


def operators(tmp_path, clock):
    params = {"clock": clock}
    return {
        "day": OzonetelCDRDetailsOperator(
            task_id="day", cdr_date="2026-11-19", destination=f"file://{tmp_path}/day/", hook_params=params
        ),
        "calls": OzonetelCallDetailsOperator(
            task_id="calls", ucids=[BIG_UCID], destination=f"file://{tmp_path}/calls/", hook_params=params
        ),
        "catch_up": OzonetelCDRCatchUpOperator(
            task_id="catch_up", destination=f"file://{tmp_path}/all/", days=1, hook_params=params
        ),
    }


@pytest.mark.parametrize("name", ["day", "calls", "catch_up"])
def test_the_session_is_closed_when_the_task_succeeds(name, tmp_path, fake_clock, vendor, closed_sessions):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    vendor.get(CALLBACKS_URL, json={"status": "success", "message": [callback_record()]})
    operator = operators(tmp_path, fake_clock.as_clock())[name]
    operator.execute(CONTEXT)
    assert len(closed_sessions) == 1
    assert operator.hook.transport._session is None


@pytest.mark.parametrize("name", ["day", "calls", "catch_up"])
def test_the_session_is_closed_when_the_task_fails(name, tmp_path, fake_clock, vendor, closed_sessions):
    refused = {"status": "error", "message": "Invalid userName or apiKey"}
    vendor.get(CDR_URL, json=refused)
    vendor.get(CALLBACKS_URL, json=refused)
    operator = operators(tmp_path, fake_clock.as_clock())[name]
    with pytest.raises(Exception, match="Invalid userName or apiKey"):
        operator.execute(CONTEXT)
    assert len(closed_sessions) == 1


@pytest.mark.parametrize("name", ["day", "calls", "catch_up"])
def test_a_failure_to_close_does_not_hide_the_outcome(
    name, tmp_path, fake_clock, vendor, monkeypatch, caplog
):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    vendor.get(CALLBACKS_URL, json={"status": "success", "message": [callback_record()]})
    operator = operators(tmp_path, fake_clock.as_clock())[name]

    def broken_close(**kwargs):
        raise OSError("store unreachable")

    monkeypatch.setattr(operator.hook, "close", broken_close)
    key, value = {"day": ("rows", 1), "calls": ("rows", 1), "catch_up": ("pulled", ["2026-11-19"])}[name]
    assert operator.execute(CONTEXT)[key] == value  # the task's own outcome, not the close's
    assert "Could not close the Ozonetel hook cleanly: OSError: store unreachable" in caplog.text


def test_the_sensors_probe_closes_its_session(hook, requests_mock, closed_sessions, time_machine):
    time_machine.move_to(pendulum.datetime(2026, 11, 20, 9, 0, tz="Asia/Kolkata"), tick=False)
    requests_mock.get(CALLBACKS_URL, json={"status": "success", "message": [callback_record()]})
    sensor = OzonetelHistoricalDataSensor(task_id="wait", cdr_date="2026-11-19", probe_ucid=BIG_UCID)
    assert sensor.poke(CONTEXT) is True
    assert len(closed_sessions) == 1


@pytest.mark.parametrize(
    "operator_class", [OzonetelCDRDetailsOperator, OzonetelCallDetailsOperator, OzonetelCDRCatchUpOperator]
)
def test_connection_id_and_hook_params_are_templated(operator_class):
    assert {"ozonetel_conn_id", "hook_params"} <= set(operator_class.template_fields)
    assert {"ozonetel_conn_id", "hook_params"} <= set(OzonetelHistoricalDataSensor.template_fields)


def test_a_rendered_connection_id_and_hook_params_reach_the_hook(set_conn, tmp_path, requests_mock, ist_noon):
    set_conn("ozonetel_eu", host="https://eu.ozonetel.test")
    requests_mock.get(
        "https://eu.ozonetel.test/CAServices/CDR/callBacks.php",
        json={"status": "success", "message": [callback_record()]},
    )
    operator = OzonetelCallDetailsOperator(
        task_id="calls",
        ucids=[BIG_UCID],
        ozonetel_conn_id="{{ params.conn_id }}",
        hook_params="{{ params.hook_params | tojson }}",
        destination=None,
    )
    operator.render_template_fields(
        {**CONTEXT, "params": {"conn_id": "ozonetel_eu", "hook_params": {"max_retries": 7}}}
    )
    assert operator.ozonetel_conn_id == "ozonetel_eu"
    assert len(operator.execute(CONTEXT)) == 1
    assert operator.hook.ozonetel_conn_id == "ozonetel_eu"
    assert operator.hook.retry.max_retries == 7


def test_hook_params_that_are_not_a_dict_are_refused(tmp_path):
    operator = OzonetelCallDetailsOperator(task_id="calls", ucids=[BIG_UCID], hook_params="[1, 2]")
    with pytest.raises(OzonetelRequestError, match="hook_params: expected a dict"):
        operator.execute(CONTEXT)


@pytest.mark.parametrize("extra", [{"connect_timeout": 7}, {"extra__ozonetel__connect_timeout": "7"}])
def test_connect_timeout_from_the_form_is_the_requests_connect_timeout(set_conn, requests_mock, hook, extra):
    set_conn(extra={**extra, "timeout": 90})
    cdr = requests_mock.get(CDR_URL, text=cdr_body([]))
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    hook.get_cdr_details("2026-11-19")
    assert cdr.last_request.timeout == (7.0, 90.0)


def test_a_deferring_pull_closes_its_session_but_keeps_its_reserved_starts(
    tmp_path, fake_clock, vendor, monkeypatch
):
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_ozonetel.budget import Grant
    from airflow_provider_ozonetel.hooks.ozonetel import CDR_ENDPOINT, OzonetelHook

    closes = []
    real_close = OzonetelHook.close

    def close(hook, **kwargs):
        closes.append(kwargs)
        real_close(hook, **kwargs)

    monkeypatch.setattr(OzonetelHook, "close", close)

    other = OzonetelHook(clock=fake_clock.as_clock())
    other.reserve_requests(CDR_ENDPOINT, 6)  # another task's: the next starts are minutes away
    operator = OzonetelCDRDetailsOperator(
        task_id="day",
        cdr_date="2026-11-19",
        destination=f"file://{tmp_path}/day/",
        deferrable=True,
        hook_params={"clock": fake_clock.as_clock()},
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(CONTEXT)
    assert closes == [{"keep_reserved": True}]
    assert operator.hook.transport._session is None
    (at, grant_id), *_ = deferred.value.kwargs["reservation"]["grants"]
    assert other.transport.budget(CDR_ENDPOINT).holds(Grant(at, grant_id))  # not given back
