"""Real connections: a peer that trickles its answer a byte at a time is stopped by the request
deadline; a host that refuses connections is a configuration error, not a transient one.

The hook runs against the emulator (its ``trickle`` fault) over real sockets: a read timeout never
fires on a trickle, so only the whole-request deadline can end it.
"""

from __future__ import annotations

import datetime as dt
import socket
import time

import pytest

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.emulator import run_emulator
from airflow_provider_ozonetel.exceptions import OzonetelAuthError, OzonetelTransientError
from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook

pytestmark = pytest.mark.integration

DAY = calendar.today_ist() - dt.timedelta(days=2)
API_KEY = "emu-secret-key-5150"


@pytest.fixture(scope="module")
def emu():
    with run_emulator(
        user="demo_user", api_key=API_KEY, auth_mode="api_key", calls_per_day=200, minute_seconds=0.05
    ) as emulator:
        yield emulator


@pytest.fixture
def trickling(emu, set_conn):
    set_conn(
        host=emu.base_url,
        login=emu.user,
        password=API_KEY,
        extra={"auth_mode": "api_key", "request_deadline": 1, "timeout": 30},
    )
    emu.set_faults(trickle=0.02)  # every answer: ~50 bytes a second, never a read timeout
    yield emu
    emu.set_faults(trickle=0)


def hook() -> OzonetelHook:
    return OzonetelHook(max_retries=0, rate_window_seconds=0.05)


def test_a_trickled_day_answer_ends_at_the_deadline(trickling):
    started = time.monotonic()
    with pytest.raises(OzonetelTransientError) as info:
        hook().get_cdr_details(DAY)
    assert time.monotonic() - started < 10  # the read timeout is 30 s; the day's body ~200 KB
    assert str(info.value).startswith(
        "fetchCDRDetails answer did not finish within the request deadline of 1 s"
    )
    assert "the connection's request_deadline bounds the whole request" in str(info.value)


def test_a_trickled_small_answer_ends_at_the_deadline(trickling):
    started = time.monotonic()
    with pytest.raises(
        OzonetelTransientError, match="CallBacks answer did not finish within the request deadline"
    ):
        hook().get_call_details("1", report_type="historical")
    assert time.monotonic() - started < 10


def test_the_deadline_leaves_a_normal_answer_alone(emu, set_conn):
    set_conn(
        host=emu.base_url,
        login=emu.user,
        password=API_KEY,
        extra={"auth_mode": "api_key", "request_deadline": 1},
    )
    assert len(hook().get_cdr_details(DAY)) > 0


def test_a_refused_connection_is_a_configuration_error(set_conn):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    set_conn(host=f"http://127.0.0.1:{port}", extra={"auth_mode": "api_key"})
    refused = OzonetelHook(max_retries=3, rate_window_seconds=0.05)
    with pytest.raises(OzonetelAuthError) as info:
        refused.get_cdr_details(DAY)
    assert str(info.value).startswith(
        f"fetchCDRDetails could not connect to http://127.0.0.1:{port}: the connection was refused "
        "(nothing listens on that host and port). Check the connection's host and port"
    )
    assert refused.requests_sent["fetchCDRDetails"] == 1  # not retried
