"""OzonetelHook: the public face of the provider's connection to Ozonetel CloudAgent.

It composes one idea per module: settings from the Connection (``connection.py``),
request checks (``validation.py``), one request with pacing and retries
(``transport.py``), the shared token (``tokens.py``: the generateToken request and when to
mint; ``token_store.py``: where tasks share it), and the two APIs (``cdr.py``,
``callbacks.py``). The face holds only the composition, the public methods and the
connection Test (``test_connection``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_ozonetel import calendar, redaction
from airflow_provider_ozonetel.exceptions import OzonetelError
from airflow_provider_ozonetel.hooks.callbacks import CallBacksClient
from airflow_provider_ozonetel.hooks.cdr import CDR_PATH, stream_cdr
from airflow_provider_ozonetel.hooks.connection import (
    AUTH_MODES,
    DEFAULT_BASE_URL,
    DEFAULT_CALLBACKS_PATH,
    OzonetelSettings,
    normalize_base_url,
    read_settings,
)
from airflow_provider_ozonetel.hooks.token_store import TokenStore, default_store
from airflow_provider_ozonetel.hooks.tokens import TOKEN_PATH, TokenManager, request_token
from airflow_provider_ozonetel.hooks.transport import (
    CALLBACKS_ENDPOINT,
    CDR_ENDPOINT,
    RATE_LIMITS,
    TOKEN_ENDPOINT,
    WINDOW_MARGIN,
    RetrySettings,
    Transport,
)
from airflow_provider_ozonetel.hooks.validation import (
    CALL_REPORT_TYPES,
    build_cdr_body,
    check_call_date,
    check_report_type,
    clean_ucid,
)
from airflow_provider_ozonetel.pacing import Clock

__all__ = [
    "AUTH_MODES",
    "CALLBACKS_ENDPOINT",
    "CALL_REPORT_TYPES",
    "CDR_ENDPOINT",
    "CDR_PATH",
    "DEFAULT_BASE_URL",
    "DEFAULT_CALLBACKS_PATH",
    "RATE_LIMITS",
    "TOKEN_ENDPOINT",
    "TOKEN_PATH",
    "WINDOW_MARGIN",
    "OzonetelHook",
    "OzonetelSettings",
    "clean_ucid",
    "normalize_base_url",
]


class OzonetelHook(BaseHook):
    """
    Talks to Ozonetel CloudAgent's Fetch CDR Details and CDR in CallBacks APIs.

    The hook owns the connection settings, token auth (one token shared by all
    tasks, minted again only when needed), pacing under the documented limits
    (2/min on fetchCDRDetails, 50/min on CallBacks), bounded retries, and the
    classification of every answer by its body.

    :param ozonetel_conn_id: Airflow connection id of type ``ozonetel``.
    :param max_retries: retries after timeouts, connection errors, 5xx and unreadable answers
        (exponential backoff with jitter between ``retry_min_wait`` and ``retry_max_wait`` seconds).
    :param rate_limit_retries: retries after the vendor's rate-limit answer, each after a full window.
    :param rate_window_seconds: length of the vendor's rate window (60; shorter against the emulator).
        The hook paces by this window plus 2% (``WINDOW_MARGIN``).
    :param token_ttl_seconds: how long a token is reused before minting again (tokens live 60 min).
    :param token_store: where tasks share the token; default: an Airflow Variable inside a task,
        the process otherwise.
    :param clock: monotonic time and sleep; tests pass a fake one.
    """

    conn_name_attr = "ozonetel_conn_id"
    default_conn_name = "ozonetel_default"
    conn_type = "ozonetel"
    hook_name = "Ozonetel CloudAgent"

    def __init__(
        self,
        ozonetel_conn_id: str = default_conn_name,
        *,
        max_retries: int = 3,
        rate_limit_retries: int = 5,
        retry_min_wait: float = 2.0,
        retry_max_wait: float = 60.0,
        rate_window_seconds: float = 60.0,
        token_ttl_seconds: float = 55 * 60,
        token_store: TokenStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        if token_ttl_seconds <= 0:
            raise ValueError(f"token_ttl_seconds: expected seconds > 0, got {token_ttl_seconds!r}")
        self.ozonetel_conn_id = ozonetel_conn_id
        self.retry = RetrySettings(
            max_retries=max_retries,
            rate_limit_retries=rate_limit_retries,
            retry_min_wait=retry_min_wait,
            retry_max_wait=retry_max_wait,
            rate_window_seconds=rate_window_seconds,
        )
        self.token_ttl_seconds = token_ttl_seconds
        self.clock = clock or Clock()
        self._token_store = token_store
        self._settings: OzonetelSettings | None = None
        self._transport: Transport | None = None
        self._tokens: TokenManager | None = None
        self._callbacks: CallBacksClient | None = None
        #: HTTP requests sent, per endpoint (retries included).
        self.requests_sent: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ozonetel_conn_id={self.ozonetel_conn_id!r})"

    # ------------------------------------------------------------------ composition
    @property
    def settings(self) -> OzonetelSettings:
        if self._settings is None:
            self._settings = read_settings(self.get_connection(self.ozonetel_conn_id))
        return self._settings

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            transport = Transport(
                self.settings, retry=self.retry, clock=self.clock, requests_sent=self.requests_sent
            )
            transport.tokens = self.tokens
            self._transport = transport
        return self._transport

    @property
    def tokens(self) -> TokenManager:
        if self._tokens is None:
            self._tokens = TokenManager(
                self.settings,
                self.token_store,
                ttl_seconds=self.token_ttl_seconds,
                mint=lambda: request_token(self.transport),
            )
        return self._tokens

    @property
    def token_store(self) -> TokenStore:
        if self._token_store is None:
            self._token_store = default_store(self.ozonetel_conn_id)
        return self._token_store

    @property
    def paced_window(self) -> float:
        """The window the hook paces by: the vendor's plus ``WINDOW_MARGIN``."""
        return self.retry.paced_window

    def get_conn(self) -> Any:
        """The HTTP session (a ``requests.Session``; no urllib3 retries: the hook retries itself)."""
        return self.transport.session

    def close(self) -> None:
        """Close the HTTP session."""
        if self._transport is not None:
            self._transport.close()

    # ------------------------------------------------------------------ tokens
    def get_token(self, force_refresh: bool = False) -> str:
        """The shared token: reused while younger than ``token_ttl_seconds``, minted otherwise.

        ``force_refresh=True`` mints a new one (which invalidates every other holder's).
        Raises :class:`OzonetelAuthError` in ``api_key`` auth mode, which uses no token.
        """
        return self.tokens.get_token(force_refresh)

    # ------------------------------------------------------------------ fetchCDRDetails
    def build_cdr_request(
        self,
        cdr_date: dt.date | str,
        *,
        from_time: dt.time | str | None = None,
        to_time: dt.time | str | None = None,
        ucid: int | str | None = None,
        campaign_name: str | None = None,
        monitor_ucid: int | str | None = None,
        call_type: str | None = None,
        status: str | None = None,
    ) -> dict[str, str]:
        """Validate the arguments and build the fetchCDRDetails JSON body (no request is sent)."""
        return build_cdr_body(
            self.settings.user_name,
            cdr_date,
            from_time=from_time,
            to_time=to_time,
            ucid=ucid,
            campaign_name=campaign_name,
            monitor_ucid=monitor_ucid,
            call_type=call_type,
            status=status,
        )

    def iter_cdr_details(self, cdr_date: dt.date | str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Stream the raw records of one IST day (or a ``from_time``/``to_time`` window of it).

        Arguments are validated now, before any request. Records come one at a time
        as the answer is read: memory stays flat. IDs stay exact ints. If the answer
        turns out to be an error (at its end) or is cut off, the iterator raises
        after the records read so far: consumers must treat a day as complete only
        when the iterator finished without an exception.
        """
        body = self.build_cdr_request(cdr_date, **filters)
        return stream_cdr(self.transport, body)

    def get_cdr_details(self, cdr_date: dt.date | str, **filters: Any) -> list[dict[str, Any]]:
        """All raw records of one IST day (or window) as a list. Prefer ``iter_cdr_details``."""
        return list(self.iter_cdr_details(cdr_date, **filters))

    # ------------------------------------------------------------------ CallBacks
    @property
    def callbacks(self) -> CallBacksClient:
        if self._callbacks is None:
            self._callbacks = CallBacksClient(self.transport)
        return self._callbacks

    def get_call_details(
        self,
        ucid: int | str,
        *,
        report_type: str = "auto",
        call_date: dt.date | str | None = None,
    ) -> list[dict[str, Any]]:
        """CDR of one call (all its records) from the CallBacks API; ``[]`` on "No Data Found".

        ``report_type="auto"`` picks ``currentday`` or ``historical`` from ``call_date``
        (the IST day the call started) by the vendor's rules, and raises
        :class:`OzonetelDataNotAvailableError` (with ``available_at``) for yesterday's
        calls between 00:00 and 03:00 IST. Without ``call_date`` it asks ``currentday``
        and then ``historical``. The ``Apikey`` field the API echoes is redacted.
        """
        ucid_text = clean_ucid(ucid)
        check_report_type(report_type)
        day = check_call_date(call_date)
        return self.callbacks.call_details(ucid_text, report_type, day)

    # ------------------------------------------------------------------ test button
    def test_connection(self) -> tuple[bool, str]:
        """Check host, user name and API key with one CallBacks request (UCID 0).

        It mints no token: minting would invalidate the token running tasks share.
        """
        try:
            settings = self.settings
            self.callbacks.fetch("0", calendar.HISTORICAL, retry=False)
        except OzonetelError as exc:
            return False, redaction.redact(str(exc))
        except Exception as exc:
            return False, redaction.redact(f"{type(exc).__name__}: {exc}")
        return True, (
            f"Connected to {settings.base_url} as {settings.user_name} "
            f"(auth mode {settings.auth_mode}); the API key was accepted"
        )
