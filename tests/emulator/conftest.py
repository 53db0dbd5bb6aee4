"""The emulator's own fixtures, from its pytest plugin (not auto-registered)."""

from __future__ import annotations

from airflow_provider_ozonetel.emulator.pytest_plugin import (  # noqa: F401
    ozonetel_emulator,
    ozonetel_emulator_factory,
)
