"""Inside a task or not: decided by Airflow's public API (a running task has a current context),
checked in real tasks, so a change in Airflow fails here loudly instead of silently giving every
task its own token (each would mint and invalidate the others').

That a day pull in a task really leaves its token, encrypted, in the Variable is asserted by
test_emulator_runs.py (dag.test) and test_deployment.py (separate worker processes).
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_ozonetel import compat
from tests.integration.airflow_runs import run_dag

pytestmark = pytest.mark.integration


def test_what_we_rely_on_is_public_and_raises_outside_a_task():
    from airflow.providers.common.compat.sdk import get_current_context

    with pytest.raises(RuntimeError):
        get_current_context()
    assert compat.in_task_context() is False  # a test, like a script or the API server


def test_a_real_task_is_in_a_task_context_and_shares_through_variables(airflow_db, tmp_path):
    note = tmp_path / "callback.json"
    result = run_dag("ozonetel_test_task_context", conf={"note": str(note)})
    assert result.state == "success", result.states
    assert result.xcoms["where_the_hook_shares"] == {"in_task_context": True, "store": "Airflow Variables"}
    # Its success callback runs after the context is gone (as the README says): a hook there
    # keeps its token in the process.
    assert json.loads(note.read_text()) == {"in_task_context": False, "store": "this process"}
