"""OzonetelCDRCatchUpOperator: which days it pulls, in which order, what it proves, alarms and reports.

The vendor is requests-mock answering each day's request from a table of records per day; the
wall clock is pinned with time-machine and the hook's clock is fake (pacing never sleeps).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pendulum
import pytest

from airflow_provider_ozonetel.exceptions import OzonetelAuthError, OzonetelError, OzonetelRequestError
from airflow_provider_ozonetel.operators.ozonetel import (
    OzonetelCDRCatchUpOperator,
    OzonetelCDRDetailsOperator,
)
from tests.answers import CDR_URL, HTML_502, TOKEN, TOKEN_URL, cdr_body, cdr_record

IST = "Asia/Kolkata"
NOW = pendulum.datetime(2026, 11, 20, 12, 0, tz=IST)  # the ist_noon fixture's moment
D = dt.date.fromisoformat


def days(first: str, last: str) -> list[str]:
    start, end = D(first), D(last)
    return [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


RETAINED = days("2026-11-06", "2026-11-19")  # 15 days held at 2026-11-20 (today included), minus today


class Vendor:
    """Each IST day's records (3 legs of 2 calls, UCIDs unique across days); days that always fail."""

    def __init__(self, requests_mock):
        self.records: dict[str, list[dict]] = {}
        self.failing: set[str] = set()
        self.order: dict[str, list[int]] = {}  # day -> a permutation of its records, if set
        requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
        self.cdr = requests_mock.get(CDR_URL, text=self._answer)

    def day(self, day: str) -> list[dict]:
        if day not in self.records:
            base = (D(day) - D("2026-10-01")).days * 10
            self.records[day] = [cdr_record(base + i, CallDate=day) for i in range(3)]
        return self.records[day]

    def _answer(self, request, context):
        day = request.json()["fromDate"][:10]
        if day in self.failing:
            context.status_code = 502
            return HTML_502
        records = self.day(day)
        if day in self.order:
            records = [records[i] for i in self.order[day]]
        return cdr_body(records)

    def asked(self) -> list[str]:
        """The days asked for, in order."""
        return [r.json()["fromDate"][:10] for r in self.cdr.request_history]


@pytest.fixture
def vendor(requests_mock, hook):
    return Vendor(requests_mock)


@pytest.fixture
def out(tmp_path):
    return tmp_path / "cdr"


def catch_up(out, fake_clock, **kwargs) -> OzonetelCDRCatchUpOperator:
    hook_params = {"clock": fake_clock.as_clock(), "retry_min_wait": 0.01, "retry_max_wait": 0.02}
    return OzonetelCDRCatchUpOperator(
        task_id="catch_up", destination=f"file://{out}/", hook_params=hook_params, **kwargs
    )


class FakeTI:
    def __init__(self):
        self.xcom = {}

    def xcom_push(self, key, value):
        self.xcom[key] = value


def context(**extra):
    return {"ti": FakeTI(), "run_id": "scheduled__2026-11-20", **extra}


def day_files(out) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def file_of(out, day: str, suffix: str = ".jsonl"):
    return out / f"ozonetel_cdr_{day}{suffix}"


def manifest_of(out, day: str, suffix: str = ".jsonl") -> dict:
    return json.loads((out / f"ozonetel_cdr_{day}{suffix}.manifest.json").read_text())


def ucids_in(out, day: str) -> list[str]:
    return [json.loads(line)["ucid"] for line in file_of(out, day).read_text().splitlines()]


def fill(out, fake_clock, vendor) -> None:
    """Every retained day present, as a first run leaves the folder."""
    catch_up(out, fake_clock).execute(context())
    vendor.cdr.reset()


# ---------------------------------------------------------------- an empty folder


def test_an_empty_folder_gets_every_retained_day_oldest_first(out, fake_clock, vendor):
    result = catch_up(out, fake_clock).execute(context())

    assert vendor.asked() == RETAINED  # oldest first: they leave the window first
    assert result == {
        "pulled": RETAINED,
        "present": [],
        "failed": [],
        "at_risk": [],
        "lost": [],
        "requests": 14,
    }
    expected = []
    for day in RETAINED:
        expected += [f"ozonetel_cdr_{day}.jsonl", f"ozonetel_cdr_{day}.jsonl.manifest.json"]
    assert day_files(out) == expected  # no temporary object left
    assert ucids_in(out, "2026-11-06") == [str(r["UCID"]) for r in vendor.day("2026-11-06")]
    manifest = manifest_of(out, "2026-11-06")
    data = file_of(out, "2026-11-06").read_bytes()
    assert (manifest["rows"], manifest["calls"], manifest["bytes"]) == (3, 2, len(data))
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["windows"] == [["2026-11-06 00:00:00", "2026-11-06 23:59:59"]]
    assert manifest["changes"] is None  # a first pull
    # Paced by the one hook: 14 requests at 2 a minute wait at least 6 windows of 60 s (+2%).
    assert sum(fake_clock.sleeps) >= 6 * 60


def test_a_rerun_with_refresh_days_0_sends_no_request(out, fake_clock, vendor, requests_mock):
    fill(out, fake_clock, vendor)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = requests_mock.call_count

    result = catch_up(out, fake_clock, refresh_days=0).execute(context())

    assert requests_mock.call_count == calls  # no CDR request, no token request
    assert result == {
        "pulled": [],
        "present": RETAINED,
        "failed": [],
        "at_risk": [],
        "lost": [],
        "requests": 0,
    }
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_only_missing_or_unproven_days_are_pulled_again(out, fake_clock, vendor, caplog):
    fill(out, fake_clock, vendor)
    file_of(out, "2026-11-08").unlink()  # deleted, manifest left behind
    (out / "ozonetel_cdr_2026-11-08.jsonl.manifest.json").unlink()
    (out / "ozonetel_cdr_2026-11-10.jsonl.manifest.json").unlink()  # a bare file
    corrupt = file_of(out, "2026-11-12")
    data = bytearray(corrupt.read_bytes())
    data[10] ^= 1  # same size, one bit off
    corrupt.write_bytes(bytes(data))
    shorter = file_of(out, "2026-11-13")  # truncated: the size gives it away
    shorter.write_bytes(shorter.read_bytes()[:-20])
    (out / ".ozonetel_cdr_2026-11-14.jsonl.0123456789ab.tmp").write_text('{"ucid": "half')  # a crash
    caplog.set_level("INFO")

    result = catch_up(out, fake_clock, refresh_days=2).execute(context())

    repaired = ["2026-11-08", "2026-11-10", "2026-11-12", "2026-11-13", "2026-11-14"]
    refreshed = ["2026-11-18", "2026-11-19"]
    assert vendor.asked() == repaired + refreshed
    assert result["pulled"] == repaired + refreshed
    assert result["present"] == [d for d in RETAINED if d not in repaired + refreshed]
    for day in repaired:
        assert ucids_in(out, day) == [str(r["UCID"]) for r in vendor.day(day)]
        assert manifest_of(out, day)["sha256"] == hashlib.sha256(file_of(out, day).read_bytes()).hexdigest()
    assert not any(name.endswith(".tmp") for name in day_files(out))  # the stale one is gone too
    assert "2026-11-10: a file without a manifest" in caplog.text
    assert "2026-11-12: the file's sha256 differs from its manifest's" in caplog.text
    assert "2026-11-13: the file has" in caplog.text
    assert "2026-11-14: a stale temporary object" in caplog.text


def test_verify_size_skips_reading_files_but_catches_a_size_change(out, fake_clock, vendor):
    fill(out, fake_clock, vendor)
    flipped = file_of(out, "2026-11-12")
    data = bytearray(flipped.read_bytes())
    data[10] ^= 1
    flipped.write_bytes(bytes(data))
    shorter = file_of(out, "2026-11-13")
    shorter.write_bytes(shorter.read_bytes()[:-20])

    catch_up(out, fake_clock, refresh_days=0, verify="size").execute(context())

    assert vendor.asked() == ["2026-11-13"]  # the same-size change needs verify="sha256"


# ---------------------------------------------------------------- late updates


@pytest.mark.parametrize(
    ("file_format", "compression"), [("jsonl", None), ("csv", "gzip"), ("parquet", None)]
)
def test_a_refreshed_day_is_replaced_only_when_its_rows_changed(
    out, fake_clock, vendor, ist_noon, caplog, file_format, compression
):
    options = {"file_format": file_format, "compression": compression}
    suffix = {"jsonl": ".jsonl", "csv": ".csv.gz", "parquet": ".parquet"}[file_format]
    catch_up(out, fake_clock, **options).execute(context())
    unchanged_file = file_of(out, "2026-11-18", suffix).read_bytes()
    unchanged_manifest = manifest_of(out, "2026-11-18", suffix)
    old_manifest = manifest_of(out, "2026-11-19", suffix)
    # Records change after their day: a wrap-up comes in, a leg appears, another goes.
    records = vendor.day("2026-11-19")
    records[0] = {**records[0], "Disposition": "Resolved", "WrapupDuration": "00:01:10"}
    records.append(cdr_record(999, CallDate="2026-11-19"))
    del records[1]
    vendor.cdr.reset()
    ist_noon.shift(dt.timedelta(hours=1))
    caplog.set_level("INFO")

    result = catch_up(out, fake_clock, **options).execute(context())

    assert vendor.asked() == ["2026-11-18", "2026-11-19"]
    assert result["pulled"] == ["2026-11-18", "2026-11-19"]
    assert file_of(out, "2026-11-18", suffix).read_bytes() == unchanged_file  # left byte-identical
    assert manifest_of(out, "2026-11-18", suffix) == unchanged_manifest
    manifest = manifest_of(out, "2026-11-19", suffix)
    assert manifest["changes"] == {"added": 1, "changed": 1, "removed": 1}
    assert manifest["rows"] == 3 and manifest["pulled_at"] == "2026-11-20T07:30:00+00:00"
    assert manifest["sha256"] != old_manifest["sha256"]
    stored = file_of(out, "2026-11-19", suffix).read_bytes()
    assert manifest["sha256"] == hashlib.sha256(stored).hexdigest() and manifest["bytes"] == len(stored)
    assert "2026-11-19: 1 row(s) added, 1 changed, 1 removed since 2026-11-20T06:30:00+00:00" in caplog.text
    assert "2026-11-18: no row added, changed or removed" in caplog.text


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_a_typing_process_pulls_new_days_and_a_refresh_types_in_the_task(
    out, fake_clock, vendor, ist_noon, monkeypatch, file_format
):
    """``typing_process=True`` writes what the task would, and a re-pull compared with the stored
    file (whose rows it needs as objects) is typed in the task itself."""
    from airflow_provider_ozonetel.typing_process import TypingProcess

    forked: list[bool] = []
    read_batches = TypingProcess.read_batches
    monkeypatch.setattr(
        TypingProcess, "read_batches", lambda self, source: forked.append(True) or read_batches(self, source)
    )
    here = out.parent / f"{out.name}-in-the-task"
    catch_up(here, fake_clock, file_format=file_format).execute(context())
    vendor.cdr.reset()
    catch_up(out, fake_clock, file_format=file_format, typing_process=True).execute(context())
    assert len(forked) == len(RETAINED)
    for day in RETAINED:
        suffix = f".{file_format}"
        assert file_of(out, day, suffix).read_bytes() == file_of(here, day, suffix).read_bytes()
        assert manifest_of(out, day, suffix)["sha256"] == manifest_of(here, day, suffix)["sha256"]

    records = vendor.day("2026-11-19")
    records[0] = {**records[0], "Disposition": "Resolved"}
    ist_noon.shift(dt.timedelta(hours=1))
    result = catch_up(out, fake_clock, file_format=file_format, typing_process=True).execute(context())

    assert result["pulled"] == ["2026-11-18", "2026-11-19"] and len(forked) == len(RETAINED)
    changes = manifest_of(out, "2026-11-19", f".{file_format}")["changes"]
    assert changes == {"added": 0, "changed": 1, "removed": 0}


def test_the_same_rows_in_another_order_keep_the_file(out, fake_clock, vendor):
    fill(out, fake_clock, vendor)
    before = file_of(out, "2026-11-19").read_bytes()
    vendor.order["2026-11-19"] = [2, 0, 1]

    catch_up(out, fake_clock).execute(context())

    assert file_of(out, "2026-11-19").read_bytes() == before
    assert manifest_of(out, "2026-11-19")["changes"] is None  # still the first pull's manifest


# ---------------------------------------------------------------- failures


def test_a_day_that_always_fails_is_named_with_its_deadline_and_the_others_land(out, fake_clock, vendor):
    vendor.failing.add("2026-11-10")
    ctx = context()

    with pytest.raises(OzonetelError) as info:
        catch_up(out, fake_clock).execute(ctx)

    message = str(info.value)
    assert message.startswith("1 day(s) still missing: 2026-11-10 (leaves the vendor's window at ")
    assert "2026-11-25T00:00:00+05:30, in 108.0 h): OzonetelTransientError:" in message
    assert "Airflow's retries (or the next run) pull them again" in message
    assert not isinstance(info.value, OzonetelAuthError | OzonetelRequestError)  # Airflow retries it
    landed = [d for d in RETAINED if d != "2026-11-10"]
    assert all(file_of(out, d).exists() for d in landed)
    assert not file_of(out, "2026-11-10").exists()
    assert not any(name.endswith(".tmp") for name in day_files(out))
    assert ctx["ti"].xcom["return_value"] == {
        "pulled": landed,
        "present": [],
        "failed": ["2026-11-10"],
        "at_risk": [],
        "lost": [],
        "requests": 14 + 3,  # the failing day was retried by the hook (max_retries=3)
    }
    assert vendor.asked().index("2026-11-10") == 4 and vendor.asked()[-1] == "2026-11-19"


def test_a_failed_refresh_keeps_the_earlier_file_and_fails_the_task(out, fake_clock, vendor):
    fill(out, fake_clock, vendor)
    before = file_of(out, "2026-11-19").read_bytes()
    vendor.failing.add("2026-11-19")

    with pytest.raises(OzonetelError, match=r"^1 present day\(s\) could not be refreshed .* 2026-11-19: "):
        catch_up(out, fake_clock).execute(context())

    assert file_of(out, "2026-11-19").read_bytes() == before


def test_a_wrong_api_key_stops_at_the_first_day(out, fake_clock, vendor, requests_mock):
    requests_mock.get(
        CDR_URL, status_code=401, json={"status": "false", "message": "Missing userName or apiKey"}
    )

    with pytest.raises(OzonetelAuthError) as info:
        catch_up(out, fake_clock).execute(context())

    assert requests_mock.request_history[-1].json()["fromDate"].startswith("2026-11-06")
    assert sum(r.url.endswith("fetchCDRDetails") for r in requests_mock.request_history) == 1
    assert str(info.value).startswith("14 day(s) still missing: 2026-11-06 (leaves the vendor's window at")
    assert "Missing userName or apiKey" in str(info.value)
    assert (
        "2026-11-07 (leaves the vendor's window at 2026-11-22T00:00:00+05:30, in 36.0 h): not tried"
        in str(info.value)
    )


def test_a_bad_filter_is_refused_before_any_request(out, fake_clock, vendor, requests_mock):
    with pytest.raises(OzonetelRequestError, match="ucid: 'abc' is not numeric"):
        catch_up(out, fake_clock, ucid="abc").execute(context())
    assert requests_mock.call_count == 0


# ---------------------------------------------------------------- retention: at risk, lost


def test_moving_a_day_forward_makes_a_missing_oldest_day_lost_and_yesterday_a_new_pull(
    out, fake_clock, vendor, ist_noon
):
    ist_noon.move_to(NOW.subtract(days=1))  # 2026-11-19: the folder gets 2026-11-05..18
    catch_up(out, fake_clock).execute(context())
    ist_noon.move_to(NOW)
    vendor.failing.add("2026-11-06")  # the oldest retained day fails on the 20th
    file_of(out, "2026-11-06").unlink()
    deadline = r"2026-11-06 \(leaves the vendor's window at 2026-11-21T00:00:00"
    with pytest.raises(OzonetelError, match=deadline):
        catch_up(out, fake_clock).execute(context())
    vendor.cdr.reset()

    ist_noon.move_to(NOW.add(days=1))  # 2026-11-21: the 6th has left the window
    ctx = context()
    result = catch_up(out, fake_clock).execute(ctx)

    assert vendor.asked() == ["2026-11-19", "2026-11-20"]  # refresh of the 19th, yesterday new
    assert result["lost"] == ["2026-11-06"]
    assert result["pulled"] == ["2026-11-19", "2026-11-20"]
    assert result["present"] == days("2026-11-07", "2026-11-18")
    assert file_of(out, "2026-11-20").exists()


def test_lost_is_loud_and_never_before_since_or_the_oldest_day_held(out, fake_clock, vendor, caplog):
    fill(out, fake_clock, vendor)
    caplog.set_level("INFO")

    # The folder's oldest day is the 6th, so nothing older is lost without since.
    assert catch_up(out, fake_clock, refresh_days=0).execute(context())["lost"] == []
    # A pipeline that started on the 3rd has lost the 3rd to the 5th.
    result = catch_up(out, fake_clock, refresh_days=0, since="2026-11-03").execute(context())
    assert result["lost"] == ["2026-11-03", "2026-11-04", "2026-11-05"]
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "LOST: 3 day(s) left the vendor's 15-day window" in errors[-1].getMessage()
    assert "2026-11-03, 2026-11-04, 2026-11-05" in errors[-1].getMessage()


@pytest.mark.parametrize(("alarm_days", "at_risk"), [(3, ["2026-11-08"]), (2, []), (0, [])])
def test_alarm_days_and_the_callback(out, fake_clock, vendor, caplog, alarm_days, at_risk):
    vendor.failing.update({"2026-11-08", "2026-11-12"})  # leave the window in 60 h and 156 h
    reports = []
    ctx = context()

    with pytest.raises(OzonetelError):
        catch_up(
            out, fake_clock, alarm_days=alarm_days, on_retention_risk=lambda r, c: reports.append((r, c))
        ).execute(ctx)

    assert ctx["ti"].xcom["return_value"]["at_risk"] == at_risk
    assert ctx["ti"].xcom["return_value"]["failed"] == ["2026-11-08", "2026-11-12"]
    warnings = [
        r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "RETENTION" in r.getMessage()
    ]
    if at_risk:
        assert reports == [
            (
                {
                    "destination": f"file://{out}",
                    "at_risk": [
                        {
                            "cdr_date": "2026-11-08",
                            "leaves_window_at": "2026-11-23T00:00:00+05:30",
                            "hours_left": 60.0,
                        }
                    ],
                    "lost": [],
                },
                ctx,
            )
        ]
        assert warnings == [
            "RETENTION RISK: 2026-11-08 is still missing and leaves the vendor's window at "
            "2026-11-23T00:00:00+05:30 (in 60.0 h)"
        ]
    else:
        assert reports == [] and warnings == []


def test_the_callback_also_gets_lost_days_and_its_error_does_not_hide_the_result(
    out, fake_clock, vendor, caplog
):
    def broken(report, context):
        raise RuntimeError("pager down")

    result = catch_up(out, fake_clock, since="2026-11-04", on_retention_risk=broken).execute(context())
    assert result["lost"] == ["2026-11-04", "2026-11-05"]
    assert "on_retention_risk raised; the catch-up result stands" in caplog.text


# ---------------------------------------------------------------- range, layout, options


def test_since_and_days_limit_the_days_looked_at(out, fake_clock, vendor):
    assert catch_up(out, fake_clock, since="2026-11-15").execute(context())["pulled"] == days(
        "2026-11-15", "2026-11-19"
    )
    vendor.cdr.reset()
    result = catch_up(out, fake_clock, days="7", refresh_days="0").execute(context())  # rendered text
    assert result["pulled"] == days("2026-11-13", "2026-11-14")
    assert result["present"] == days("2026-11-15", "2026-11-19")


def test_before_three_am_ist_yesterday_is_not_yet_a_day_to_pull(out, fake_clock, vendor, ist_noon):
    ist_noon.move_to(pendulum.datetime(2026, 11, 20, 2, 30, tz=IST))
    result = catch_up(out, fake_clock).execute(context())
    assert result["pulled"] == days("2026-11-06", "2026-11-18")


def test_the_day_operators_files_count_as_present(out, fake_clock, vendor):
    for day in ("2026-11-09", "2026-11-10"):
        OzonetelCDRDetailsOperator(
            task_id=f"pull_{day}",
            cdr_date=day,
            destination=f"file://{out}/",
            hook_params={"clock": fake_clock.as_clock()},
            **({"from_time": "00:00", "to_time": "11:59:59"} if day == "2026-11-10" else {}),
        ).execute(context())
    vendor.cdr.reset()

    result = catch_up(out, fake_clock, refresh_days=0).execute(context())

    assert "2026-11-09" in result["present"]
    assert "2026-11-10" in result["pulled"]  # half a day is not the day
    assert manifest_of(out, "2026-11-10")["windows"] == [["2026-11-10 00:00:00", "2026-11-10 23:59:59"]]


def test_a_day_pulled_with_other_options_is_pulled_again(out, fake_clock, vendor):
    fill(out, fake_clock, vendor)
    result = catch_up(out, fake_clock, refresh_days=0, campaign_name="Inbound_Support").execute(context())
    assert result["pulled"] == RETAINED
    assert manifest_of(out, "2026-11-06")["filters"] == {"campaign_name": "Inbound_Support"}
    assert vendor.cdr.last_request.json()["campaignName"] == "Inbound_Support"


def test_hook_params_may_be_rendered_json_text(out, vendor, hook):
    op = OzonetelCDRCatchUpOperator(
        task_id="c",
        destination=f"file://{out}/",
        hook_params='{"rate_window_seconds": 0.001, "max_retries": 0}',
    )
    assert op.hook.retry.rate_window_seconds == 0.001 and op.hook.retry.max_retries == 0
    bad = OzonetelCDRCatchUpOperator(task_id="c", destination=f"file://{out}/", hook_params="[1]")
    with pytest.raises(OzonetelRequestError, match="hook_params: expected a dict"):
        bad.hook  # noqa: B018


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"destination": None}, "destination: the catch-up needs a folder"),
        ({"verify": "md5"}, "verify: 'md5' is not one of sha256, size"),
        ({"days": 0}, "days: expected a whole number >= 1, got 0"),
        ({"refresh_days": -1}, "refresh_days: expected a whole number >= 0, got -1"),
        ({"alarm_days": -1}, "alarm_days: expected a whole number >= 0, got -1"),
        ({"since": "last week"}, "since: expected a date or a 'YYYY-MM-DD' string"),
        ({"on_retention_risk": "page me"}, "on_retention_risk: expected a callable"),
        ({"window_hours": 30}, "window_hours: expected a number of hours in"),
    ],
)
def test_bad_arguments_fail_at_parse_time(kwargs, message):
    kwargs.setdefault("destination", "file:///tmp/cdr/")
    with pytest.raises(ValueError, match=message):
        OzonetelCDRCatchUpOperator(task_id="c", **kwargs)


def test_a_rendered_bad_value_is_refused_before_any_request(out, fake_clock, vendor, requests_mock):
    with pytest.raises(OzonetelRequestError, match="days: expected a whole number >= 1, got 'seven'"):
        catch_up(out, fake_clock, days="seven").execute(context())
    assert requests_mock.call_count == 0


def test_a_day_leaving_the_window_mid_run_is_not_requested(out, fake_clock, vendor, ist_noon):
    # A run started at 23:59 IST: by the time the oldest day's turn comes, it is gone.
    ist_noon.move_to(pendulum.datetime(2026, 11, 20, 23, 59, 59, tz=IST))
    op = catch_up(out, fake_clock, since="2026-11-06")
    original = op._check_requests

    def late(hook, day, windows):
        if day.isoformat() == "2026-11-19":  # the last check: the clock passes midnight
            ist_noon.move_to(pendulum.datetime(2026, 11, 21, 0, 0, 1, tz=IST))
        return original(hook, day, windows)

    op._check_requests = late
    result = op.execute(context())
    assert "2026-11-06" not in vendor.asked()
    assert result["lost"] == ["2026-11-06"]


def test_the_xcom_holds_dates_and_counts_only(out, fake_clock, vendor):
    """The XCom holds dates and counts only, never rows."""
    result = catch_up(out, fake_clock, days=1).execute(context())
    assert json.loads(json.dumps(result)) == result and set(result) == {
        "pulled",
        "present",
        "failed",
        "at_risk",
        "lost",
        "requests",
    }


def test_a_task_timeout_ends_the_run_instead_of_skipping_a_day(out, fake_clock, vendor, monkeypatch):
    from airflow.providers.common.compat.sdk import AirflowTaskTimeout

    def times_out(*args, **kwargs):
        raise AirflowTaskTimeout("Timeout, PID: 4711")

    op = catch_up(out, fake_clock)
    monkeypatch.setattr(op, "_pull_day", times_out)  # an ordinary AirflowException on Airflow 2.x
    with pytest.raises(AirflowTaskTimeout):
        op.execute(context())


def test_refresh_days_beyond_the_days_looked_at_refresh_them_all(out, fake_clock, vendor):
    fill(out, fake_clock, vendor)
    result = catch_up(out, fake_clock, days=3, refresh_days=5).execute(context())
    assert vendor.asked() == ["2026-11-17", "2026-11-18", "2026-11-19"]
    assert result["present"] == []
