"""A real PostgreSQL server for a test: Debian's package, a fresh cluster in a temporary directory,
on a free loopback port, stopped and deleted afterwards.

``make postgres-server`` (run by ``make test``) installs the package when it is missing. PostgreSQL
refuses to run as root, and the tests run as root in CI: then the cluster belongs to an unprivileged
user (``nobody``) and its commands run as that user (``runuser``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

UNPRIVILEGED = "nobody"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str = "postgres"
    database: str = "postgres"

    @property
    def uri(self) -> str:
        """An Airflow connection URI (``AIRFLOW_CONN_...``); trust authentication, loopback only."""
        return f"postgres://{self.user}@{self.host}:{self.port}/{self.database}"


def server_binaries() -> pathlib.Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (Debian keeps them off PATH), newest version."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return pathlib.Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return pathlib.Path(initdb).parent if initdb else None


def why_unavailable() -> str | None:
    """Why no server can be started here, or None."""
    if server_binaries() is None:
        return (
            "PostgreSQL's server is not installed and could not be: `make postgres-server` installs "
            "Debian's postgresql package (needs root and the package mirror)"
        )
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user(UNPRIVILEGED)):
        return f"running as root without runuser or a {UNPRIVILEGED!r} user: PostgreSQL refuses root"
    return None


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throwaway cluster; yield where it listens; stop it and delete its files."""
    binaries = server_binaries()
    assert binaries is not None, why_unavailable()
    folder = pathlib.Path(tempfile.mkdtemp(prefix="ozonetel-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam(UNPRIVILEGED)
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", UNPRIVILEGED, "--"]
    data, log = folder / "data", folder / "server.log"

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            logged = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}{logged}")

    port = _free_port()
    started = False
    try:
        run(
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
        run(
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        started = True
        yield PostgresServer("127.0.0.1", port)
    finally:
        if started:
            with contextlib.suppress(Exception):
                run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
