"""Browser tests of the ``ozonetel`` connection form in a real Airflow 3 UI (``make test-ui``)."""

from __future__ import annotations
