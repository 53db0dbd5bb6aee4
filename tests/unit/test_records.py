"""Unit tests of airflow_provider_ozonetel.records (pure: no Airflow import)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import pathlib
import subprocess
import sys

import jsonschema
import pytest

from airflow_provider_ozonetel.records import (
    CSV_COLUMNS,
    SCHEMA_PATH,
    load_schema,
    normalize_callback,
    normalize_cdr,
    snake_case,
)
from tests.answers import SEED_CALLBACK as SAMPLE_CALLBACK
from tests.answers import SEED_CDR_JSON as SAMPLE_CDR_JSON

# Pure logic (or the emulator): the same on every Airflow, so make test-matrix skips it.
pytestmark = pytest.mark.version_independent

EXPECTED_CDR = {
    "agent_dial_status": "answered",
    "agent_id": "xxxxx",
    "agent_name": "xxxxx",
    "call_audio": "https://s3.ap-southeast-1.amazonaws.com/recordings.kookoo.in/demo_user/xxxxxxxx567.mp3",
    "call_date": "2024-12-06",
    "call_id": "31733467784618213",
    "caller_conf_audio_file": None,
    "caller_id": "504995",
    "campaign_name": "xxxxxxxx",
    "comments": None,
    "conference_duration_seconds": 0,
    "customer_dial_status": "answered",
    "customer_ring_time_seconds": 0,
    "did": "90050",
    "dial_out_name": None,
    "dial_status": "answered",
    "dialed_number": "500994",
    "disposition": "Wrap up time exceeded :1",
    "duration_seconds": 56,
    "dynamic_did": None,
    "e164": "+91504995",
    "end_time": "2024-12-06T12:20:57+05:30",
    "end_time_utc": "2024-12-06T06:50:57Z",
    "event": "AgentDial",
    "handling_time_seconds": 58,
    "hangup_by": "UserHangup",
    "hold_duration_seconds": 0,
    "location": "Bangalore",
    "pickup_time": "2024-12-06T12:20:01+05:30",
    "rating": 0,
    "rating_comments": None,
    "skill": "General",
    "start_time": "2024-12-06T12:20:00+05:30",
    "start_time_utc": "2024-12-06T06:50:00Z",
    "status": "Answered",
    "talk_time_seconds": 56,
    "time_to_answer_seconds": 1,
    "transfer_type": None,
    "transferred_to": None,
    "type": "InBound",
    "ucid": "31733467784618299",
    "uui": None,
    "wrap_up_end_time": "2024-12-06T12:20:59+05:30",
    "wrap_up_start_time": "2024-12-06T12:20:57+05:30",
    "wrapup_duration_seconds": 2,
}

EXPECTED_CALLBACK = {
    "monitor_ucid": "xxxxxxxxxxxxxx",
    "uui": "xxxxx",
    "did": "xxxx",
    "campaign_name": "xxxxxx",
    "location": None,
    "caller_id": "xxxxx",
    "phone_name": "09xxxx46x9",
    "skill": None,
    "call_date": "2021-02-09",
    "start_time": "2021-02-09T10:33:53+05:30",
    "start_time_utc": "2021-02-09T05:03:53Z",
    "end_time": "2021-02-09T10:38:50+05:30",
    "end_time_utc": "2021-02-09T05:08:50Z",
    "time_to_answer_seconds": 11,
    "call_duration_seconds": 297,
    "duration_seconds": 286,
    "fall_back_rule": "AgentDial",
    "dialed_number": "09xxxx679",
    "type": "manual",
    "agent_id": None,
    "agent_phone_number": "09xxxxxxx9",
    "agent_unique_id": None,
    "agent_name": None,
    "disposition": None,
    "hangup_by": "UserHangup",
    "status": "Answered",
    "audio_file": SAMPLE_CALLBACK["AudioFile"],
    "transfer_type": "No Transfers",
    "transferred_to": None,
    "comments": None,
    "dial_status": "answered",
    "api_key": None,
    "agent_status": "answered",
    "customer_status": "answered",
    "user_name": "maxxxra_xxr",
    "caller_conf_audio_file": None,
    "conf_duration_seconds": 0,
    "campaign_status": "OFFLINE",
    "data_unique_id": None,
    "call_completed": "TRUE",
    "conference_data": None,
}


def sample_cdr(**changes) -> dict:
    record = json.loads(SAMPLE_CDR_JSON)
    record.update(changes)
    return record


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    checker = jsonschema.FormatChecker()

    # jsonschema checks "date-time" only with an optional package: check it here, strictly.
    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if dt.datetime.fromisoformat(value).tzinfo is None:
            raise ValueError("no UTC offset")
        return True

    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=checker)


# ---------------------------------------------------------------- fetchCDRDetails


def test_sample_record_normalizes_exactly() -> None:
    record = sample_cdr()
    assert len(record) == 43
    before = copy.deepcopy(record)
    row = normalize_cdr(record)
    assert row == EXPECTED_CDR
    assert record == before  # the input is not modified


def test_big_int_ids_are_exact_strings() -> None:
    body = '{"CallID": 31733467784618213, "UCID": 9007199254740993, "MonitorUCID": 123456789012345678901}'
    row = normalize_cdr(json.loads(body))
    assert row == {
        "call_id": "31733467784618213",
        "ucid": "9007199254740993",  # 2**53 + 1: a float would give ...992
        "monitor_ucid": "123456789012345678901",
    }


def test_big_int_ids_through_ijson() -> None:
    ijson = pytest.importorskip("ijson")
    body = b'{"details": [{"CallID": 31733467784618213, "UCID": 31733467784618299}], "status": "success"}'
    (record,) = ijson.items(body, "details.item", use_float=True)
    row = normalize_cdr(record)
    assert row == {"call_id": "31733467784618213", "ucid": "31733467784618299"}


def test_string_ids_are_kept() -> None:
    row = normalize_cdr({"UCID": "31733467784618299", "monitorUCID": "17xxxxxxx9372"})
    assert row == {"ucid": "31733467784618299", "monitor_ucid": "17xxxxxxx9372"}


def test_float_id_is_refused() -> None:
    with pytest.raises(ValueError, match=r"UCID.*3\.17"):
        normalize_cdr({"UCID": 3.1733467784618298e16})


@pytest.mark.parametrize("normalize", [normalize_cdr, normalize_callback])
@pytest.mark.parametrize(("record", "kind"), [([1], "list"), ("UCID", "str"), (None, "NoneType"), (7, "int")])
def test_a_record_that_is_not_a_mapping_is_a_type_error(normalize, record, kind) -> None:
    message = rf"^record: expected a mapping of field names to values, got {kind}$"
    with pytest.raises(TypeError, match=message):
        normalize(record)


def test_midnight_crossing_moves_end_and_wrap_up_to_the_next_day() -> None:
    record = sample_cdr(
        CallDate="2024-12-31",
        StartTime="23:58:00",
        PickupTime="23:58:05",
        EndTime="00:03:00",
        WrapUpStartTime="00:03:00",
        WrapUpEndTime="00:03:30",
    )
    row = normalize_cdr(record)
    assert row["call_date"] == "2024-12-31"
    assert row["start_time"] == "2024-12-31T23:58:00+05:30"
    assert row["pickup_time"] == "2024-12-31T23:58:05+05:30"
    assert row["end_time"] == "2025-01-01T00:03:00+05:30"
    assert row["wrap_up_start_time"] == "2025-01-01T00:03:00+05:30"
    assert row["wrap_up_end_time"] == "2025-01-01T00:03:30+05:30"
    assert row["start_time_utc"] == "2024-12-31T18:28:00Z"
    assert row["end_time_utc"] == "2024-12-31T18:33:00Z"


def test_wrap_up_alone_crosses_midnight() -> None:
    row = normalize_cdr(
        sample_cdr(
            StartTime="23:50:00", EndTime="23:59:30", WrapUpStartTime="23:59:30", WrapUpEndTime="00:00:10"
        )
    )
    assert row["end_time"] == "2024-12-06T23:59:30+05:30"
    assert row["wrap_up_start_time"] == "2024-12-06T23:59:30+05:30"
    assert row["wrap_up_end_time"] == "2024-12-07T00:00:10+05:30"


def test_utc_twin_goes_back_a_day_before_0530_ist() -> None:
    row = normalize_cdr(sample_cdr(CallDate="2024-03-01", StartTime="02:00:00", EndTime="05:30:00"))
    assert row["start_time_utc"] == "2024-02-29T20:30:00Z"  # leap day
    assert row["end_time_utc"] == "2024-03-01T00:00:00Z"


def test_utc_twins_match_real_timezone_arithmetic() -> None:
    for clock in ("00:00:00", "05:29:59", "05:30:00", "12:20:00", "23:59:59"):
        row = normalize_cdr({"CallDate": "2024-12-06", "StartTime": clock})
        expected = dt.datetime.fromisoformat(row["start_time"]).astimezone(dt.UTC)
        assert row["start_time_utc"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("empty", ["", "None", None])
def test_empty_values_become_null_in_every_field(empty: object) -> None:
    record = {key: empty for key in sample_cdr()}
    record["SomeNewField"] = empty
    row = normalize_cdr(record)
    assert set(row) == set(EXPECTED_CDR) | {"some_new_field"}
    assert all(value is None for value in row.values()), row


def test_null_start_and_end_give_null_utc_twins() -> None:
    row = normalize_cdr(sample_cdr(StartTime="", EndTime="None"))
    assert row["start_time"] is None and row["start_time_utc"] is None
    assert row["end_time"] is None and row["end_time_utc"] is None
    assert row["pickup_time"] == "2024-12-06T12:20:01+05:30"  # no start: no next-day rule


def test_unknown_fields_are_kept_and_snake_cased() -> None:
    nested = {"Legs": [1, 2]}
    row = normalize_cdr(
        sample_cdr(SomeNewField="x", XYZCode=5, HoldCount=0.5, AgentSkills=nested, **{"Some Field": "y"})
    )
    assert row["some_new_field"] == "x"
    assert row["xyz_code"] == 5
    assert row["hold_count"] == 0.5
    assert row["agent_skills"] is nested  # value unchanged
    assert row["some_field"] == "y"
    assert len(row) == len(EXPECTED_CDR) + 5


def test_known_fields_are_recognized_whatever_their_casing() -> None:
    row = normalize_cdr({"CallId": 31733467784618213, "Ucid": 7, "MONITORUCID": 8, "callDate": "2024-12-06"})
    assert row == {
        "call_id": "31733467784618213",
        "ucid": "7",
        "monitor_ucid": "8",
        "call_date": "2024-12-06",
    }


def test_unknown_field_never_overwrites_a_derived_column() -> None:
    row = normalize_cdr(sample_cdr(StartTimeUTC="2024-12-06 06:50:00", DurationSeconds=56))
    assert row["start_time_utc"] == "2024-12-06T06:50:00Z"
    assert row["start_time_utc_vendor"] == "2024-12-06 06:50:00"
    assert row["duration_seconds"] == 56
    assert row["duration_seconds_vendor"] == 56


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CallID", "call_id"),
        ("UCID", "ucid"),
        ("monitorUCID", "monitor_ucid"),
        ("MonitorUCID", "monitor_ucid"),
        ("DID", "did"),
        ("Did", "did"),
        ("E164", "e164"),
        ("AgentID", "agent_id"),
        ("UUI", "uui"),
        ("WrapUpStartTime", "wrap_up_start_time"),
        ("WrapupDuration", "wrapup_duration"),
        ("CallerConfAudioFile", "caller_conf_audio_file"),
        ("DynamicDID", "dynamic_did"),
        ("DataUniqueId", "data_unique_id"),
        ("SomeNewField", "some_new_field"),
        ("XYZCode", "xyz_code"),
        ("HTTPResponseCode", "http_response_code"),
        ("ABC123Def", "abc123_def"),
        ("Some Field-Name", "some_field_name"),
        ("already_snake", "already_snake"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("00:00:00", 0),
        ("00:00:56", 56),
        ("01:02:03", 3723),
        ("23:59:59", 86399),
        ("25:00:00", 90000),
        ("123:00:01", 442801),
        ("0:00:05", 5),
    ],
)
def test_durations(value: str, seconds: int) -> None:
    assert normalize_cdr({"TalkTime": value}) == {"talk_time_seconds": seconds}


@pytest.mark.parametrize(
    "value", ["1:2", "00:60:00", "00:00:60", "aa:bb:cc", "00:00:5", "-1:00:00", "00:00:00.5", " 00:00:01", 56]
)
def test_malformed_duration_names_the_field_and_the_value(value: object) -> None:
    with pytest.raises(ValueError, match="HoldDuration") as excinfo:
        normalize_cdr(sample_cdr(HoldDuration=value))
    assert repr(value) in str(excinfo.value)


@pytest.mark.parametrize("value", ["24:00:00", "12:60:00", "1:20:00", "12-20-00", "noon", 1220])
def test_malformed_time_names_the_field_and_the_value(value: object) -> None:
    with pytest.raises(ValueError, match="PickupTime") as excinfo:
        normalize_cdr(sample_cdr(PickupTime=value))
    assert repr(value) in str(excinfo.value)


@pytest.mark.parametrize("value", ["2024-13-01", "06-12-2024", "20241206", "2024-12-06 00:00:00"])
def test_malformed_call_date(value: str) -> None:
    with pytest.raises(ValueError, match="CallDate"):
        normalize_cdr(sample_cdr(CallDate=value))


def test_time_of_day_without_call_date() -> None:
    with pytest.raises(ValueError, match=r"StartTime.*CallDate"):
        normalize_cdr({"StartTime": "12:20:00"})


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (4.5, 4.5), ("3", 3), ("4.5", 4.5)])
def test_rating_stays_a_number(value: object, expected: object) -> None:
    row = normalize_cdr(sample_cdr(Rating=value))
    assert row["rating"] == expected
    assert type(row["rating"]) is type(expected)


def test_malformed_rating() -> None:
    with pytest.raises(ValueError, match="Rating"):
        normalize_cdr(sample_cdr(Rating="five"))


def test_api_key_in_a_cdr_record_is_redacted_too() -> None:
    row = normalize_cdr(sample_cdr(ApiKey="secret-key"))
    assert row["api_key"] is None
    assert "secret-key" not in json.dumps(row)


# ---------------------------------------------------------------- CallBacks


def test_callback_sample_normalizes_exactly() -> None:
    before = copy.deepcopy(SAMPLE_CALLBACK)
    row = normalize_callback(SAMPLE_CALLBACK)
    assert row == EXPECTED_CALLBACK
    assert before == SAMPLE_CALLBACK


def test_callback_api_key_is_redacted() -> None:
    row = normalize_callback(SAMPLE_CALLBACK)
    assert "api_key" in row
    assert row["api_key"] is None
    assert SAMPLE_CALLBACK["Apikey"] not in json.dumps(row)
    assert normalize_callback({"UCID": 1})["api_key"] is None  # the column is always there


def test_callback_keeps_a_call_date_it_is_given() -> None:
    row = normalize_callback({"CallDate": "2021-02-09", "StartTime": "2021-02-09 23:59:00"})
    assert row["call_date"] == "2021-02-09"
    assert row["start_time_utc"] == "2021-02-09T18:29:00Z"


def test_callback_across_midnight() -> None:
    row = normalize_callback({"StartTime": "2021-02-09 23:58:00", "EndTime": "2021-02-10 00:03:00"})
    assert row["call_date"] == "2021-02-09"
    assert row["end_time"] == "2021-02-10T00:03:00+05:30"
    assert row["end_time_utc"] == "2021-02-09T18:33:00Z"


def test_callback_malformed_start_time() -> None:
    with pytest.raises(ValueError, match="StartTime"):
        normalize_callback({"StartTime": "2021-02-09 25:00:00"})


# ---------------------------------------------------------------- schema and columns


def _sample_rows() -> list[dict]:
    return [
        normalize_cdr(sample_cdr()),
        normalize_cdr(sample_cdr(StartTime="23:58:00", EndTime="00:03:00", SomeNewField={"a": 1})),
        normalize_cdr({key: None for key in sample_cdr()}),
        normalize_callback(SAMPLE_CALLBACK),
        normalize_callback(dict(SAMPLE_CALLBACK, ConferenceData=[{"leg": 1}])),
    ]


def test_every_sample_row_validates_against_the_schema(validator: jsonschema.Draft202012Validator) -> None:
    for row in _sample_rows():
        validator.validate(row)


def test_schema_rejects_wrong_types(validator: jsonschema.Draft202012Validator) -> None:
    row = normalize_cdr(sample_cdr())
    for column, bad in [
        ("ucid", 31733467784618299),
        ("duration_seconds", "00:00:56"),
        ("start_time", "12:20:00"),
        ("start_time", "2024-12-06T12:20:00"),
        ("start_time_utc", "2024-12-06T06:50:00+05:30"),
        ("rating", "0"),
        ("api_key", "KK7xxxx"),
    ]:
        assert not validator.is_valid(dict(row, **{column: bad})), column


def test_schema_documents_every_column() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is True
    assert tuple(schema["properties"]) == CSV_COLUMNS
    for column, spec in schema["properties"].items():
        assert spec.get("description"), column
    assert "redacted by the provider" in schema["properties"]["api_key"]["description"]
    assert "'Z'" in schema["properties"]["start_time_utc"]["description"]


def test_schema_path_is_inside_the_package() -> None:
    import airflow_provider_ozonetel

    assert SCHEMA_PATH.parent == pathlib.Path(airflow_provider_ozonetel.__file__).parent
    assert SCHEMA_PATH.name == "cdr_record.schema.json"
    assert SCHEMA_PATH.is_file()
    assert load_schema() is not load_schema()


def test_csv_columns_cover_every_normalized_sample_key() -> None:
    assert len(set(CSV_COLUMNS)) == len(CSV_COLUMNS)
    assert set(normalize_cdr(sample_cdr())) <= set(CSV_COLUMNS)
    assert set(normalize_callback(SAMPLE_CALLBACK)) <= set(CSV_COLUMNS)
    assert CSV_COLUMNS[:4] == ("call_id", "ucid", "monitor_ucid", "call_date")


def test_records_module_imports_no_airflow() -> None:
    code = (
        "import sys, airflow_provider_ozonetel.records\n"
        "bad = [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=pathlib.Path(__file__).parents[2])
