"""Where tasks share the token and the rate budget: Airflow Variables inside a task.

Every worker of a deployment reads and writes the same Variables (through the Task SDK on
Airflow 3, the metadata database on 2.x), so they are the one place tasks on different machines
can meet. Outside a task (scripts, the API server's Test button) there is no such place: values
live in the process (``MemoryStore``), exact for every hook of that process only.
"""

from __future__ import annotations

from airflow_provider_ozonetel import compat
from airflow_provider_ozonetel.shared_state import MemoryStore, SharedStore


class VariableStore:
    """Values in Airflow Variables. Writes are last-writer-wins, so claims on them are verified
    (``shared_state.claim_and_verify``)."""

    name = "Airflow Variables"
    atomic = False

    def read(self, key: str) -> str | None:
        # A claim must see other workers' writes: never a cached value.
        compat.forget_cached_variable(key)
        value = compat.get_variable(key)
        return None if value is None else str(value)

    def write(self, key: str, value: str, description: str | None = None) -> None:
        compat.set_variable(key, value, description=description)


def default_store() -> SharedStore:
    """Variables inside a task, the process outside one."""
    return VariableStore() if compat.in_task_context() else MemoryStore()
