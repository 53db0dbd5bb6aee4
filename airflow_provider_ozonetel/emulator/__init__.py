"""A local Ozonetel CloudAgent-compatible API server, for developing DAGs offline and for tests.

Run it: ``ozonetel-emulator --port 0`` (or ``python -m airflow_provider_ozonetel.emulator``);
the first line on stdout is the base URL. In tests::

    from airflow_provider_ozonetel.emulator import run_emulator

    with run_emulator(calls_per_day=500, minute_seconds=0.5, now="2026-11-20T12:00") as emu:
        requests.post(emu.token_url, headers={"apiKey": emu.api_key}, json={"userName": emu.user})
        emu.set_faults(drop=1)
        emu.state.mints, list(emu.dataset.iter_day(datetime.date(2026, 11, 19)))

Modules: ``data`` (the synthetic calls), ``app`` and ``*_api`` (routes), ``faults``,
``tokens``/``limits``/``clock`` (the vendor's rules), ``server`` (running it), ``cli``.
It imports no Airflow; the server parts need starlette and uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_ozonetel.emulator.data import Dataset
    from airflow_provider_ozonetel.emulator.server import Emulator, run_emulator

__all__ = ["Dataset", "Emulator", "run_emulator"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing the data generator does not load the web server.
    if name == "Dataset":
        from airflow_provider_ozonetel.emulator.data import Dataset

        return Dataset
    if name in ("Emulator", "run_emulator"):
        from airflow_provider_ozonetel.emulator import server

        return getattr(server, name)
    raise AttributeError(name)
