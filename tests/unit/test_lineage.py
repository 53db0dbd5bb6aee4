"""OpenLineage: what each operator reports after a run (the vendor API in, the files out), read the
way the OpenLineage provider reads it (its DefaultExtractor, through its ExtractorManager), with
the provider installed (test extras) and no transport: nothing leaves the process."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

from airflow_provider_ozonetel.columns import file_columns
from airflow_provider_ozonetel.lineage import api_dataset, file_dataset, schema_fields
from airflow_provider_ozonetel.operators.ozonetel import (
    OzonetelCallDetailsOperator,
    OzonetelCDRCatchUpOperator,
    OzonetelCDRDetailsOperator,
)
from tests.answers import (
    API_KEY,
    BIG_UCID,
    CALLBACKS_URL,
    CDR_URL,
    TOKEN,
    TOKEN_URL,
    USER,
    callback_record,
    cdr_body,
    cdr_record,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

pytest.importorskip(
    "airflow.providers.openlineage",
    reason="apache-airflow-providers-openlineage is in the test extras; install them (make venv)",
)
from airflow.providers.common.compat.openlineage.facet import (
    Dataset,
    DocumentationDatasetFacet,
    OutputDataset,
    OutputStatisticsOutputDatasetFacet,
)

DAY = "2026-11-19"  # the fixtures pin now at 2026-11-20 12:00 IST
CONTEXT = {"run_id": "manual__lineage"}
CDR_INPUT = Dataset(
    namespace="https://ozonetel.test",
    name=f"ca_reports/fetchCDRDetails/{USER}",
    facets={
        "documentation": DocumentationDatasetFacet(
            description=f"Ozonetel CloudAgent Fetch CDR Details API, account {USER}"
        )
    },
)


@pytest.fixture
def vendor(requests_mock, hook):
    requests_mock.post(TOKEN_URL, json={"token": TOKEN, "message": ""})
    return requests_mock


def day_op(tmp_path, fake_clock, **kwargs):
    kwargs.setdefault("destination", f"file://{tmp_path}/out/")
    return OzonetelCDRDetailsOperator(
        task_id="pull", cdr_date=DAY, hook_params={"clock": fake_clock.as_clock()}, **kwargs
    )


def schema_of(dataset) -> list[tuple[str, str]]:
    return [(f.name, f.type) for f in dataset.facets["schema"].fields]


def as_json(lineage: OperatorLineage) -> str:
    from openlineage.client.serde import Serde

    return Serde.to_json({"inputs": lineage.inputs, "outputs": lineage.outputs})


# ---------------------------------------------------------------- naming


@pytest.mark.parametrize(
    ("base_url", "path", "expected"),
    [
        (
            "https://in1-ccaas-api.ozonetel.com",
            "/ca_reports/fetchCDRDetails",
            ("https://in1-ccaas-api.ozonetel.com", "ca_reports/fetchCDRDetails/acme"),
        ),
        (
            "http://127.0.0.1:8765",
            "/CAServices/CDR/callBacks.php",
            ("http://127.0.0.1:8765", "CAServices/CDR/callBacks.php/acme"),
        ),
        # a base URL with a path: it is part of the API's name, not of its namespace
        (
            "https://proxy.example.com/ozonetel",
            "/ca_reports/fetchCDRDetails",
            ("https://proxy.example.com", "ozonetel/ca_reports/fetchCDRDetails/acme"),
        ),
    ],
)
def test_the_api_is_named_by_host_path_and_account(base_url, path, expected):
    assert api_dataset(base_url, path, "acme") == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "s3://bucket/ozonetel/cdr/ozonetel_cdr_2026-11-19.parquet",
            ("s3://bucket", "ozonetel/cdr/ozonetel_cdr_2026-11-19.parquet"),
        ),
        ("gs://bucket/cdr/day.csv", ("gs://bucket", "cdr/day.csv")),
        ("file:///data/cdr/day.jsonl", ("file", "data/cdr/day.jsonl")),
        ("/data/cdr/day.jsonl", ("file", "data/cdr/day.jsonl")),  # no scheme: OpenLineage needs one
    ],
)
def test_files_are_named_as_file_transfer_operator_names_them(url, expected):
    from airflow.providers.common.compat.sdk import ObjectStoragePath
    from airflow.providers.common.io.operators.file_transfer import FileTransferOperator

    path = ObjectStoragePath(url)
    assert file_dataset(path) == expected
    if url.startswith(("s3:", "gs:", "file:")):  # the same names FileTransferOperator reports
        transfer = FileTransferOperator(task_id="copy", src=path, dst=path).get_openlineage_facets_on_start()
        assert (transfer.outputs[0].namespace, transfer.outputs[0].name) == expected


def test_the_parquet_schema_facet_has_the_files_arrow_types():
    pytest.importorskip("pyarrow", reason="pyarrow (the [parquet] extra) is in the test extras")
    from airflow_provider_ozonetel import parquet

    declared = [(name, kind) for name, kind, _ in schema_fields("parquet")]
    assert declared == [(field.name, str(field.type)) for field in parquet.arrow_schema()]


# ---------------------------------------------------------------- the operators


def test_a_day_pull_reports_the_api_in_and_its_file_out(tmp_path, fake_clock, vendor):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(i) for i in range(6)]))
    operator = day_op(tmp_path, fake_clock)
    operator.execute(CONTEXT)

    lineage = operator.get_openlineage_facets_on_complete(None)
    path = tmp_path / "out" / f"ozonetel_cdr_{DAY}.jsonl"
    assert lineage.inputs == [CDR_INPUT]
    [output] = lineage.outputs
    assert (output.namespace, output.name) == ("file", str(path).lstrip("/"))
    assert output.outputFacets == {
        "outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=6, size=path.stat().st_size)
    }
    assert schema_of(output) == [
        (c.name, t) for c, (_, t, _) in zip(file_columns("jsonl"), schema_fields("jsonl"), strict=True)
    ]
    fields = {f.name: f for f in output.facets["schema"].fields}
    assert fields["ucid"].type == "string" and fields["duration_seconds"].type == "integer"
    assert "UCID" in fields["ucid"].description  # from cdr_record.schema.json
    assert API_KEY not in as_json(lineage) and TOKEN not in as_json(lineage)


def test_a_parquet_day_has_its_arrow_types_in_the_schema_facet(tmp_path, fake_clock, vendor):
    pytest.importorskip("pyarrow", reason="pyarrow (the [parquet] extra) is in the test extras")
    vendor.get(CDR_URL, text=cdr_body([cdr_record(i) for i in range(3)]))
    operator = day_op(tmp_path, fake_clock, file_format="parquet")
    operator.execute(CONTEXT)

    [output] = operator.get_openlineage_facets_on_complete(None).outputs
    assert output.name.endswith(f"ozonetel_cdr_{DAY}.parquet")
    types = dict(schema_of(output))
    assert types["start_time_utc"] == "timestamp[us, tz=UTC]" and types["call_date"] == "date32[day]"
    assert types["pickup_time_utc"] == "timestamp[us, tz=UTC]"  # the UTC twins only Parquet has
    assert types["extra_fields"] == "string"


def test_vendor_records_as_sent_have_no_schema_facet(tmp_path, fake_clock, vendor):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    operator = day_op(tmp_path, fake_clock, normalize=False)
    operator.execute(CONTEXT)

    [output] = operator.get_openlineage_facets_on_complete(None).outputs
    assert "schema" not in output.facets


def test_a_failed_pull_names_the_api_and_no_file(tmp_path, fake_clock, vendor):
    vendor.get(CDR_URL, json={"status": "false", "message": "Invalid apiKey"})
    operator = day_op(tmp_path, fake_clock)
    with pytest.raises(Exception, match="Invalid apiKey"):
        operator.execute(CONTEXT)

    lineage = operator.get_openlineage_facets_on_complete(None)
    assert lineage.inputs == [CDR_INPUT] and lineage.outputs == []


def test_a_call_lookup_reports_the_callbacks_api_and_its_file(tmp_path, fake_clock, vendor):
    vendor.get(CALLBACKS_URL, json={"status": "success", "message": [callback_record(BIG_UCID, API_KEY)]})
    operator = OzonetelCallDetailsOperator(
        task_id="look",
        ucids=[BIG_UCID],
        report_type="historical",
        destination=f"file://{tmp_path}/calls/",
        file_format="csv",
        hook_params={"clock": fake_clock.as_clock()},
    )
    result = operator.execute(CONTEXT)

    lineage = operator.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("https://ozonetel.test", f"CAServices/CDR/callBacks.php/{USER}")
    ]
    [output] = lineage.outputs
    assert output.name == result["path"].removeprefix("file:///")
    assert [name for name, _ in schema_of(output)] == [c.name for c in file_columns("csv")]
    assert output.outputFacets["outputStatistics"].rowCount == 1
    assert API_KEY not in as_json(lineage)


def test_a_catch_up_reports_each_day_it_wrote(tmp_path, fake_clock, vendor):
    def answer(request, context):
        day = request.json()["fromDate"][:10]
        return cdr_body([cdr_record(int(day[-2:]) * 10 + i, CallDate=day) for i in range(2)])

    vendor.get(CDR_URL, text=answer)

    def catch_up():
        return OzonetelCDRCatchUpOperator(
            task_id="catch_up",
            destination=f"file://{tmp_path}/cdr/",
            days=2,
            refresh_days=0,
            hook_params={"clock": fake_clock.as_clock()},
        )

    operator = catch_up()
    operator.execute(CONTEXT)
    names = [d.name.rsplit("/", 1)[-1] for d in operator.get_openlineage_facets_on_complete(None).outputs]
    assert names == ["ozonetel_cdr_2026-11-18.jsonl", "ozonetel_cdr_2026-11-19.jsonl"]

    again = catch_up()
    again.execute(CONTEXT)  # both days present and proven: nothing written, nothing reported out
    lineage = again.get_openlineage_facets_on_complete(None)
    assert lineage.outputs == [] and lineage.inputs[0].name == f"ca_reports/fetchCDRDetails/{USER}"


def test_the_listeners_extractor_finds_it_on_the_operator(tmp_path, fake_clock, vendor):
    """What Airflow's OpenLineage listener does after a task: the provider's ExtractorManager picks
    the DefaultExtractor (the operator has the method) and validates what it returns."""
    from airflow.providers.common.compat.sdk import TaskInstanceState
    from airflow.providers.openlineage.extractors.base import DefaultExtractor
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    operator = day_op(tmp_path, fake_clock)
    operator.execute(CONTEXT)

    manager = ExtractorManager()
    assert manager.get_extractor_class(operator) is DefaultExtractor
    lineage = manager.extract_metadata(
        dagrun=SimpleNamespace(run_id="manual__lineage"),
        task=operator,
        task_instance_state=TaskInstanceState.SUCCESS,
        task_instance=None,
    )
    assert lineage.inputs == [CDR_INPUT]
    assert isinstance(lineage.outputs[0], OutputDataset)
    assert lineage.outputs[0].name.endswith(f"ozonetel_cdr_{DAY}.jsonl")


def test_without_the_openlineage_provider_there_is_no_lineage_and_no_error(
    tmp_path, fake_clock, vendor, monkeypatch
):
    vendor.get(CDR_URL, text=cdr_body([cdr_record(0)]))
    operator = day_op(tmp_path, fake_clock)
    operator.execute(CONTEXT)
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)  # import fails

    assert operator.get_openlineage_facets_on_complete(None) is None


def test_a_task_that_never_reached_its_connection_reports_nothing(tmp_path, fake_clock):
    assert day_op(tmp_path, fake_clock).get_openlineage_facets_on_complete(None) is None
