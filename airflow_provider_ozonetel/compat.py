"""What ``airflow.providers.common.compat`` does not cover: one place for version-dependent names.

Everything else version-dependent comes from ``airflow.providers.common.compat.sdk``, as in
Airflow's own providers. Nothing outside this module checks Airflow's version.
"""

from __future__ import annotations

import contextlib
from typing import Any


def in_task_context() -> bool:
    """True while an Airflow task runs (its ``execute``, also under ``dag.test()``), where the
    task can read and write Variables: the token and the rate budget are shared there.

    Decided by Airflow's public API, not by a private attribute: a running task has a current
    context, and ``get_current_context()`` (common.compat's: ``airflow.sdk``'s on 3.x, the
    standard provider's on 2.x) raises ``RuntimeError`` anywhere else (the API server's Test
    button, scripts, the DAG processor). Task callbacks (``on_failure_callback``...) run after
    the context is gone, so a hook used there shares nothing. If Airflow renamed the function,
    the import fails here, loudly, in every task: never a silent fall back to a token per
    process (tests/integration/test_task_context.py runs it in real tasks).
    """
    from airflow.providers.common.compat.sdk import get_current_context

    try:
        get_current_context()
    except RuntimeError:
        return False
    return True


def get_variable(key: str) -> Any:
    """The Variable's value, or None when it does not exist."""
    from airflow.providers.common.compat.sdk import Variable

    return Variable.get(key, default=None)


def forget_cached_variable(key: str) -> None:
    """Drop ``key`` from Airflow's secrets cache (``[secrets] use_cache``), so the next read asks
    the metadata store: values that tasks coordinate through must never be read stale."""
    for module in ("airflow.sdk.execution_time.cache", "airflow.secrets.cache"):
        try:
            cache = __import__(module, fromlist=["SecretCache"]).SecretCache
        except (ImportError, AttributeError):
            continue
        with contextlib.suppress(Exception):  # an uninitialized cache holds nothing to forget
            cache.invalidate_variable(key)
        return


def set_variable(key: str, value: str, description: str | None = None) -> None:
    """Create or replace a Variable."""
    from airflow.providers.common.compat.sdk import Variable

    Variable.set(key, value, description=description)


def mask_secret(secret: str) -> None:
    """Register a secret with Airflow's masker (task logs, rendered fields, XCom)."""
    from airflow.providers.common.compat.sdk import mask_secret as airflow_mask_secret

    airflow_mask_secret(secret)


def task_stopping_exceptions() -> tuple[type[BaseException], ...]:
    """Exceptions that end a task (timeout, deferral, termination): never swallow them to go on.

    On Airflow 3 they derive from ``BaseException``; on 2.x timeout and termination are ordinary
    ``AirflowException``s, which an ``except Exception`` would catch.
    """
    from airflow.providers.common.compat.sdk import AirflowTaskTimeout, TaskDeferred

    found: list[type[BaseException]] = [AirflowTaskTimeout, TaskDeferred]
    for module in ("airflow.sdk.exceptions", "airflow.exceptions"):
        with contextlib.suppress(ImportError, AttributeError):
            found.append(__import__(module, fromlist=["AirflowTaskTerminated"]).AirflowTaskTerminated)
            break
    return tuple(found)
