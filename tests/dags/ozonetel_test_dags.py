"""DAGs the integration tests run with dag.test(): UCIDs from an upstream task, and mapped lookups."""

from __future__ import annotations

import datetime as dt

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_ozonetel.operators.ozonetel import OzonetelCallDetailsOperator

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

with DAG(dag_id="ozonetel_test_xcom_ucids", schedule=None, start_date=START, catchup=False) as xcom_dag:

    @task
    def ucids_from_upstream(**context) -> list[str]:
        return list(context["params"]["ucids"])

    OzonetelCallDetailsOperator(
        task_id="look_up",
        ucids=ucids_from_upstream(),
        report_type="{{ params.report_type }}",
        destination="{{ params.destination }}",
    )

with DAG(dag_id="ozonetel_test_mapped_ucids", schedule=None, start_date=START, catchup=False) as mapped_dag:

    @task
    def ucids_to_map(**context) -> list[str]:
        return list(context["params"]["ucids"])

    OzonetelCallDetailsOperator.partial(
        task_id="look_up_one",
        report_type="{{ params.report_type }}",
        destination=None,
    ).expand(ucids=ucids_to_map())


def _note_store_in_callback(context) -> None:
    """A success callback: records where a hook there would keep its token (params.note)."""
    import json
    import pathlib

    from airflow_provider_ozonetel import compat
    from airflow_provider_ozonetel.hooks.variable_store import default_store

    note = {"in_task_context": compat.in_task_context(), "store": default_store().name}
    pathlib.Path(context["params"]["note"]).write_text(json.dumps(note))


with DAG(
    dag_id="ozonetel_test_task_context",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"note": "/dev/null"},
) as context_dag:

    @task(on_success_callback=_note_store_in_callback)
    def where_the_hook_shares() -> dict:
        """What the provider decides inside a real task: in a task, so Variables."""
        from airflow_provider_ozonetel import compat
        from airflow_provider_ozonetel.hooks.variable_store import default_store

        return {"in_task_context": compat.in_task_context(), "store": default_store().name}

    where_the_hook_shares()
