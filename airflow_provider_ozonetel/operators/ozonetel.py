"""The provider's operators (one module each); this module is their public import path."""

from __future__ import annotations

from airflow_provider_ozonetel.operators.base import resolve_cdr_date
from airflow_provider_ozonetel.operators.call_details import OzonetelCallDetailsOperator, parse_ucids
from airflow_provider_ozonetel.operators.catchup import OzonetelCDRCatchUpOperator
from airflow_provider_ozonetel.operators.cdr_details import OzonetelCDRDetailsOperator

__all__ = [
    "OzonetelCDRCatchUpOperator",
    "OzonetelCDRDetailsOperator",
    "OzonetelCallDetailsOperator",
    "parse_ucids",
    "resolve_cdr_date",
]
