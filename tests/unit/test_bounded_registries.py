"""A long-lived process (the API server, whose Test button runs test_connection for every tested
connection) keeps bounded registries: remembered secrets, process-local shared values, locks."""

from __future__ import annotations

import re
import threading

import pytest

from airflow_provider_ozonetel import redaction, shared_state
from airflow_provider_ozonetel.hooks.ozonetel import OzonetelHook
from airflow_provider_ozonetel.shared_state import MemoryStore, process_lock

NO_DATA = {"status": "success", "message": "No Data Found with UCID 0"}


@pytest.fixture
def small_bounds(monkeypatch):
    monkeypatch.setattr(redaction, "MAX_SECRETS", 10)
    monkeypatch.setattr(MemoryStore, "MAX_KEYS", 12)
    redaction._secrets.clear()
    MemoryStore.clear()
    yield
    redaction._secrets.clear()


def test_the_test_button_over_many_accounts_keeps_every_registry_bounded(
    set_conn, requests_mock, small_bounds
):
    requests_mock.get(
        re.compile(r"https://host-\d+\.ozonetel\.test/CAServices/CDR/callBacks\.php"), json=NO_DATA
    )
    requests_mock.get(  # the Test button's auth-mode check: a TOKEN_AUTH account refuses the key alone
        re.compile(r"https://host-\d+\.ozonetel\.test/ca_reports/fetchCDRDetails"),
        status_code=401,
        json={"status": "false", "message": "Missing userName or apiKey"},
    )
    for n in range(60):  # 60 different connections tested, one after another
        set_conn(f"tested_{n}", host=f"https://host-{n}.ozonetel.test", password=f"tested-api-key-{n:04d}")
        ok, message = OzonetelHook(f"tested_{n}").test_connection()
        assert ok, message
    assert len(redaction._secrets) == 10
    assert len(MemoryStore._values) <= 12
    assert shared_state._locks == {}  # locks leave with their last user
    # The most recent keys are still hidden; the oldest, unused since, are forgotten.
    assert redaction.redact("tested-api-key-0059") == "***"
    assert redaction.redact("tested-api-key-0000") == "tested-api-key-0000"


def test_a_secret_in_use_stays_remembered(small_bounds):
    redaction.add_secret("the-key-in-use")
    for n in range(30):
        redaction.add_secret(f"another-key-{n:03d}")
        redaction.add_secret("the-key-in-use")  # every hook that reads it registers it again
    assert redaction.redact("x the-key-in-use y") == "x *** y"
    assert len(redaction._secrets) == 10


def test_every_form_of_a_remembered_secret_is_redacted(small_bounds):
    redaction.add_secret("k&y<with>/odd=chars")
    assert redaction.redact("k&amp;y&lt;with&gt;/odd=chars") == "***"
    assert redaction.redact("k%26y%3Cwith%3E%2Fodd%3Dchars") == "***"


def test_the_process_store_forgets_the_least_recently_used_first(small_bounds):
    store = MemoryStore()
    for n in range(12):
        store.write(f"k{n}", str(n))
    assert store.read("k0") == "0"  # used: now the most recent
    store.write("k12", "12")
    assert store.read("k1") is None  # the least recently used went
    assert store.read("k0") == "0"
    assert len(MemoryStore._values) == 12


def test_a_process_lock_still_excludes_and_leaves_when_unused():
    store = MemoryStore()
    inside, overlaps = [], []

    def worker():
        for _ in range(200):
            with process_lock(store, "key"):
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(1)
                inside.pop()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert shared_state._locks == {}
