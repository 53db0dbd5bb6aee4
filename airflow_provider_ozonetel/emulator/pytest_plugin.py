"""pytest fixtures for the emulator (not auto-registered).

Use them from a ``conftest.py``::

    pytest_plugins = ["airflow_provider_ozonetel.emulator.pytest_plugin"]   # root conftest only

or import them there: ``from airflow_provider_ozonetel.emulator.pytest_plugin import ozonetel_emulator``.

* ``ozonetel_emulator_factory``: a function ``(**options) -> Emulator`` (options as for
  :func:`run_emulator`); every emulator it started is stopped after the test.
* ``ozonetel_emulator``: one emulator with the defaults, 500 calls a day and one
  emulator minute = 0.5 s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_ozonetel.emulator.server import Emulator, run_emulator


@pytest.fixture
def ozonetel_emulator_factory() -> Iterator[Callable[..., Emulator]]:
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> Emulator:
            return stack.enter_context(run_emulator(**options))

        yield start


@pytest.fixture
def ozonetel_emulator(ozonetel_emulator_factory: Callable[..., Emulator]) -> Emulator:
    return ozonetel_emulator_factory(calls_per_day=500, minute_seconds=0.5)
