"""Run DAGs with dag.test() in this process and read back what a user would see."""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]


@dataclass
class RunResult:
    state: str
    states: dict[str, str]  # task_id[map_index] -> state
    xcoms: dict[str, Any]  # task_id[map_index] -> return value
    tries: dict[str, int]
    rendered: dict[str, Any]  # task_id[map_index] -> rendered template fields, as stored


def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(ROOT / "example_dags")), DagBag(str(ROOT / "tests" / "dags"))


def run_dag(dag_id: str, *, logical_date=None, conf: dict | None = None) -> RunResult:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    for bag in dag_bag():
        if dag_id in bag.dags:
            dag = bag.dags[dag_id]
            break
    else:
        raise KeyError(dag_id)
    run = dag.test(logical_date=logical_date, run_conf=conf or {})
    states, xcoms, tries, rendered = {}, {}, {}, {}
    with create_session() as session:
        for ti in run.get_task_instances(session=session):
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            states[key] = str(ti.state)
            tries[key] = ti.try_number
            stored = session.get(RTIF, (dag_id, ti.task_id, run.run_id, ti.map_index))
            if stored is not None:
                rendered[key] = stored.rendered_fields
            query = XComModel.get_many(
                run_id=run.run_id,
                dag_ids=dag_id,
                task_ids=ti.task_id,
                map_indexes=ti.map_index,
                key="return_value",
            )
            rows = session.scalars(query).all()
            if rows:
                value = rows[0].value
                xcoms[key] = json.loads(value) if isinstance(value, str | bytes) else value
    return RunResult(state=str(run.state), states=states, xcoms=xcoms, tries=tries, rendered=rendered)
