"""Running the emulator: in a background thread for tests (:func:`run_emulator`), or in the
foreground for the command line (:func:`serve`). Both bind the socket first, so the port
is known (and free) before the server starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import uvicorn

from airflow_provider_ozonetel.emulator.app import create_app
from airflow_provider_ozonetel.emulator.callbacks_api import CALLBACKS_PATH
from airflow_provider_ozonetel.emulator.cdr_api import CDR_PATH, TOKEN_PATH
from airflow_provider_ozonetel.emulator.config import EmulatorConfig
from airflow_provider_ozonetel.emulator.context import EmulatorContext
from airflow_provider_ozonetel.emulator.streaming import InjectedDrop

if TYPE_CHECKING:
    from airflow_provider_ozonetel.emulator.data import Dataset
    from airflow_provider_ozonetel.emulator.state import StateSnapshot

_STARTUP_TIMEOUT = 10.0


class _HideInjectedDrops(logging.Filter):
    """uvicorn logs an exception that ends a body as an error; an injected drop is a one-line note."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BaseExceptionGroup):
            exc = exc.subgroup(InjectedDrop)
            while isinstance(exc, BaseExceptionGroup):
                exc = exc.exceptions[0]
        if isinstance(exc, InjectedDrop):
            record.msg, record.args = str(exc), ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _hide_injected_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideInjectedDrops) for f in logger.filters):
        logger.addFilter(_HideInjectedDrops())


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


class Emulator:
    """Handle on a running emulator (see :func:`run_emulator`)."""

    def __init__(self, ctx: EmulatorContext, url: str) -> None:
        self._ctx = ctx
        self.base_url = url
        self.port = int(url.rsplit(":", 1)[1])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    # what tests read
    @property
    def config(self) -> EmulatorConfig:
        return self._ctx.config

    @property
    def user(self) -> str:
        return self._ctx.config.user

    @property
    def api_key(self) -> str:
        return self._ctx.config.api_key

    @property
    def dataset(self) -> Dataset:
        """The truth: the calls this run serves."""
        return self._ctx.dataset

    @property
    def state(self) -> StateSnapshot:
        """A snapshot of the counters (mints, requests, rate-limit answers, faults, log)."""
        return self._ctx.snapshot()

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def cdr_url(self) -> str:
        return self.base_url + CDR_PATH

    @property
    def callbacks_url(self) -> str:
        return self.base_url + CALLBACKS_PATH

    # what tests change
    def set_faults(self, **faults: Any) -> None:
        """E.g. ``set_faults(drop=1)``, ``set_faults(slow=0.2, slow_count=2)``, ``set_faults(error_5xx=-1)``.

        Counts: N = the next N matching requests, -1 = every one, 0 = off.
        ``<name>_endpoints=("token", "cdr", "callbacks")`` changes which endpoints a fault matches.
        """
        self._ctx.faults.set(**faults)

    def clear_faults(self) -> None:
        self._ctx.faults.clear()

    def now(self) -> dt.datetime:
        """The data clock (aware, IST)."""
        return self._ctx.clock.now()

    def set_now(self, value: dt.datetime | str | None) -> None:
        """Pin the data clock: a datetime (naive = IST wall clock) or ``YYYY-MM-DDTHH:MM[:SS]`` IST;
        None follows the real clock."""
        self._ctx.clock.set_now(value)

    def advance(self, *, minutes: float = 0.0, seconds: float = 0.0) -> None:
        """Move the window clock forward (rate windows, token life, mint window) without sleeping."""
        self._ctx.clock.advance(minutes=minutes, seconds=seconds)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None


def _uvicorn_config(app: Any, *, in_process: bool, access_log: bool = False, log_level: str = "info") -> Any:
    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=access_log,
        log_level="warning" if in_process else log_level,
        # In-process: leave logging to the host (pytest); records propagate to the root logger.
        log_config=None if in_process else uvicorn.config.LOGGING_CONFIG,
        timeout_graceful_shutdown=1 if in_process else 5,
        server_header=False,
    )
    _hide_injected_drops()
    return config


def start_emulator(config: EmulatorConfig, *, faults: dict[str, Any] | None = None) -> Emulator:
    """Start a server in a background thread; stop it with :meth:`Emulator.stop`."""
    ctx = EmulatorContext(config)
    if faults:
        ctx.faults.set(**faults)
    sock = bind(config.host, config.port)
    emulator = Emulator(ctx, base_url(sock, config.host))
    server = uvicorn.Server(_uvicorn_config(create_app(ctx), in_process=True))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"ozonetel-emulator-{emulator.port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the Ozonetel emulator did not start")
        time.sleep(0.005)
    emulator._server, emulator._thread, emulator._socket = server, thread, sock
    return emulator


@contextlib.contextmanager
def run_emulator(
    *, faults: dict[str, Any] | None = None, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> Iterator[Emulator]:
    """Run an emulator in a background thread for the ``with`` block.

    ``options`` are :class:`EmulatorConfig` fields (user, api_key, auth_mode, seed,
    calls_per_day, minute_seconds, now, currentday, cache_dir, bandwidth_mbps) plus fault
    settings as ``fault_<name>=N`` (or ``faults={...}``). Listens on a free
    port of 127.0.0.1 unless told otherwise.
    """
    fault_settings = dict(faults or {})
    for key in [k for k in options if k.startswith("fault_")]:
        fault_settings[key] = options.pop(key)
    emulator = start_emulator(EmulatorConfig(host=host, port=port, **options), faults=fault_settings)
    try:
        yield emulator
    finally:
        emulator.stop()


def serve(
    config: EmulatorConfig,
    *,
    faults: dict[str, Any] | None = None,
    access_log: bool = False,
    log_level: str = "info",
) -> None:
    """Run in the foreground until interrupted. The first line on stdout is the base URL."""
    ctx = EmulatorContext(config)
    if faults:
        ctx.faults.set(**faults)
    sock = bind(config.host, config.port)
    url = base_url(sock, config.host)
    print(url, flush=True)
    print(
        f"Ozonetel emulator at {url}: user {config.user!r}, auth {config.auth_mode}, seed {config.seed}, "
        f"{config.calls_per_day} calls/day, 1 emulator minute = {config.minute_seconds:g} s, "
        f"now = {ctx.clock.now().isoformat()}{' (pinned)' if ctx.clock.pinned else ''}. "
        f"Admin: {url}/_emulator/state",
        file=sys.stderr,
        flush=True,
    )
    server = uvicorn.Server(
        _uvicorn_config(create_app(ctx), in_process=False, access_log=access_log, log_level=log_level)
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
