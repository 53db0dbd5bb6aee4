"""OzonetelHistoricalDataSensor: deferral to the right moment, immediate success, the probe."""

from __future__ import annotations

import datetime as dt
import importlib
import logging

import pendulum
import pytest
import time_machine
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred
from airflow.providers.standard.triggers.temporal import DateTimeTrigger

from airflow_provider_ozonetel.sensors.ozonetel import TRIGGER_TIMEOUT_GRACE, OzonetelHistoricalDataSensor
from tests.answers import BIG_UCID, CALLBACKS_URL, callback_record

IST = "Asia/Kolkata"
READY = pendulum.datetime(2026, 11, 20, 3, 15, tz=IST)  # 03:00 IST next day + 15 min margin
FOUND = {"json": {"status": "success", "message": [callback_record(BIG_UCID)]}}
NO_DATA = {"json": {"status": "success", "message": f"No Data Found with UCID {BIG_UCID}"}}


def at(ist_time: str):
    return time_machine.travel(pendulum.parse(ist_time, tz=IST), tick=False)


def sensor(**kwargs):
    kwargs.setdefault("cdr_date", "2026-11-19")
    kwargs.setdefault("deferrable", True)
    return OzonetelHistoricalDataSensor(task_id="wait", **kwargs)


CONTEXT = {"logical_date": pendulum.datetime(2026, 11, 20, 3, 30, tz=IST)}


def test_defers_to_three_fifteen_ist_next_day():
    with at("2026-11-20T01:00:00"), pytest.raises(TaskDeferred) as info:
        sensor().execute(CONTEXT)
    trigger = info.value.trigger
    assert isinstance(trigger, DateTimeTrigger)
    assert trigger.moment == READY
    assert trigger.moment.isoformat() == "2026-11-19T21:45:00+00:00"
    assert info.value.method_name == "execute_complete"
    assert pendulum.parse(info.value.kwargs["deadline"]) == pendulum.parse("2026-11-20T01:00:00", tz=IST).add(
        hours=12
    )


def test_margin_is_configurable():
    with at("2026-11-20T01:00:00"), pytest.raises(TaskDeferred) as info:
        sensor(margin=dt.timedelta(minutes=40)).execute(CONTEXT)
    assert info.value.trigger.moment == pendulum.datetime(2026, 11, 20, 3, 40, tz=IST)


def test_default_date_is_the_day_before_the_run():
    with at("2026-11-20T03:30:00"):
        assert sensor(cdr_date=None).ready_at(CONTEXT) == READY


@pytest.mark.parametrize("now", ["2026-11-20T03:15:00", "2026-11-20T09:00:00", "2026-11-25T00:00:00"])
def test_succeeds_at_once_without_deferring_once_the_moment_passed(now, requests_mock):
    with at(now):
        assert sensor().execute(CONTEXT) is None
    assert requests_mock.call_count == 0


def test_the_moment_not_reached_at_three_fourteen():
    with at("2026-11-20T03:14:59"), pytest.raises(TaskDeferred):
        sensor().execute(CONTEXT)


def test_probe_found_succeeds(hook, requests_mock):
    calls = requests_mock.get(CALLBACKS_URL, **FOUND)
    with at("2026-11-20T04:00:00"):
        assert sensor(probe_ucid=BIG_UCID).execute(CONTEXT) is None
    assert calls.last_request.qs["reporttype"] == ["historical"]
    assert calls.last_request.qs["ucid"] == [str(BIG_UCID)]


def test_probe_no_data_keeps_waiting_every_poke_interval(hook, requests_mock):
    requests_mock.get(CALLBACKS_URL, **NO_DATA)
    with at("2026-11-20T04:00:00"), pytest.raises(TaskDeferred) as info:
        sensor(probe_ucid=BIG_UCID, poke_interval=600).execute(CONTEXT)
    assert info.value.trigger.moment == pendulum.datetime(2026, 11, 20, 4, 10, tz=IST)


def test_probe_is_bounded_by_the_timeout(hook, requests_mock):
    requests_mock.get(CALLBACKS_URL, **NO_DATA)
    deadline = pendulum.datetime(2026, 11, 20, 5, 0, tz=IST).isoformat()
    with at("2026-11-20T05:00:00"), pytest.raises(AirflowSensorTimeout, match="not confirmed readable"):
        sensor(probe_ucid=BIG_UCID).execute_complete(CONTEXT, event=None, deadline=deadline)


def test_resumed_before_the_moment_waits_again_or_times_out():
    deadline = pendulum.datetime(2026, 11, 20, 2, 0, tz=IST).isoformat()
    with at("2026-11-20T01:00:00"), pytest.raises(TaskDeferred) as info:
        sensor().execute_complete(CONTEXT, event=None, deadline=deadline)
    assert info.value.trigger.moment == pendulum.datetime(
        2026, 11, 20, 2, 0, tz=IST
    )  # capped by the deadline
    with at("2026-11-20T02:00:00"), pytest.raises(AirflowSensorTimeout):
        sensor().execute_complete(CONTEXT, event=None, deadline=deadline)


def test_resumed_after_the_moment_succeeds():
    with at("2026-11-20T03:15:01"):
        assert sensor().execute_complete(CONTEXT, event=None, deadline="2026-11-20T12:00:00+05:30") is None


def test_without_deferral_it_pokes_in_reschedule_mode(hook, requests_mock):
    requests_mock.get(CALLBACKS_URL, [NO_DATA, FOUND])
    task = sensor(deferrable=False, probe_ucid=BIG_UCID)
    assert task.mode == "reschedule"
    with at("2026-11-20T02:00:00"):
        assert task.poke(CONTEXT) is False
    with at("2026-11-20T03:20:00"):
        assert task.poke(CONTEXT) is False  # moment passed, probe says No Data Found
        assert task.poke(CONTEXT) is True


@pytest.fixture
def sensor_module_under_conf(monkeypatch):
    """Re-import the sensor module with ``[operators] default_deferrable`` set (the default is read
    when the module is imported, as in Airflow's own providers); restore it afterwards."""
    from airflow_provider_ozonetel.sensors import ozonetel as module

    def reload_with(value: str | None):
        if value is None:
            monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", raising=False)
        else:
            monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", value)
        return importlib.reload(module)

    yield reload_with
    monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", raising=False)
    importlib.reload(module)


@pytest.mark.parametrize(("configured", "expected"), [(None, False), ("false", False), ("true", True)])
def test_deferrable_defaults_to_airflows_default_deferrable(sensor_module_under_conf, configured, expected):
    module = sensor_module_under_conf(configured)
    assert module.OzonetelHistoricalDataSensor(task_id="wait").deferrable is expected
    assert module.OzonetelHistoricalDataSensor(task_id="wait", deferrable=not expected).deferrable is (
        not expected
    )


def test_without_deferral_by_default_it_pokes(hook, requests_mock):
    with at("2026-11-20T01:00:00"):
        task = OzonetelHistoricalDataSensor(task_id="wait", cdr_date="2026-11-19")
        assert task.poke(CONTEXT) is False  # no TaskDeferred: the default is not to defer


def test_deferral_has_a_timeout_so_no_triggerer_means_failure_not_forever():
    with at("2026-11-20T01:00:00"), pytest.raises(TaskDeferred) as info:
        sensor(timeout=3600).execute(CONTEXT)
    assert info.value.timeout == dt.timedelta(hours=1) + TRIGGER_TIMEOUT_GRACE
    deadline = pendulum.datetime(2026, 11, 20, 2, 30, tz=IST).isoformat()
    with at("2026-11-20T02:00:00"), pytest.raises(TaskDeferred) as info:
        sensor().execute_complete(CONTEXT, event=None, deadline=deadline)
    assert info.value.timeout == dt.timedelta(minutes=30) + TRIGGER_TIMEOUT_GRACE


def test_one_log_line_when_the_moment_already_passed(caplog):
    caplog.set_level(logging.INFO, logger="airflow_provider_ozonetel.sensors.ozonetel")
    with at("2026-11-20T09:00:00"):
        assert sensor().execute(CONTEXT) is None
    lines = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_ozonetel.sensors.ozonetel"]
    assert lines == [
        "Historical data of 2026-11-19 is readable: the moment (2026-11-20T03:15:00+05:30 IST) has passed"
    ]


def test_negative_margin_is_refused():
    with pytest.raises(ValueError, match="margin: expected a timedelta >= 0"):
        sensor(margin=dt.timedelta(minutes=-1))
