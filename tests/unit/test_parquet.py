"""file_format="parquet": the Arrow schema, the values written, row groups, atomicity, refusals."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest

from airflow_provider_ozonetel.columns import Kind, parquet_columns, row_columns
from airflow_provider_ozonetel.exceptions import OzonetelMissingDependencyError, OzonetelRateLimitError
from airflow_provider_ozonetel.operators.ozonetel import (
    OzonetelCallDetailsOperator,
    OzonetelCDRDetailsOperator,
)
from airflow_provider_ozonetel.records import CSV_COLUMNS, normalize_cdr
from tests.answers import BIG_CALL_ID, BIG_UCID, CALLBACKS_URL, CDR_URL, callback_record, cdr_body, cdr_record
from tests.unit.test_operators import cdr_op, context, files_in

pa = pytest.importorskip("pyarrow", reason="pyarrow (the [parquet] extra) is in the test extras")
pq = pytest.importorskip("pyarrow.parquet")

from airflow_provider_ozonetel import parquet  # noqa: E402  (needs pyarrow)

UTC = dt.UTC
PATH = "ozonetel_cdr_2026-11-19.parquet"


def test_the_arrow_schema_follows_the_published_row_schema():
    schema = parquet.arrow_schema()
    assert schema.names == [column.name for column in parquet_columns()]
    parquet_only = {"pickup_time_utc", "wrap_up_start_time_utc", "wrap_up_end_time_utc"}
    assert [name for name in schema.names if name not in parquet_only] == [*CSV_COLUMNS, "extra_fields"]
    types = {field.name: str(field.type) for field in schema}
    assert types["call_id"] == types["ucid"] == types["monitor_ucid"] == "string"
    assert types["call_date"] == "date32[day]"
    assert types["rating"] == "double"
    assert types["extra_fields"] == "string"
    seconds = [name for name in schema.names if name.endswith("_seconds")]
    assert len(seconds) == 10 and {types[name] for name in seconds} == {"int64"}
    for name in ("start_time", "end_time", "pickup_time", "wrap_up_start_time", "wrap_up_end_time"):
        assert types[name] == "string"  # the IST wall-clock string of the jsonl rows
        assert types[f"{name}_utc"] == "timestamp[us, tz=UTC]"  # its instant
        assert schema.names.index(f"{name}_utc") == schema.names.index(name) + 1
    assert "Vendor field CallID" in schema.field("call_id").metadata[b"description"].decode()
    assert schema.metadata[b"schema"] == b"urn:airflow-provider-ozonetel:cdr-record"


def test_day_to_parquet_typed_values(tmp_path, fake_clock, vendor):
    conference = {"members": [{"phone": "504995", "seconds": 12}]}
    records = [
        cdr_record(0),
        cdr_record(1, EndTime="00:10:05", PickupTime="", Rating="4.5"),  # across midnight
        cdr_record(2, BrandNewField="x", ConferenceData=conference, AgentID=1234),
    ]
    vendor.get(CDR_URL, text=cdr_body(records))
    result = cdr_op(tmp_path, fake_clock, file_format="parquet").execute(context())

    assert result["format"] == "parquet" and result["path"].endswith(PATH)
    assert (result["rows"], result["calls"]) == (3, 2)
    table = pq.read_table(tmp_path / "out" / PATH)
    assert table.schema.equals(parquet.arrow_schema(), check_metadata=False)
    first, second, third = table.to_pylist()
    assert (first["ucid"], first["call_id"]) == (str(BIG_UCID), str(BIG_CALL_ID))
    assert first["call_date"] == dt.date(2026, 11, 19)
    assert first["start_time"] == "2026-11-19T12:20:00+05:30"
    assert first["start_time_utc"] == dt.datetime(2026, 11, 19, 6, 50, 0, tzinfo=UTC)
    assert first["pickup_time_utc"] == dt.datetime(2026, 11, 19, 6, 50, 1, tzinfo=UTC)
    assert first["wrap_up_end_time_utc"] == dt.datetime(2026, 11, 19, 6, 50, 59, tzinfo=UTC)
    assert (first["duration_seconds"], first["talk_time_seconds"], first["rating"]) == (56, 56, 0.0)
    assert first["extra_fields"] is None and first["api_key"] is None
    assert second["end_time"] == "2026-11-20T00:10:05+05:30"
    assert second["end_time_utc"] == dt.datetime(2026, 11, 19, 18, 40, 5, tzinfo=UTC)
    assert second["pickup_time"] is None and second["pickup_time_utc"] is None
    assert second["rating"] == 4.5
    assert json.loads(third["extra_fields"]) == {"brand_new_field": "x"}
    assert json.loads(third["conference_data"]) == conference
    assert third["agent_id"] == "1234"


def test_rows_are_written_in_row_groups(tmp_path):
    rows = [normalize_cdr(cdr_record(i)) for i in range(10)]
    with (tmp_path / "x.parquet").open("wb") as stream:
        writer = parquet.ParquetRowWriter(stream, row_group_rows=4)
        for row in rows:
            writer.write(row)
        writer.finish()
    file = pq.ParquetFile(tmp_path / "x.parquet")
    assert [file.metadata.row_group(i).num_rows for i in range(file.metadata.num_row_groups)] == [4, 4, 2]
    assert file.metadata.row_group(0).column(0).compression == "ZSTD"
    assert file.read().column("ucid").to_pylist() == [row["ucid"] for row in rows]


def test_only_columns_whose_values_repeat_get_a_dictionary(tmp_path):
    # Ids, phone numbers, recordings and times nearly all differ: a dictionary would only cost
    # memory and bytes before Parquet gives it up; agents, campaigns, durations repeat.
    names = {column.name for column in parquet_columns()}
    assert names >= parquet.UNIQUE_COLUMNS
    with (tmp_path / "x.parquet").open("wb") as stream:
        writer = parquet.ParquetRowWriter(stream)
        for i in range(10):
            writer.write(normalize_cdr(cdr_record(i)))
        writer.finish()
    group = pq.ParquetFile(tmp_path / "x.parquet").metadata.row_group(0)
    dictionary = {
        group.column(i).path_in_schema: group.column(i).has_dictionary_page for i in range(group.num_columns)
    }
    assert not any(dictionary[name] for name in ("ucid", "call_id", "caller_id", "call_audio"))
    assert not any(dictionary[name] for name in ("start_time", "start_time_utc", "end_time_utc"))
    assert all(dictionary[name] for name in ("agent_name", "campaign_name", "disposition", "call_date"))


@pytest.mark.parametrize(
    ("preset", "expected"),
    [(None, parquet.ALLOCATOR), ("mimalloc", "mimalloc")],
    ids=["the-writer's-choice", "the-user's-choice-kept"],
)
def test_the_writer_chooses_arrows_allocator_unless_told_otherwise(preset, expected):
    # pyarrow reads ARROW_DEFAULT_MEMORY_POOL once, as it loads: a fresh process shows the choice.
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if preset:
        env["ARROW_DEFAULT_MEMORY_POOL"] = preset
    code = (
        "import os\n"
        "import airflow_provider_ozonetel.parquet\n"
        "import pyarrow as pa\n"
        "print(pa.default_memory_pool().backend_name, os.environ.get('ARROW_DEFAULT_MEMORY_POOL'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == [expected, str(preset)]  # and the environment left as it was


def test_an_empty_day_is_a_valid_empty_file(tmp_path, fake_clock, vendor):
    vendor.get(CDR_URL, text=cdr_body([]))
    cdr_op(tmp_path, fake_clock, file_format="parquet").execute(context())
    table = pq.read_table(tmp_path / "out" / PATH)
    assert table.num_rows == 0 and table.schema.names == parquet.arrow_schema().names


def test_a_value_of_the_wrong_type_fails_naming_the_column_and_leaves_no_file(tmp_path):
    from airflow_provider_ozonetel.sink import AtomicRowSink

    row = normalize_cdr(cdr_record(0))
    row["duration_seconds"] = "56s"
    destination = _path(tmp_path / "out" / PATH)
    sink = AtomicRowSink(destination, file_format="parquet")
    with pytest.raises(ValueError, match=r"duration_seconds: cannot write '56s' as int64"), sink:
        sink.write(row)
    assert files_in(tmp_path / "out") == []


def test_an_exact_decimal_rating_is_a_double_and_one_beyond_a_double_is_refused(tmp_path):
    """The rows keep the vendor's fractions as exact Decimals; the Parquet column is float64."""
    from decimal import Decimal

    from airflow_provider_ozonetel.sink import AtomicRowSink

    row = normalize_cdr({**cdr_record(0), "Rating": Decimal("4.25")})
    assert row["rating"] == Decimal("4.25")
    destination = _path(tmp_path / "ok" / PATH)
    with AtomicRowSink(destination, file_format="parquet") as sink:
        sink.write(row)
    assert pq.read_table(tmp_path / "ok" / PATH).column("rating").to_pylist() == [4.25]

    row["rating"] = Decimal("4.5E+400")  # never written as infinity
    sink = AtomicRowSink(_path(tmp_path / "out" / PATH), file_format="parquet")
    with pytest.raises(ValueError, match=r"rating: cannot write Decimal\('4.5E\+400'\) as double"), sink:
        sink.write(row)
    assert files_in(tmp_path / "out") == []


def test_a_failure_at_the_end_of_the_answer_leaves_no_parquet_file(tmp_path, fake_clock, vendor):
    body = cdr_body(
        [cdr_record(i) for i in range(100)], status="error", message="API rate limit has been exceeded"
    )
    vendor.get(CDR_URL, text=body)
    with pytest.raises(OzonetelRateLimitError):
        cdr_op(tmp_path, fake_clock, file_format="parquet").execute(context())
    assert files_in(tmp_path / "out") == []


def test_call_lookup_to_parquet(tmp_path, fake_clock, vendor):
    vendor.get(CALLBACKS_URL, json={"status": "success", "message": [callback_record()]})
    op = OzonetelCallDetailsOperator(
        task_id="lookup",
        ucids=[BIG_UCID],
        call_date="2026-11-19",
        destination=f"file://{tmp_path}/",
        file_format="parquet",
        hook_params={"clock": fake_clock.as_clock()},
    )
    result = op.execute(context())
    (row,) = pq.read_table(result["path"].removeprefix("file://")).to_pylist()
    assert row["monitor_ucid"] == str(BIG_UCID) and row["api_key"] is None
    assert row["start_time_utc"] == dt.datetime(2026, 11, 19, 5, 3, 53, tzinfo=UTC)
    assert row["call_duration_seconds"] == 297


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"compression": "gzip"}, "compression: 'gzip' does not apply to parquet"),
        ({"normalize": False}, "'parquet' writes the typed row schema and needs normalize=True"),
    ],
)
def test_parquet_refuses_what_it_cannot_do_at_parse_time(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OzonetelCDRDetailsOperator(task_id="pull", file_format="parquet", destination="/tmp/x/", **kwargs)


def test_without_pyarrow_the_error_names_the_extra_before_any_request(
    tmp_path, fake_clock, vendor, monkeypatch
):
    cdr = vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # what `import pyarrow` sees when it is absent
    monkeypatch.delitem(sys.modules, "pyarrow.parquet", raising=False)
    monkeypatch.delitem(sys.modules, "airflow_provider_ozonetel.parquet", raising=False)
    with pytest.raises(OzonetelMissingDependencyError) as caught:
        cdr_op(tmp_path, fake_clock, file_format="parquet").execute(context())
    assert "pip install 'airflow-provider-ozonetel[parquet]'" in str(caught.value)
    assert "file_format='parquet' needs pyarrow" in str(caught.value)
    assert not cdr.called
    assert files_in(tmp_path / "out") == []


def test_jsonl_and_csv_never_import_pyarrow(tmp_path, fake_clock, vendor, monkeypatch):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.delitem(sys.modules, "airflow_provider_ozonetel.parquet", raising=False)
    for file_format in ("jsonl", "csv"):
        cdr_op(tmp_path, fake_clock, file_format=file_format).execute(context())
    written = files_in(tmp_path / "out")
    assert "ozonetel_cdr_2026-11-19.csv" in written and "ozonetel_cdr_2026-11-19.jsonl" in written


def test_the_row_columns_cover_every_kind():
    assert {column.kind for column in row_columns()} == set(Kind)


def _path(local):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    return ObjectStoragePath(f"file://{local}")


@pytest.fixture
def vendor(requests_mock, hook):
    from tests.answers import TOKEN, TOKEN_URL

    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    return requests_mock
