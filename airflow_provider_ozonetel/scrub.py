"""Rows never carry the API key: found in any echoed spelling, at any depth, and replaced.
Pure: no Airflow import.

The CallBacks API echoes the account's key in every record (``Apikey``), and nothing stops an
answer from echoing it elsewhere: under another spelling (``apikey``, ``APIKEY``, ``api_key``),
inside a nested object, inside a text field, or escaped (``secret_forms``). A row written to a
file, or returned as XCom, must hold none of these.

Checking every value of every row in Python would cost more than typing the row, so the writers
look for the key in the bytes they already encoded (one C-speed ``find`` a row); only a row where
it is found is walked and rewritten (:meth:`RowScrubber.scrub`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_provider_ozonetel.secret_forms import echo_forms

REDACTED = "***"
_MIN_LEN = 4


def is_key_field(name: Any) -> bool:
    """A field named for the API key, in any casing or separators (``Apikey``, ``api_key``...)."""
    return isinstance(name, str) and "".join(ch for ch in name.lower() if ch.isalnum()) == "apikey"


class RowScrubber:
    """Finds the given secrets in rows (any echoed spelling, values and field names, any depth)."""

    def __init__(self, secrets: Iterable[str | None]):
        import msgspec

        forms = {form for secret in secrets if secret for form in echo_forms(secret) if len(form) >= _MIN_LEN}
        self._forms = sorted(forms, key=len, reverse=True)
        # How each form looks inside a JSON string as the writers encode it (msgspec).
        self._needles = tuple({msgspec.json.encode(form)[1:-1] for form in forms})
        self._encode = msgspec.json.Encoder(enc_hook=str, decimal_format="number").encode

    def __bool__(self) -> bool:
        return bool(self._forms)

    @property
    def needles(self) -> tuple[bytes, ...]:
        """What :meth:`found_in` looks for: each secret's forms as they read inside a JSON string."""
        return self._needles

    def found_in(self, encoded: bytes | bytearray, start: int = 0) -> bool:
        """Whether the JSON bytes ``encoded[start:]`` (a row as the writers encode it) hold a secret."""
        return any(encoded.find(needle, start) >= 0 for needle in self._needles)

    def clean(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` itself when it holds no secret, else a scrubbed copy."""
        return self.scrub(row) if self.found_in(self._encode(row)) else row

    def scrub(self, value: Any) -> Any:
        """A copy of ``value`` with every field named for the key set to ``***`` and every
        secret inside a string (value or field name) replaced by ``***``."""
        if isinstance(value, dict):
            return {
                self._text(key): (REDACTED if is_key_field(key) and item is not None else self.scrub(item))
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        return self._text(value)

    def _text(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        for form in self._forms:
            if form in value:
                value = value.replace(form, REDACTED)
        return value
