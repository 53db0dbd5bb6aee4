"""Apache Airflow provider for Ozonetel CloudAgent call detail records."""

from __future__ import annotations

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""
    from airflow_provider_ozonetel._provider_info import PROVIDER_INFO

    return PROVIDER_INFO
