"""Settings from the ``ozonetel`` Connection, checked with errors that name the field and the fix."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_ozonetel.exceptions import OzonetelAuthError
from airflow_provider_ozonetel.hooks.masking import hide_secret

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection

DEFAULT_BASE_URL = "https://in1-ccaas-api.ozonetel.com"
DEFAULT_CALLBACKS_PATH = "/CAServices/CDR/callBacks.php"
AUTH_MODES = ("token", "api_key")
#: A day's answer takes minutes on a slow link; an hour leaves room and still ends a trickle.
DEFAULT_REQUEST_DEADLINE = 3600.0
#: The longest any timeout may be: a day (a larger value is a typo, or inf/1e300, and would hang).
MAX_SECONDS = 86400.0


@dataclass(frozen=True)
class OzonetelSettings:
    """What the hook reads from the Connection."""

    base_url: str
    user_name: str
    api_key: str = field(repr=False)
    auth_mode: str = "token"
    timeout: float = 600.0
    connect_timeout: float = 30.0
    #: Seconds one request may take from sending to its last byte, whatever the read timeout:
    #: a peer trickling a byte at a time never trips a read timeout.
    request_deadline: float = DEFAULT_REQUEST_DEADLINE
    callbacks_path: str = DEFAULT_CALLBACKS_PATH
    verify_ssl: bool = True

    @property
    def account_key(self) -> str:
        """One account, whatever the connection id: base URL + user name."""
        return f"{self.base_url}|{self.user_name}"

    @property
    def account_id(self) -> str:
        """A short, stable name for the account, for the keys of values tasks share."""
        return hashlib.sha256(self.account_key.encode()).hexdigest()[:12]


def normalize_base_url(host: str | None, port: int | None = None) -> str:
    """A base URL from a connection host: a full URL, a bare domain, or empty (the default)."""
    host = (host or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    if "://" not in host:
        host = f"https://{host}"
    parts = urlsplit(host)
    if "@" in parts.netloc:
        # Refused, not stripped: requests would turn it into Basic auth over our bearer token,
        # and the message must not show it (it would be the Test button's text).
        raise OzonetelAuthError(
            "host: the base URL holds a user name or password ('user:pass@'); the provider refuses it. "
            "Put the CloudAgent user name in Login and the API key in Password, and only the address "
            f"in Host (e.g. '{parts.scheme}://{parts.hostname or 'in1-ccaas-api.ozonetel.com'}')"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OzonetelAuthError(
            f"host: {host!r} is not a base URL or domain; use e.g. 'in1-ccaas-api.ozonetel.com' "
            f"or 'https://api.ccaas.ozonetel.com' (empty means {DEFAULT_BASE_URL})"
        )
    if parts.query or parts.fragment:
        raise OzonetelAuthError(f"host: {host!r} has a query or fragment; a base URL takes neither")
    try:
        url_port = parts.port
    except ValueError:
        url_port = -1
    if url_port is not None and not 0 < url_port < 65536:
        raise OzonetelAuthError(f"host: the port in {host!r} is not a number from 1 to 65535")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536):
        raise OzonetelAuthError(f"port: {port!r} is not a number from 1 to 65535 (0 or empty: none)")
    netloc = parts.netloc
    if port and not url_port:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def read_settings(conn: Connection) -> OzonetelSettings:
    """Check the Connection's fields and extras; the API key is hidden before anything else."""
    extra = _extra_object(conn)

    def field_value(name: str, default: Any = None) -> Any:
        value = extra.get(name, extra.get(f"extra__ozonetel__{name}"))
        return default if value in (None, "") else value

    api_key = conn.password or ""
    hide_secret(api_key)
    auth_mode = str(field_value("auth_mode", "token")).strip().lower()
    if auth_mode not in AUTH_MODES:
        raise OzonetelAuthError(
            f"auth_mode: {auth_mode!r} is not one of {', '.join(AUTH_MODES)}; set the connection's "
            "Auth mode to 'token' (TOKEN_AUTH accounts) or 'api_key' (BASIC_AUTH accounts)"
        )
    if not (conn.login or "").strip():
        raise OzonetelAuthError("login: the connection has no CloudAgent user name; set Login")
    if not api_key.strip():
        raise OzonetelAuthError("password: the connection has no API key; set Password to the API key")
    callbacks_path = str(field_value("callbacks_path", DEFAULT_CALLBACKS_PATH)).strip()
    if not callbacks_path.startswith("/"):
        callbacks_path = "/" + callbacks_path
    return OzonetelSettings(
        base_url=normalize_base_url(conn.host, conn.port),
        user_name=conn.login.strip(),
        api_key=api_key,
        auth_mode=auth_mode,
        timeout=_seconds(field_value("timeout", 600), "timeout"),
        connect_timeout=_seconds(field_value("connect_timeout", 30), "connect_timeout"),
        request_deadline=_seconds(
            field_value("request_deadline", DEFAULT_REQUEST_DEADLINE), "request_deadline"
        ),
        callbacks_path=callbacks_path,
        verify_ssl=_as_bool(field_value("verify_ssl", True), "verify_ssl"),
    )


def _extra_object(conn: Connection) -> dict[str, Any]:
    """The connection's extra as a JSON object; anything else is refused, not ignored."""
    raw = conn.extra
    if isinstance(raw, dict):
        return raw
    if raw in (None, ""):
        return {}
    try:
        extra = json.loads(raw)
    except (TypeError, ValueError):
        extra = None
        shown = "not valid JSON"
    else:
        shown = f"a JSON {type(extra).__name__}"
    if not isinstance(extra, dict):
        raise OzonetelAuthError(
            f"extra: the connection's extra is {shown}; it must be a JSON object such as "
            '{"auth_mode": "token", "timeout": 600}'
        )
    return extra


def _seconds(value: Any, field: str) -> float:
    """A number of seconds in (0, MAX_SECONDS]: inf, nan, 1e300, 0 and negatives are refused."""
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not 0 < number <= MAX_SECONDS:  # False for nan too
        raise OzonetelAuthError(
            f"{field}: expected a number of seconds > 0 and at most {MAX_SECONDS:.0f} (a day), got {value!r}"
        )
    return number


def _as_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    # "y": what Airflow 2's form posts for a ticked checkbox when its Test button is pressed
    if text in ("true", "1", "yes", "y", "on"):
        return True
    if text in ("false", "0", "no", "n", "off"):
        return False
    raise OzonetelAuthError(f"{field}: expected true or false, got {value!r}")
