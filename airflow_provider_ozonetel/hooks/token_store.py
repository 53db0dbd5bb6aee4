"""Where tasks share the CloudAgent token.

Minting a token invalidates every earlier one and is limited to 10 an hour, so
all tasks of a deployment must use one token. Inside a task the token lives in
an Airflow Variable (every worker reads the same metadata store; the name holds
"token", so the UI and logs mask its value). Outside a task (scripts, the API
server's Test button) it lives in the process. A file lock serializes minting
between processes of one machine, so parallel tasks there mint once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from airflow_provider_ozonetel.compat import get_variable, in_task_context, set_variable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredToken:
    token: str
    minted_at: float  # epoch seconds (wall clock: shared between machines)

    def __repr__(self) -> str:  # never show the token itself
        return f"StoredToken(minted_at={self.minted_at})"


class TokenStore(Protocol):
    name: str

    def load(self) -> StoredToken | None: ...

    def save(self, stored: StoredToken) -> None: ...


class InProcessTokenStore:
    """A token per key, kept in this process."""

    _tokens: dict[str, StoredToken] = {}
    _guard = threading.Lock()

    def __init__(self, key: str):
        self.key = key
        self.name = f"in-process store {key!r}"

    def load(self) -> StoredToken | None:
        with self._guard:
            return self._tokens.get(self.key)

    def save(self, stored: StoredToken) -> None:
        with self._guard:
            self._tokens[self.key] = stored

    @classmethod
    def clear(cls) -> None:
        with cls._guard:
            cls._tokens.clear()


class VariableTokenStore:
    """A token in an Airflow Variable, shared by every worker of the deployment."""

    def __init__(self, variable_key: str):
        self.variable_key = variable_key
        self.name = f"Airflow Variable {variable_key!r}"

    def load(self) -> StoredToken | None:
        raw = get_variable(self.variable_key)
        if not raw:
            return None
        try:
            data = json.loads(raw) if isinstance(raw, str) else raw
            return StoredToken(token=str(data["token"]), minted_at=float(data["minted_at"]))
        except (ValueError, KeyError, TypeError):
            log.warning("Ignoring an unreadable token in Variable %s; minting a new one", self.variable_key)
            return None

    def save(self, stored: StoredToken) -> None:
        set_variable(
            self.variable_key,
            json.dumps({"token": stored.token, "minted_at": stored.minted_at}),
            description="CloudAgent API token shared by Ozonetel tasks (managed by the provider)",
        )


def variable_key(conn_id: str) -> str:
    return f"ozonetel_token_{conn_id}"


def default_store(conn_id: str) -> TokenStore:
    if in_task_context():
        return VariableTokenStore(variable_key(conn_id))
    return InProcessTokenStore(conn_id)


@contextlib.contextmanager
def mint_lock(account: str) -> Iterator[None]:
    """Serialize "read store, mint, write store" between processes of this machine."""
    digest = hashlib.sha256(account.encode()).hexdigest()[:16]
    path = os.path.join(tempfile.gettempdir(), f"ozonetel-token-{digest}.lock")
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
