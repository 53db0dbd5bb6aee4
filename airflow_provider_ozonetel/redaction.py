"""Keep the API key and tokens out of log lines and error texts. Pure: no Airflow import.

Airflow's secrets masker covers task logs once a secret is registered; this
module covers what happens outside it: the CallBacks API takes the key as a
URL query parameter, and urllib3 logs request lines at DEBUG and puts URLs in
its exception texts. A filter on urllib3's loggers rewrites those records.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict

from airflow_provider_ozonetel.secret_forms import echo_forms

REDACTED = "***"
_MIN_SECRET_LEN = 4
_URL_KEY_PARAM = re.compile(r"(?i)([?&]apikey=)[^&\s'\"]+")

#: Secrets remembered, most recently used last. Bounded: a long-lived process (the API server,
#: whose Test button reads every tested key) must not grow without end. A secret in use is
#: registered again by every hook that reads it, so only secrets unused since this many others
#: were registered are forgotten.
MAX_SECRETS = 256
_secrets: OrderedDict[str, tuple[str, ...]] = OrderedDict()  # secret -> the forms an echo may give it
_lock = threading.Lock()
_URLLIB3_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.response",
    "urllib3.poolmanager",
    "urllib3.util.retry",
    "requests",
)


def add_secret(value: str | None) -> None:
    """Remember a secret so :func:`redact` and the urllib3 log filter hide it, in every spelling
    an echo may give it (HTML-escaped, percent-encoded, inside JSON strings: ``secret_forms``)."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _lock:
            if value in _secrets:
                _secrets.move_to_end(value)
            else:
                _secrets[value] = tuple(form for form in echo_forms(value) if len(form) >= _MIN_SECRET_LEN)
                while len(_secrets) > MAX_SECRETS:
                    _secrets.popitem(last=False)
        _install_filter()


def redact(text: str) -> str:
    """``text`` with every known secret and any ``apiKey=`` URL parameter replaced by ``***``."""
    text = _URL_KEY_PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    with _lock:
        secrets = sorted({form for forms in _secrets.values() for form in forms}, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with :func:`redact` (the record still gets logged)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_filter = RedactingFilter()


def _install_filter() -> None:
    for name in _URLLIB3_LOGGERS:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
