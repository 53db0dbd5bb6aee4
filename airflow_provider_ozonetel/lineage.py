"""OpenLineage for the operators: the vendor API as the input dataset, the files written as outputs.

The OpenLineage provider (``apache-airflow-providers-openlineage``) is optional. It is imported only
when Airflow's OpenLineage listener asks an operator for its lineage, as official providers do, and
:func:`operator_lineage` returns None when it is not installed. Nothing here imports Airflow at
module level.

Naming, kept stable (lineage graphs join datasets by these names; see the README):

* **input**, the vendor API (the OpenLineage naming spec has no convention for an HTTP API):
  namespace = the connection's base URL, scheme and host (with its port, if any):
  ``https://in1-ccaas-api.ozonetel.com``, the emulator's ``http://127.0.0.1:8765``; name = the
  API's path (after any path the base URL has), then ``/`` and the CloudAgent user name (the
  account): ``ca_reports/fetchCDRDetails/<user>``, ``CAServices/CDR/callBacks.php/<user>``. One
  account's API is one dataset whatever the day, window or filters; the API key and tokens are
  never part of a name or facet.
* **output**, each file written, named as ``FileTransferOperator`` (``providers/common/io``) names
  an ``ObjectStoragePath``: namespace = ``path.namespace`` (``s3://bucket``, ``gs://bucket``,
  ``file``), name = ``path.key`` (``ozonetel/cdr/ozonetel_cdr_2026-11-19.parquet``). A local path
  given without a scheme has an empty namespace, which OpenLineage does not allow: it is ``file``
  here, as for ``file://`` URLs.

A typed-row output carries a schema facet (its columns in file order, each one's type in that
file format and its description from ``cdr_record.schema.json``; none with ``normalize=False``,
whose fields are the vendor's) and output statistics (rows, bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_ozonetel.columns import Kind, file_columns

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

__all__ = ["API_TITLES", "Lineage", "api_dataset", "file_dataset", "operator_lineage", "schema_fields"]

#: What each API is, for the input dataset's documentation facet.
API_TITLES = {
    "fetchCDRDetails": "Ozonetel CloudAgent Fetch CDR Details API",
    "CallBacks": "Ozonetel CloudAgent CDR in CallBacks API",
}

#: Column types in a Parquet file's schema facet: its Arrow types as pyarrow prints them (a test
#: checks them against ``parquet.arrow_schema()``; this module does not import pyarrow).
PARQUET_TYPES = {
    Kind.STRING: "string",
    Kind.INTEGER: "int64",
    Kind.NUMBER: "double",
    Kind.DATE: "date32[day]",
    Kind.TIME_IST: "string",
    Kind.TIME_UTC: "timestamp[us, tz=UTC]",
    Kind.JSON: "string",
}
#: In a jsonl or csv file, the JSON Schema type of each column's values (a csv cell is text that
#: holds one).
TEXT_TYPES = {
    Kind.STRING: "string",
    Kind.INTEGER: "integer",
    Kind.NUMBER: "number",
    Kind.DATE: "date",
    Kind.TIME_IST: "date-time",
    Kind.TIME_UTC: "date-time",
    Kind.JSON: "object",
}


def api_dataset(base_url: str, api_path: str, user_name: str) -> tuple[str, str]:
    """(namespace, name) of one account's API: ``scheme://host[:port]``, ``<path>/<user name>``."""
    parts = urlsplit(base_url)
    path = "/".join(part for part in (parts.path.strip("/"), api_path.strip("/")) if part)
    return f"{parts.scheme}://{parts.netloc}", f"{path}/{user_name}"


def file_dataset(path: Any) -> tuple[str, str]:
    """(namespace, name) of an ``ObjectStoragePath``, as ``FileTransferOperator`` names it."""
    namespace = getattr(path, "namespace", None)
    if namespace is None:  # an ObjectStoragePath older than Airflow 2.9, as FileTransferOperator does
        bucket = getattr(path, "bucket", "")
        namespace = f"{path.protocol}://{bucket}" if bucket else path.protocol
    return namespace or "file", path.key.lstrip("/")


def schema_fields(file_format: str) -> list[tuple[str, str, str]]:
    """(name, type, description) of each column of a typed-row file of ``file_format``."""
    types = PARQUET_TYPES if file_format == "parquet" else TEXT_TYPES
    return [(column.name, types[column.kind], column.description) for column in file_columns(file_format)]


@dataclass
class Written:
    """One file a task wrote: where, how many rows and bytes."""

    path: Any  # an ObjectStoragePath
    rows: int
    bytes: int | None = None


@dataclass
class Lineage:
    """What one task read (an account's API) and wrote (files), gathered while it runs."""

    base_url: str
    user_name: str
    api_path: str
    endpoint: str
    file_format: str
    typed: bool
    written: list[Written] = field(default_factory=list)


def operator_lineage(lineage: Lineage) -> OperatorLineage | None:
    """The task's ``OperatorLineage``; None when the OpenLineage provider is not installed."""
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            DocumentationDatasetFacet,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
            SchemaDatasetFacet,
            SchemaDatasetFacetFields,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None

    namespace, name = api_dataset(lineage.base_url, lineage.api_path, lineage.user_name)
    title = API_TITLES.get(lineage.endpoint, "Ozonetel CloudAgent API")
    source = Dataset(
        namespace=namespace,
        name=name,
        facets={
            "documentation": DocumentationDatasetFacet(description=f"{title}, account {lineage.user_name}")
        },
    )
    facets: dict[str, Any] = {}
    if lineage.typed:
        facets["schema"] = SchemaDatasetFacet(
            fields=[
                SchemaDatasetFacetFields(name=column, type=kind, description=description or None)
                for column, kind, description in schema_fields(lineage.file_format)
            ]
        )
    outputs = []
    for written in lineage.written:
        out_namespace, out_name = file_dataset(written.path)
        outputs.append(
            OutputDataset(
                namespace=out_namespace,
                name=out_name,
                facets=dict(facets),
                outputFacets={
                    "outputStatistics": OutputStatisticsOutputDatasetFacet(
                        rowCount=written.rows, size=written.bytes
                    )
                },
            )
        )
    return OperatorLineage(inputs=[source], outputs=outputs)
