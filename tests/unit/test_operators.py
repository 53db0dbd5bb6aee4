"""Operators: files written and their content, XCom values, atomicity, idempotent reruns."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from types import SimpleNamespace

import pendulum
import pytest
import urllib3

from airflow_provider_ozonetel import __version__, compat
from airflow_provider_ozonetel.exceptions import (
    OzonetelError,
    OzonetelRateLimitError,
    OzonetelRequestError,
    OzonetelTransientError,
)
from airflow_provider_ozonetel.hooks.ozonetel import CDR_ENDPOINT, OzonetelHook
from airflow_provider_ozonetel.operators.ozonetel import (
    OzonetelCallDetailsOperator,
    OzonetelCDRDetailsOperator,
    parse_ucids,
)
from airflow_provider_ozonetel.records import CSV_COLUMNS
from tests.answers import (
    API_KEY,
    BIG_CALL_ID,
    BIG_UCID,
    CALLBACKS_URL,
    CDR_URL,
    TOKEN,
    TOKEN_URL,
    callback_record,
    cdr_body,
    cdr_record,
)

DAY = "2026-11-19"  # fixtures pin now at 2026-11-20 12:00 IST
RUN = pendulum.datetime(2026, 11, 20, 3, 30, tz="Asia/Kolkata")


def context(**overrides):
    base = {
        "data_interval_start": RUN,
        "data_interval_end": RUN,
        "logical_date": RUN,
        "run_id": "scheduled__2026-11-20T03:30:00+05:30",
    }
    return {**base, **overrides}


@pytest.fixture
def vendor(requests_mock, hook):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    return requests_mock


def cdr_op(tmp_path, fake_clock, **kwargs):
    kwargs.setdefault("destination", f"file://{tmp_path}/out/")
    return OzonetelCDRDetailsOperator(task_id="pull", hook_params={"clock": fake_clock.as_clock()}, **kwargs)


def files_in(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_day_to_jsonl_typed_rows(tmp_path, fake_clock, vendor):
    records = [cdr_record(i) for i in range(6)]  # 6 UCIDs, 3 CallIDs
    cdr = vendor.get(CDR_URL, text=cdr_body(records))
    result = cdr_op(tmp_path, fake_clock).execute(context())

    path = tmp_path / "out" / "ozonetel_cdr_2026-11-19.jsonl"
    assert result == {
        "cdr_date": DAY,
        "path": f"file://{path}",
        "format": "jsonl",
        "rows": 6,
        "calls": 3,
        "requests": 1,
        "rate_wait_seconds": 0.0,
    }
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["ucid"] for r in rows] == [str(BIG_UCID + i) for i in range(6)]
    assert rows[0]["call_id"] == str(BIG_CALL_ID)
    assert rows[0]["start_time"] == "2026-11-19T12:20:00+05:30"
    assert rows[0]["start_time_utc"] == "2026-11-19T06:50:00Z"
    assert rows[0]["duration_seconds"] == 56
    assert cdr.last_request.json()["fromDate"] == "2026-11-19 00:00:00"
    # No temporary left; the manifest proves the file (written after it).
    assert files_in(tmp_path / "out") == [
        "ozonetel_cdr_2026-11-19.jsonl",
        "ozonetel_cdr_2026-11-19.jsonl.manifest.json",
    ]
    manifest = json.loads((tmp_path / "out" / "ozonetel_cdr_2026-11-19.jsonl.manifest.json").read_text())
    data = path.read_bytes()
    assert manifest == {
        "cdr_date": DAY,
        "file": "ozonetel_cdr_2026-11-19.jsonl",
        "format": "jsonl",
        "compression": None,
        "normalize": True,
        "rows": 6,
        "calls": 3,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "windows": [["2026-11-19 00:00:00", "2026-11-19 23:59:59"]],
        "filters": {},
        "pulled_at": "2026-11-20T06:30:00+00:00",
        "provider_version": __version__,
        "changes": None,
        "manifest_version": 1,
    }


def test_raw_records_keep_ids_exact(tmp_path, fake_clock, vendor):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    cdr_op(tmp_path, fake_clock, normalize=False).execute(context())
    line = (tmp_path / "out" / "ozonetel_cdr_2026-11-19.jsonl").read_text()
    assert f'"UCID":{BIG_UCID}' in line and f'"CallID":{BIG_CALL_ID}' in line
    assert json.loads(line)["StartTime"] == "12:20:00"


def test_csv_gzip_has_a_fixed_header_and_keeps_unknown_fields(tmp_path, fake_clock, vendor):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0), cdr_record(1, BrandNewField="x")]))
    result = cdr_op(tmp_path, fake_clock, file_format="csv", compression="gzip").execute(context())
    assert result["format"] == "csv+gzip"
    assert result["path"].endswith("ozonetel_cdr_2026-11-19.csv.gz")
    with gzip.open(tmp_path / "out" / "ozonetel_cdr_2026-11-19.csv.gz", "rt") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == [*CSV_COLUMNS, "extra_fields"]
    assert table[0]["ucid"] == str(BIG_UCID) and table[0]["extra_fields"] == ""
    assert json.loads(table[1]["extra_fields"]) == {"brand_new_field": "x"}


def test_window_hours_splits_the_day_and_dedupes_by_ucid(tmp_path, fake_clock, vendor):
    answers = [
        {"text": cdr_body([cdr_record(0), cdr_record(1)])},
        {"text": cdr_body([cdr_record(1), cdr_record(2)])},  # UCID +1 again at the boundary
        {"text": cdr_body([])},
        {"text": cdr_body([cdr_record(3)])},
    ]
    cdr = vendor.get(CDR_URL, answers)
    result = cdr_op(tmp_path, fake_clock, window_hours=6).execute(context())
    assert [r.json()["fromDate"][11:] for r in cdr.request_history] == [
        "00:00:00",
        "06:00:00",
        "12:00:00",
        "18:00:00",
    ]
    assert [r.json()["toDate"][11:] for r in cdr.request_history] == [
        "05:59:59",
        "11:59:59",
        "17:59:59",
        "23:59:59",
    ]
    assert (result["rows"], result["calls"], result["requests"]) == (4, 2, 4)
    assert fake_clock.sleeps and sum(fake_clock.sleeps) >= 59  # paced: 2 requests a minute


def _spelled(record: dict, key: str, value) -> dict:
    """``record`` with its UCID under ``key`` (``Ucid``, ``ucid``) holding ``value``."""
    rest = {k: v for k, v in record.items() if k != "UCID"}
    return {key: value, **rest}


@pytest.mark.parametrize("normalize", [True, False])
def test_a_leg_sent_twice_in_any_spelling_or_type_is_written_once(tmp_path, fake_clock, vendor, normalize):
    first, second = cdr_record(0), cdr_record(1)
    answers = [
        {"text": cdr_body([first, first, second])},  # a repeat inside one answer
        {"text": cdr_body([_spelled(first, "Ucid", str(BIG_UCID)), cdr_record(2)])},  # text, not int
        {"text": cdr_body([_spelled(second, "ucid", f" {BIG_UCID + 1}")])},  # lower case, padded
        {"text": cdr_body([])},
    ]
    vendor.get(CDR_URL, answers)
    result = cdr_op(tmp_path, fake_clock, window_hours=6, normalize=normalize).execute(context())
    lines = (tmp_path / "out" / "ozonetel_cdr_2026-11-19.jsonl").read_text().splitlines()
    ucids = [str(json.loads(line)["ucid" if normalize else "UCID"]) for line in lines]
    assert ucids == [str(BIG_UCID), str(BIG_UCID + 1), str(BIG_UCID + 2)]
    assert result["rows"] == 3


def test_window_hours_today_stops_at_now(tmp_path, fake_clock, vendor):
    cdr = vendor.get(CDR_URL, text=cdr_body([]))
    cdr_op(tmp_path, fake_clock, window_hours=6, cdr_date="2026-11-20").execute(context())
    assert [(r.json()["fromDate"][11:], r.json()["toDate"][11:]) for r in cdr.request_history] == [
        ("00:00:00", "05:59:59"),
        ("06:00:00", "11:59:59"),
        ("12:00:00", "12:00:00"),  # the window that began at noon ends now (no future toDate)
    ]


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        ("truncated", OzonetelTransientError, "answer was cut off after"),
        ("error_at_end", OzonetelRateLimitError, "API rate limit has been exceeded"),
        ("drop", OzonetelTransientError, "connection broke after"),
    ],
)
def test_a_failure_after_some_rows_leaves_no_file_and_keeps_the_old_one(
    tmp_path, fake_clock, vendor, answer, error, message
):
    out = tmp_path / "out"
    out.mkdir()
    earlier = out / "ozonetel_cdr_2026-11-19.jsonl"
    earlier.write_text("earlier run\n")
    body = cdr_body([cdr_record(i) for i in range(3000)])
    if answer == "truncated":
        vendor.get(CDR_URL, text=body[: len(body) * 2 // 3])
    elif answer == "error_at_end":
        status = {"status": "error", "message": "API rate limit has been exceeded"}
        vendor.get(CDR_URL, text=cdr_body([cdr_record(i) for i in range(3000)], **status))
    else:
        vendor.get(CDR_URL, body=_DropsAfter(body.encode(), len(body) // 2))
    with pytest.raises(error, match=message):
        cdr_op(tmp_path, fake_clock).execute(context())
    assert files_in(out) == ["ozonetel_cdr_2026-11-19.jsonl"]
    assert earlier.read_text() == "earlier run\n"


class _DropsAfter(io.BytesIO):
    """A body whose connection breaks after ``limit`` bytes."""

    def __init__(self, data: bytes, limit: int):
        super().__init__(data)
        self.limit = limit

    def read(self, size=-1):
        if self.tell() >= self.limit:
            raise urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")
        return super().read(size if size and size > 0 else self.limit)


def test_rerun_replaces_the_day(tmp_path, fake_clock, vendor):
    vendor.get(
        CDR_URL, [{"text": cdr_body([cdr_record(0), cdr_record(1)])}, {"text": cdr_body([cdr_record(5)])}]
    )
    cdr_op(tmp_path, fake_clock).execute(context())
    second = cdr_op(tmp_path, fake_clock).execute(context())
    lines = (tmp_path / "out" / "ozonetel_cdr_2026-11-19.jsonl").read_text().splitlines()
    assert second["rows"] == 1 and [json.loads(x)["ucid"] for x in lines] == [str(BIG_UCID + 5)]
    assert files_in(tmp_path / "out") == [
        "ozonetel_cdr_2026-11-19.jsonl",
        "ozonetel_cdr_2026-11-19.jsonl.manifest.json",
    ]


def test_no_destination_returns_the_rows(tmp_path, fake_clock, vendor):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    rows = cdr_op(tmp_path, fake_clock, destination=None).execute(context())
    assert isinstance(rows, list) and rows[0]["ucid"] == str(BIG_UCID)


def test_explicit_file_destination(tmp_path, fake_clock, vendor):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    result = cdr_op(tmp_path, fake_clock, destination=str(tmp_path / "x" / "day.jsonl")).execute(context())
    assert (tmp_path / "x" / "day.jsonl").exists() and result["path"].endswith("/x/day.jsonl")


@pytest.mark.parametrize(
    ("cdr_date", "message"),
    [
        ("2026-11-01", r"older than the vendor's 15-day retention: Ozonetel no longer holds that day's data"),
        ("2026-11-21", r"is in the future"),
        ("yesterday", r"cdr_date: expected a date or a 'YYYY-MM-DD' string"),
    ],
)
def test_bad_dates_are_refused_before_any_request(tmp_path, fake_clock, vendor, cdr_date, message):
    with pytest.raises(OzonetelRequestError, match=message):
        cdr_op(tmp_path, fake_clock, cdr_date=cdr_date).execute(context())
    assert vendor.call_count == 0
    assert not (tmp_path / "out").exists()


def test_a_bad_filter_is_refused_before_any_request(tmp_path, fake_clock, vendor):
    with pytest.raises(OzonetelRequestError, match="ucid: 'abc' is not numeric"):
        cdr_op(tmp_path, fake_clock, ucid="abc", window_hours=12).execute(context())
    assert vendor.call_count == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"file_format": "xlsx"}, "file_format: 'xlsx' is not one of jsonl, csv, parquet"),
        ({"compression": "zip"}, "compression: 'zip' is not None or 'gzip'"),
        ({"window_hours": 0}, "window_hours: expected a number of hours in"),
        ({"window_hours": 6, "from_time": "01:00"}, "use either window_hours or from_time/to_time"),
    ],
)
def test_bad_arguments_fail_at_parse_time(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OzonetelCDRDetailsOperator(task_id="x", **kwargs)


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ((RUN, RUN, RUN), "2026-11-19"),  # daily cron in IST, trigger timetable
        (  # @daily in UTC with data intervals
            (pendulum.datetime(2026, 11, 19, tz="UTC"), pendulum.datetime(2026, 11, 20, tz="UTC"), None),
            "2026-11-19",
        ),
        ((None, None, pendulum.datetime(2026, 11, 20, tz="UTC")), "2026-11-19"),  # @daily UTC, trigger
    ],
)
def test_default_date_rule(tmp_path, fake_clock, vendor, interval, expected):
    cdr = vendor.get(CDR_URL, text=cdr_body([]))
    start, end, logical = interval
    ctx = context(data_interval_start=start, data_interval_end=end, logical_date=logical)
    assert cdr_op(tmp_path, fake_clock).execute(ctx)["cdr_date"] == expected
    assert cdr.last_request.json()["fromDate"] == f"{expected} 00:00:00"


def test_outlet_asset_events_get_the_days_file(tmp_path, fake_clock, vendor):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    asset = compat.asset("file:///cdr/", name="cdr")  # an Asset on 3.x, a Dataset on 2.x

    class Event:
        def __init__(self):
            self.extra = {}

    class OutletEvents:  # Airflow's accessor: the event of an outlet, by its URI (assets need not hash)
        def __init__(self):
            self.by_uri = {}

        def __getitem__(self, outlet):
            return self.by_uri.setdefault(outlet.uri, Event())

    events = OutletEvents()
    op = cdr_op(tmp_path, fake_clock, outlets=[asset])
    result = op.execute(context(outlet_events=events))
    assert events.by_uri[asset.uri].extra == result


# ---------------------------------------------------------------- CallBacks operator


def call_op(tmp_path, fake_clock, **kwargs):
    kwargs.setdefault("destination", f"file://{tmp_path}/calls/")
    return OzonetelCallDetailsOperator(task_id="look", hook_params={"clock": fake_clock.as_clock()}, **kwargs)


def _found(ucid):
    return {"json": {"status": "success", "message": [callback_record(ucid, API_KEY)]}}


def _none(ucid):
    return {"json": {"status": "success", "message": f"No Data Found with UCID {ucid}"}}


def test_call_lookup_writes_found_calls_and_lists_missing(tmp_path, fake_clock, vendor):
    calls = vendor.get(CALLBACKS_URL, [_found(BIG_UCID), _none(BIG_UCID + 1), _found(BIG_UCID + 2)])
    ucids = [BIG_UCID, str(BIG_UCID + 1), BIG_UCID + 2]
    result = call_op(tmp_path, fake_clock, ucids=ucids, report_type="historical").execute(context())
    path = (
        tmp_path / "calls" / "ozonetel_calls_adhoc_airflow__look__scheduled__2026-11-20T03_30_00_05_30.jsonl"
    )
    assert result == {
        "path": f"file://{path}",
        "rows": 2,
        "missing": [str(BIG_UCID + 1)],
        "requests": 3,
        "rate_wait_seconds": 0.0,
    }
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0]["monitor_ucid"] == str(BIG_UCID) and rows[0]["api_key"] is None
    assert API_KEY not in path.read_text()
    assert [r.qs["reporttype"] for r in calls.request_history] == [["historical"]] * 3


def test_raw_call_records_never_carry_the_key(tmp_path, fake_clock, vendor):
    vendor.get(CALLBACKS_URL, **_found(BIG_UCID))
    rows = call_op(tmp_path, fake_clock, ucids=[BIG_UCID], destination=None, normalize=False).execute(
        context()
    )
    assert rows[0]["Apikey"] == "***"


def test_fail_on_missing_fails_and_writes_nothing(tmp_path, fake_clock, vendor):
    vendor.get(CALLBACKS_URL, [_found(BIG_UCID), _none(BIG_UCID + 1)])
    op = call_op(tmp_path, fake_clock, ucids=[BIG_UCID, BIG_UCID + 1], fail_on_missing=True)
    with pytest.raises(OzonetelError, match=rf"No Data Found for 1 of 2 UCIDs \({BIG_UCID + 1}\)"):
        op.execute(context())
    assert files_in(tmp_path / "calls") == []


def test_a_bad_ucid_anywhere_in_the_list_is_refused_before_any_request(tmp_path, fake_clock, vendor):
    with pytest.raises(OzonetelRequestError, match="ucid: '12x' is not numeric"):
        call_op(tmp_path, fake_clock, ucids=[BIG_UCID, "12x"]).execute(context())
    assert vendor.call_count == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([1, "2"], [1, "2"]),
        ("31733467784618299", ["31733467784618299"]),
        (31733467784618299, [31733467784618299]),
        ('["1", "2"]', ["1", "2"]),
        ("['1', '2']", ["1", "2"]),
        ("1, 2 3", ["1", "2", "3"]),
        (("1",), ["1"]),
    ],
)
def test_ucids_from_every_shape_a_dag_gives(value, expected):
    assert parse_ucids(value) == expected


@pytest.mark.parametrize("value", [None, "", [], "[1,"])
def test_no_ucids_is_a_clear_error(value):
    with pytest.raises(OzonetelRequestError, match="ucids"):
        parse_ucids(value)


def test_each_map_index_of_a_lookup_gets_its_own_default_file(tmp_path, fake_clock, vendor):
    vendor.get(CALLBACKS_URL, **_found(BIG_UCID))
    paths = set()
    for index in range(3):
        ti = SimpleNamespace(dag_id="calls", task_id="look", map_index=index)
        result = call_op(tmp_path, fake_clock, ucids=[BIG_UCID], report_type="historical").execute(
            context(ti=ti)
        )
        paths.add(result["path"])
    assert sorted(p.rsplit("/", 1)[1] for p in paths) == [
        f"ozonetel_calls_calls__look__scheduled__2026-11-20T03_30_00_05_30__{n}.jsonl" for n in range(3)
    ]
    assert len(files_in(tmp_path / "calls")) == 3


@pytest.mark.parametrize(
    ("partial_destination", "refused"),
    [
        ("file:///data/calls.jsonl", True),  # one file for every index: refused
        ("file:///data/calls_{{ ti.map_index }}.jsonl", False),  # templated per index
        (None, False),  # destination expanded, one per index
    ],
)
def test_a_file_destination_shared_by_map_indexes_is_refused_before_any_request(
    tmp_path, fake_clock, vendor, partial_destination, refused
):
    calls = vendor.get(CALLBACKS_URL, **_found(BIG_UCID))
    target = f"file://{tmp_path}/calls_1.jsonl"
    op = call_op(tmp_path, fake_clock, ucids=[BIG_UCID], report_type="historical", destination=target)
    partial = {"destination": partial_destination} if partial_destination else {}
    op.dag = None
    mapped = SimpleNamespace(partial_kwargs=partial)
    object.__setattr__(op, "_dag", SimpleNamespace(task_dict={"look": mapped}, dag_id="calls"))
    ctx = context(ti=SimpleNamespace(dag_id="calls", task_id="look", map_index=1))
    if refused:
        with pytest.raises(OzonetelRequestError, match=r"destination: every map index of mapped task 'look'"):
            op.execute(ctx)
        assert calls.call_count == 0 and not (tmp_path / "calls_1.jsonl").exists()
    else:
        assert op.execute(ctx)["rows"] == 1


# ---------------------------------------------------------------- names, reservation and deferral


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({}, "ozonetel_cdr_2026-11-19.jsonl"),
        ({"window_hours": 6}, "ozonetel_cdr_2026-11-19.jsonl"),  # still the whole day
        ({"from_time": "06:00", "to_time": "11:59:59"}, "ozonetel_cdr_2026-11-19_060000-115959.jsonl"),
        ({"from_time": "18:00"}, "ozonetel_cdr_2026-11-19_180000-235959.jsonl"),
    ],
)
def test_a_partial_pull_never_takes_the_days_file_name(tmp_path, fake_clock, vendor, options, name):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    result = cdr_op(tmp_path, fake_clock, **options).execute(context())
    assert result["path"].rsplit("/", 1)[1] == name


def test_filtered_pulls_get_a_name_per_filter_set(tmp_path, fake_clock, vendor):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    names = {
        cdr_op(tmp_path, fake_clock, **f).execute(context())["path"].rsplit("/", 1)[1]
        for f in ({"campaign_name": "Sales"}, {"campaign_name": "Support"}, {"call_type": "InBound"})
    }
    assert len(names) == 3
    assert all(n.startswith("ozonetel_cdr_2026-11-19_f") and n.endswith(".jsonl") for n in names)
    assert "ozonetel_cdr_2026-11-19.jsonl" not in files_in(tmp_path / "out")


def test_the_day_reserves_its_requests_and_waits_in_the_worker_when_the_wait_is_short(
    tmp_path, fake_clock, vendor
):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    OzonetelHook(clock=fake_clock.as_clock()).reserve_requests(CDR_ENDPOINT, 2)  # another task's
    result = cdr_op(tmp_path, fake_clock, deferrable=True, defer_threshold=90).execute(context())
    assert fake_clock.sleeps == [pytest.approx(61.2)]
    assert result["rate_wait_seconds"] == pytest.approx(61.2)


def test_a_long_wait_defers_and_resumes_on_the_same_reservation(tmp_path, fake_clock, vendor):
    from airflow.providers.common.compat.sdk import TaskDeferred

    cdr = vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    OzonetelHook(clock=fake_clock.as_clock()).reserve_requests(CDR_ENDPOINT, 6)  # three windows taken
    op = cdr_op(tmp_path, fake_clock, window_hours=12, deferrable=True, defer_threshold=90, resume_lead=30)
    start = fake_clock.wall()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    assert cdr.call_count == 0 and fake_clock.sleeps == []  # nothing sent, no worker time spent
    kwargs = deferred.value.kwargs
    first = kwargs["reservation"]["grants"][0][0]
    assert first - start == pytest.approx(3 * 61.2)
    assert deferred.value.trigger.moment.timestamp() == pytest.approx(first - 30)
    assert deferred.value.method_name == "execute_complete"

    # The triggerer fires 30 s before the start; a fresh operator and hook resume (another process).
    fake_clock.now += 3 * 61.2 - 30
    resumed = cdr_op(tmp_path, fake_clock, window_hours=12, deferrable=True)
    result = resumed.execute_complete(context(), event=None, **kwargs)
    assert cdr.call_count == 2
    assert fake_clock.sleeps == [pytest.approx(30)]  # the rest of the wait, on the reserved starts
    assert result["rows"] == 1 and result["rate_wait_seconds"] == pytest.approx(30)


def test_resuming_after_the_reserved_start_takes_a_fresh_one(tmp_path, fake_clock, vendor):
    """Resumed late (a slow scheduler): sending on an old start could crowd the next window."""
    cdr = vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    hook = OzonetelHook(clock=fake_clock.as_clock())
    stale = hook.reserve_requests(CDR_ENDPOINT, 1)
    hook.reserve_requests(CDR_ENDPOINT, 1)  # the window is full: the stale grant's and another
    fake_clock.now += 10  # resumed 10 s after the reserved start
    resumed = cdr_op(tmp_path, fake_clock)
    resumed.execute_complete(context(), reservation=stale.as_dict())
    assert cdr.call_count == 1
    assert fake_clock.sleeps == [pytest.approx(61.2 - 10)]  # waited for a fresh start instead


def test_resuming_late_into_a_busy_account_defers_again(tmp_path, fake_clock, vendor):
    """Resumed after its start while others hold the next windows: back to the triggerer, not a
    long wait in the worker."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    cdr = vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    hook = OzonetelHook(clock=fake_clock.as_clock())
    stale = hook.reserve_requests(CDR_ENDPOINT, 1)
    fake_clock.now += 10  # resumed 10 s after the reserved start
    OzonetelHook(clock=fake_clock.as_clock()).reserve_requests(CDR_ENDPOINT, 6)  # three windows taken
    resumed = cdr_op(tmp_path, fake_clock, deferrable=True, defer_threshold=90)
    with pytest.raises(TaskDeferred) as deferred:
        resumed.execute_complete(context(), reservation=stale.as_dict())
    assert cdr.call_count == 0 and fake_clock.sleeps == []
    assert deferred.value.kwargs["reservation"]["grants"][0][0] > fake_clock.wall() + 90
