"""What ``airflow.providers.common.compat`` does not cover: one place for version-dependent names.

Everything else version-dependent comes from ``airflow.providers.common.compat.sdk``, as in
Airflow's own providers. Nothing outside this module checks Airflow's version.

Supported: Apache Airflow 2.11 and newer. On 2.x a task talks to the metadata database
directly (Variables through the ORM); on 3.x through the Task SDK (the supervisor's API).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from airflow import __version__ as _airflow_version
from packaging.version import Version

if TYPE_CHECKING:
    import datetime as dt

#: Airflow's (major, minor), e.g. (2, 11) or (3, 3).
AIRFLOW_MINOR: tuple[int, int] = Version(_airflow_version).release[:2]  # type: ignore[assignment]
AIRFLOW_V_3 = AIRFLOW_MINOR >= (3, 0)
#: Airflow 3.0's in-process supervisor (``dag.test()``) logs each task message at DEBUG, body
#: and all, MaskSecret included (see keep_secrets_out_of_debug_logs).
_LOGS_MESSAGE_BODIES = AIRFLOW_MINOR == (3, 0)
#: Before 3.2 ``dag.test()`` does not store the DAG it runs (3.0 then refuses its outlets as
#: inactive assets, 3.1.0 refuses the run).
_DAG_TEST_NEEDS_STORED_DAG = AIRFLOW_V_3 and AIRFLOW_MINOR < (3, 2)


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
    """The Variable's value, or None when it does not exist (3.x: Task SDK; 2.x: metadata DB)."""
    from airflow.providers.common.compat.sdk import Variable

    if AIRFLOW_V_3:
        return Variable.get(key, default=None)
    return Variable.get(key, default_var=None)


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
    """Create or replace a Variable (3.x: Task SDK; 2.x: metadata DB)."""
    from airflow.providers.common.compat.sdk import Variable

    Variable.set(key, value, description=description)


def mask_secret(secret: str) -> None:
    """Register a secret with Airflow's masker (task logs, rendered fields, XCom)."""
    from airflow.providers.common.compat.sdk import mask_secret as airflow_mask_secret

    keep_secrets_out_of_debug_logs()
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


def keep_secrets_out_of_debug_logs() -> None:
    """Before a task reads its connection: on Airflow 3.0's ``dag.test()``, keep the secrets Airflow
    registers out of its DEBUG log (elsewhere: nothing to do).

    There the "supervisor" is the task's own process, and it logs each message a task sends it
    at DEBUG, body and all (3.1 and later omit secret bodies): from 3.0.5, Airflow masks the
    connection's password by sending MaskSecret(value=<the API key>), so the key would be in the
    log the moment it is masked. That body is omitted from the line (as the 3.0 supervisor itself
    does on receipt); the message is delivered and acted on unchanged.
    """
    if not _LOGS_MESSAGE_BODIES:
        return
    from airflow.sdk.execution_time import supervisor, task_runner

    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if type(comms).__name__ != "InProcessSupervisorComms" or not hasattr(comms, "log"):
        return  # not dag.test(), or a 3.0 before 3.0.5 (no log there, and no MaskSecret)
    if not isinstance(comms.log, _MaskSecretBodyOmitted):
        comms.log = _MaskSecretBodyOmitted(comms.log)  # "Sending request"
    if not isinstance(getattr(supervisor, "log", None), _MaskSecretBodyOmitted):
        supervisor.log = _MaskSecretBodyOmitted(supervisor.log)  # "Received message from task runner"


class _MaskSecretBodyOmitted:
    """A structlog logger whose lines name a MaskSecret message's type, not its body."""

    def __init__(self, log: Any) -> None:
        self._log = log

    def debug(self, event: str, *args: Any, **kw: Any) -> Any:
        if type(kw.get("msg")).__name__ == "MaskSecret":
            kw["msg"] = type(kw["msg"])
            event = f"{event} (body omitted)"
        return self._log.debug(event, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


def asset(uri: str, *, name: str | None = None) -> Any:
    """An outlet for ``uri``: an ``Asset`` (named ``name``) on 3.x, a ``Dataset`` on 2.x (no names)."""
    from airflow.providers.common.compat.sdk import Asset

    if AIRFLOW_V_3 and name is not None:
        return Asset(name=name, uri=uri)
    return Asset(uri=uri)


# ------------------------------------------------------------------ for the tests' helpers
def dag_bag(folder: str) -> Any:
    """A DagBag of ``folder`` (``airflow.dag_processing.dagbag`` from 3.2, ``airflow.models`` before)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag
    return DagBag(folder)


def dag_test(dag: Any, *, logical_date: dt.datetime | None = None, conf: dict | None = None) -> Any:
    """``dag.test()`` with a run conf, as ``airflow dags test`` runs it on each version."""
    if not AIRFLOW_V_3:
        # A second run of one logical date deletes the first, and SQLAlchemy then needs every
        # table dag_run_note refers to: ab_user is the FAB provider's, loaded only by its models.
        with contextlib.suppress(ImportError):
            import airflow.providers.fab.auth_manager.models  # noqa: F401
        return dag.test(execution_date=logical_date, run_conf=conf or {})
    if _DAG_TEST_NEEDS_STORED_DAG:
        _store_bundles(dag.dag_id)
    return dag.test(logical_date=logical_date, run_conf=conf or {})


def _store_bundles(dag_id: str) -> None:
    """Parse the configured DAG bundles into the metadata database (what 3.1.8+ ``dag.test()``
    does itself), unless ``dag_id`` is stored already."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.models.dag_version import DagVersion
    from airflow.models.dagbag import DagBag
    from airflow.utils.session import create_session

    if DagVersion.get_version(dag_id):
        return
    manager = DagBundlesManager()
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = DagBag(dag_folder=bundle.path, bundle_path=bundle.path)
        if AIRFLOW_MINOR == (3, 0):
            bag.sync_to_db(bundle.name, bundle.version)
        else:
            from airflow.models.dagbag import sync_bag_to_db

            sync_bag_to_db(bag, bundle.name, bundle.version)
        if DagVersion.get_version(dag_id):
            return


def xcom_values(session: Any, *, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[Any]:
    """The stored return values of one task instance (3.x: JSON text as stored; 2.x: deserialized)."""
    if AIRFLOW_V_3:
        from airflow.models.xcom import XComModel

        query = XComModel.get_many(
            run_id=run_id, dag_ids=dag_id, task_ids=task_id, map_indexes=map_index, key="return_value"
        )
        return [row.value for row in session.scalars(query).all()]
    from airflow.models.xcom import XCom

    query = XCom.get_many(
        run_id=run_id,
        dag_ids=dag_id,
        task_ids=task_id,
        map_indexes=map_index,
        key="return_value",
        session=session,
    )
    return [row.value for row in query.all()]


def asset_event_extras(session: Any, uri: str) -> list[dict]:
    """The ``extra`` of every event of the asset (a dataset on 2.x) ``uri``, oldest first."""
    from sqlalchemy import select

    if AIRFLOW_V_3:
        from airflow.models.asset import AssetEvent as Event
        from airflow.models.asset import AssetModel as Model

        key = Event.asset_id
    else:
        from airflow.models.dataset import DatasetEvent as Event
        from airflow.models.dataset import DatasetModel as Model

        key = Event.dataset_id
    query = select(Event).join(Model, Model.id == key).where(Model.uri == uri).order_by(Event.id)
    return [dict(row.extra or {}) for row in session.scalars(query)]
