"""``python -m airflow_provider_ozonetel.emulator``: see :mod:`airflow_provider_ozonetel.emulator.cli`."""

from __future__ import annotations

from airflow_provider_ozonetel.emulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
