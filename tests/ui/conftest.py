"""Fixtures of the browser tests: a real Airflow UI, the emulator, and headless Chromium.

The UI is the one of the installed Airflow: on 3.x the API server (React UI, simple auth manager),
on 2.x the Flask webserver (FAB auth, one admin user).

Everything runs on 127.0.0.1 with free ports, in a throwaway Airflow home. Every process started
here is stopped when the session ends, whatever the outcome (process groups: terminate, then kill).

These tests are collected only when asked for with ``-m ui`` (``make test-ui`` does), so a plain
``pytest`` run never imports Playwright or starts a browser.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ozonetel import compat

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = pathlib.Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
CHROMIUM = os.environ.get("OZONETEL_UI_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts, which the closed
# network of the test machines refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EMULATOR_USER = "demo_user"
EMULATOR_KEY = "demo_key"
ADMIN_USER = "admin"
READY_TIMEOUT = 120.0  # seconds: the API server is ready in ~10 s on a quiet machine
UI_TIMEOUT_MS = 20_000  # Playwright's wait for any one element or navigation


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ui: drives the Airflow UI in headless Chromium (make test-ui)")


def pytest_ignore_collect(collection_path: pathlib.Path, config: pytest.Config) -> bool | None:
    """Collect tests/ui only for ``-m ui``: the normal run neither imports nor runs them."""
    if collection_path.name.startswith("test_") and (config.getoption("markexpr") or "").strip() != "ui":
        return True
    return None


# ---------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """A child process in its own process group, its output in a log file."""

    def __init__(
        self, name: str, argv: list[str], *, env: dict[str, str], log_path: pathlib.Path, pipe: bool = False
    ):
        self.name = name
        self.log_path = log_path
        self._pump: threading.Thread | None = None
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipe else self._log,
            stderr=self._log,
            start_new_session=True,
        )

    def first_line(self, timeout: float) -> str:
        """The first stdout line (``pipe=True``); later output is copied to the log file."""
        assert self.proc.stdout is not None
        lines: list[bytes] = []

        def pump() -> None:
            stdout = self.proc.stdout
            assert stdout is not None
            lines.append(stdout.readline())
            for chunk in iter(lambda: stdout.read1(65536), b""):  # keep the pipe drained
                self._log.write(chunk)
                self._log.flush()

        self._pump = threading.Thread(target=pump, name=f"{self.name}-stdout", daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        while not lines and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.05)
        if not lines or not lines[0].strip():
            raise RuntimeError(f"{self.name} printed no first line within {timeout:.0f} s\n{self.log_tail()}")
        return lines[0].decode().strip()

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace")
        return f"--- last output of {self.name} ({self.log_path}) ---\n{text[-chars:]}"

    def stop(self) -> None:
        """SIGTERM to the group, a grace period, then SIGKILL to whatever is left of it."""
        try:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):  # the leader after the grace, or its workers
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
            if self._pump is not None:
                self._pump.join(timeout=5)
        finally:
            self._log.close()


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, service: Service) -> None:
    """Poll ``check`` (bounded); fail early, with the service's output, if the service died."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise RuntimeError(f"{service.name} exited ({service.proc.returncode})\n{service.log_tail()}")
        if check():
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    raise RuntimeError(f"{what} not ready within {timeout:.0f} s\n{service.log_tail()}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session", autouse=True)
def _teardown_on_sigterm() -> Iterator[None]:
    """A SIGTERM (a CI timeout, ``kill``) unwinds like Ctrl-C, so the fixtures stop their processes."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def run_dir() -> Iterator[pathlib.Path]:
    path = pathlib.Path(tempfile.mkdtemp(prefix="ozonetel-ui-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------------- emulator
def start_emulator(log_path: pathlib.Path) -> tuple[str, Callable[[], None]]:
    """Start the Ozonetel emulator on a free port; return its base URL and how to stop it."""
    service = Service(
        "emulator",
        [
            sys.executable,
            "-m",
            "airflow_provider_ozonetel.emulator",
            "--port",
            "0",
            "--user",
            EMULATOR_USER,
            "--api-key",
            EMULATOR_KEY,
            # The form test saves auth mode api_key; the Test button checks the account's mode.
            "--auth-mode",
            "api_key",
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        log_path=log_path,
        pipe=True,
    )
    try:
        url = service.first_line(timeout=60).rstrip("/")
        # Its admin route: answers once it serves, without spending the account's rate limits.
        wait_until(
            lambda: http_ok(f"{url}/_emulator/state"), timeout=30, what="the emulator", service=service
        )
    except BaseException:
        service.stop()
        raise
    return url, service.stop


@pytest.fixture(scope="session")
def emulator(run_dir: pathlib.Path) -> Iterator[str]:
    url, stop = start_emulator(run_dir / "emulator.log")
    try:
        yield url
    finally:
        stop()


# ---------------------------------------------------------------------------------- Airflow
@dataclass
class Airflow:
    url: str
    user: str
    password: str
    service: Service
    version: int  # the major version: 3 (React UI) or 2 (Flask UI)


def airflow_env(home: pathlib.Path, port: int, password_file: pathlib.Path) -> dict[str, str]:
    """The environment of the throwaway Airflow: none of the caller's AIRFLOW_* settings leak in."""
    from cryptography.fernet import Fernet

    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    (home / "dags").mkdir(exist_ok=True)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            # The Test button is disabled unless this is "Enabled".
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        }
    )
    if not compat.AIRFLOW_V_3:  # the Flask webserver, FAB's auth (a user is created below)
        env.update(
            {
                "AIRFLOW__WEBSERVER__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__WEBSERVER__WORKERS": "1",
                "AIRFLOW__WEBSERVER__BASE_URL": f"http://127.0.0.1:{port}",
            }
        )
        return env
    env.update(
        {
            # Airflow 3's simple auth manager with one admin whose password we choose.
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        }
    )
    return env


def airflow_cli(env: dict[str, str], home: pathlib.Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode:
        raise RuntimeError(
            f"airflow {args[0]} {args[1]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )


@pytest.fixture(scope="session")
def airflow(run_dir: pathlib.Path) -> Iterator[Airflow]:
    """``airflow db migrate``, then the UI's server on a free port; ready when its health check says so.

    Airflow 3: ``airflow api-server``. Airflow 2: an admin user, then ``airflow webserver``.
    """
    home = run_dir / "airflow"
    home.mkdir()
    password = secrets.token_urlsafe(12)
    password_file = home / "simple_auth_manager_passwords.json"
    password_file.write_text(json.dumps({ADMIN_USER: password}) + "\n")
    port = free_port()
    env = airflow_env(home, port, password_file)
    airflow_cli(env, home, "db", "migrate")
    cli = [sys.executable, "-m", "airflow"]
    if compat.AIRFLOW_V_3:
        argv = [*cli, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        name, health = "airflow api-server", "/api/v2/monitor/health"
    else:
        airflow_cli(
            env, home, "users", "create", "--username", ADMIN_USER, "--password", password, "--role", "Admin",
            "--email", "admin@example.com", "--firstname", "Ad", "--lastname", "Min",
        )  # fmt: skip
        argv = [*cli, "webserver", "--hostname", "127.0.0.1", "--port", str(port), "--workers", "1"]
        name, health = "airflow webserver", "/health"
    service = Service(name, argv, env=env, log_path=run_dir / "ui-server.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}{health}"), timeout=READY_TIMEOUT, what=name, service=service)
        yield Airflow(
            url=url,
            user=ADMIN_USER,
            password=password,
            service=service,
            version=3 if compat.AIRFLOW_V_3 else 2,
        )
    finally:
        service.stop()


# ---------------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make test-ui` (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, airflow: Airflow, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context, logged in to Airflow through its login form."""
    context = browser.new_context(viewport={"width": 1280, "height": 1080}, locale="en-US")
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    try:
        if airflow.version == 3:
            page.goto(f"{airflow.url}/connections")
            page.get_by_label("Username").fill(airflow.user)
            page.get_by_label("Password").fill(airflow.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{airflow.url}/connections")
        else:
            page.goto(f"{airflow.url}/login/")
            page.locator("#username").fill(airflow.user)
            page.locator("#password").fill(airflow.password)
            page.get_by_role("button", name="Sign In").or_(page.locator("input[type=submit]")).first.click()
            page.wait_for_url(re.compile(rf"{re.escape(airflow.url)}/home"))
        yield page
        report: Any = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            shot = pathlib.Path(tempfile.gettempdir()) / f"ozonetel-ui-failure-{request.node.name}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"\nscreenshot of the failure: {shot}\n{airflow.service.log_tail()}")
    finally:
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
