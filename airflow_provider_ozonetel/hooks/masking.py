"""Register a secret everywhere it must be hidden: Airflow's masker and our own redaction."""

from __future__ import annotations

import logging

from airflow_provider_ozonetel import compat, redaction
from airflow_provider_ozonetel.secret_forms import echo_forms

log = logging.getLogger(__name__)


def hide_secret(secret: str | None) -> None:
    """Hide ``secret`` from task logs, rendered fields and XCom (Airflow's masker) and from
    the texts the masker never sees (urllib3 log lines, error messages: ``redaction``)."""
    if not secret:
        return
    redaction.add_secret(secret)
    try:
        for form in echo_forms(secret):  # an echo may escape it (HTML, URL, JSON)
            compat.mask_secret(form)
    except Exception:  # masking must never break a request; redaction still applies
        log.debug("Could not register a secret with Airflow's masker", exc_info=False)
