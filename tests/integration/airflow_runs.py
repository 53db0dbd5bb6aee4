"""Run DAGs with dag.test() in this process and read back what a user would see."""

from __future__ import annotations

import json
import os
import pathlib
from dataclasses import dataclass
from typing import Any

from airflow_provider_ozonetel import compat

ROOT = pathlib.Path(__file__).resolve().parents[2]


@dataclass
class RunResult:
    state: str
    states: dict[str, str]  # task_id[map_index] -> state
    xcoms: dict[str, Any]  # task_id[map_index] -> return value
    tries: dict[str, int]
    rendered: dict[str, Any]  # task_id[map_index] -> rendered template fields, as stored


def dag_bag():
    return compat.dag_bag(str(ROOT / "example_dags")), compat.dag_bag(str(ROOT / "tests" / "dags"))


def run_dag(dag_id: str, *, logical_date=None, conf: dict | None = None) -> RunResult:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.utils.session import create_session

    for bag in dag_bag():
        if dag_id in bag.dags:
            dag = bag.dags[dag_id]
            break
    else:
        raise KeyError(dag_id)
    run = compat.dag_test(dag, logical_date=logical_date, conf=conf)
    states, xcoms, tries, rendered = {}, {}, {}, {}
    with create_session() as session:
        for ti in run.get_task_instances(session=session):
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            states[key] = str(ti.state)
            tries[key] = ti.try_number
            stored = session.get(RTIF, (dag_id, ti.task_id, run.run_id, ti.map_index))
            if stored is not None:
                rendered[key] = stored.rendered_fields
            values = compat.xcom_values(
                session, dag_id=dag_id, run_id=run.run_id, task_id=ti.task_id, map_index=ti.map_index
            )
            if values:
                value = values[0]
                xcoms[key] = json.loads(value) if isinstance(value, str | bytes) else value
    return RunResult(state=str(run.state), states=states, xcoms=xcoms, tries=tries, rendered=rendered)


def keep_for_matrix(dag_id: str, files: dict[str, bytes]) -> None:
    """Under ``make test-matrix`` (OZONETEL_MATRIX_OUTPUTS set), keep what an example DAG wrote,
    by stable names: the matrix checks every Airflow version wrote the same bytes."""
    if not os.environ.get("OZONETEL_MATRIX_OUTPUTS"):
        return
    folder = pathlib.Path(os.environ["OZONETEL_MATRIX_OUTPUTS"]) / dag_id
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
