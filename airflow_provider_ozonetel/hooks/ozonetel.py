"""OzonetelHook: the public face of the provider's connection to Ozonetel CloudAgent.

It composes one idea per module: settings from the Connection (``connection.py``),
request checks (``validation.py``), one request (``transport.py``) with its retry policy
(``retries.py``) and its wait for the account's rate limit (``rate_wait.py``, over the shared
budget of ``budget.py``; the endpoints and their limits: ``endpoints.py``), the shared token
(``tokens.py``: the generateToken request and when to mint; ``token_store.py``: how it is
stored; both shared through ``variable_store.py``), and the two APIs (``cdr.py``,
``callbacks.py``). The face holds only the composition, the public methods and the
connection Test (``test_connection``).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_ozonetel import calendar, compat, redaction
from airflow_provider_ozonetel.exceptions import OzonetelError
from airflow_provider_ozonetel.hooks.callbacks import CallBacksClient
from airflow_provider_ozonetel.hooks.cdr import CDR_PATH, stream_cdr, stream_cdr_batches
from airflow_provider_ozonetel.hooks.connection import (
    AUTH_MODES,
    DEFAULT_BASE_URL,
    DEFAULT_CALLBACKS_PATH,
    OzonetelSettings,
    normalize_base_url,
    read_settings,
)
from airflow_provider_ozonetel.hooks.endpoints import (
    CALLBACKS_ENDPOINT,
    CDR_ENDPOINT,
    RATE_LIMITS,
    TOKEN_ENDPOINT,
)
from airflow_provider_ozonetel.hooks.retries import WINDOW_MARGIN, RetrySettings
from airflow_provider_ozonetel.hooks.tokens import TOKEN_PATH, TokenManager, request_token
from airflow_provider_ozonetel.hooks.transport import Transport
from airflow_provider_ozonetel.hooks.validation import (
    CALL_REPORT_TYPES,
    build_cdr_body,
    check_call_date,
    check_report_type,
    clean_ucid,
)
from airflow_provider_ozonetel.hooks.variable_store import default_store
from airflow_provider_ozonetel.pacing import Clock

if TYPE_CHECKING:
    from airflow_provider_ozonetel.batches import Batch, Decoder
    from airflow_provider_ozonetel.budget import Reservation
    from airflow_provider_ozonetel.hooks.rate_wait import RateStats
    from airflow_provider_ozonetel.shared_state import SharedStore

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
    :param rate_limit_timeout: seconds one request may wait for the account's rate budget and
        after the vendor's rate-limit answers (default 1800); then it fails with
        :class:`OzonetelRateLimitError` saying how long it waited and how crowded the account was.
    :param rate_limit_retries: deprecated; ``rate_limit_timeout`` replaces it. When given, the
        timeout becomes that many paced windows plus one.
    :param rate_window_seconds: length of the vendor's rate window (60; shorter against the emulator).
        The hook paces by this window plus 2% (``WINDOW_MARGIN``).
    :param token_ttl_seconds: how long a token is reused before minting again (tokens live 60 min).
    :param settle_seconds: how long a claim on a shared value (a rate grant, the mint lease) waits
        before checking that it held (default 1); must exceed the time a Variable write takes.
    :param shared_store: where hooks share the token and the rate budget; default: Airflow
        Variables inside a task, the process otherwise.
    :param clock: monotonic time, wall time and sleep; tests pass a fake one.
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
        rate_limit_timeout: float = 1800.0,
        rate_limit_retries: int | None = None,
        retry_min_wait: float = 2.0,
        retry_max_wait: float = 60.0,
        rate_window_seconds: float = 60.0,
        token_ttl_seconds: float = 55 * 60,
        settle_seconds: float = 1.0,
        shared_store: SharedStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        if (
            isinstance(token_ttl_seconds, bool)
            or not isinstance(token_ttl_seconds, int | float)
            or not 0 < token_ttl_seconds < float("inf")  # refuses nan too
        ):
            raise ValueError(
                f"token_ttl_seconds: expected a finite number of seconds > 0, got {token_ttl_seconds!r}"
            )
        if rate_limit_retries is not None:
            if not isinstance(rate_limit_retries, int) or rate_limit_retries < 0:
                raise ValueError(f"rate_limit_retries: expected an integer >= 0, got {rate_limit_retries!r}")
            warnings.warn(
                "rate_limit_retries is deprecated: use rate_limit_timeout (seconds); it is taken as "
                f"{rate_limit_retries + 1} paced windows",
                DeprecationWarning,
                stacklevel=2,
            )
            rate_limit_timeout = (rate_limit_retries + 1) * rate_window_seconds * (1 + WINDOW_MARGIN)
        self.ozonetel_conn_id = ozonetel_conn_id
        self.retry = RetrySettings(
            max_retries=max_retries,
            rate_limit_timeout=rate_limit_timeout,
            retry_min_wait=retry_min_wait,
            retry_max_wait=retry_max_wait,
            rate_window_seconds=rate_window_seconds,
            settle_seconds=settle_seconds,
        )
        self.token_ttl_seconds = token_ttl_seconds
        self.clock = clock or Clock()
        self._shared_store = shared_store
        self._settings: OzonetelSettings | None = None
        self._transport: Transport | None = None
        self._tokens: TokenManager | None = None
        self._callbacks: CallBacksClient | None = None
        #: HTTP requests sent, per endpoint (retries included).
        self.requests_sent: Counter[str] = Counter()
        #: Bytes of streamed answers read, per endpoint (fetchCDRDetails; as decoded).
        self.bytes_received: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ozonetel_conn_id={self.ozonetel_conn_id!r})"

    # ------------------------------------------------------------------ connection form
    # Airflow 3.2+ reads the declarative conn-fields / ui-field-behaviour of get_provider_info()
    # and never calls these; Airflow 2.x, 3.0 and 3.1 build the form from them (see form.py).
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The extra fields of the connection form (Airflow < 3.2), from the declared conn-fields."""
        from airflow_provider_ozonetel.hooks.form import connection_form_widgets

        return connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabeled, hidden and placeholder standard fields (Airflow < 3.2), as declared."""
        from airflow_provider_ozonetel.hooks.form import ui_field_behaviour

        return ui_field_behaviour()

    # ------------------------------------------------------------------ composition
    @property
    def settings(self) -> OzonetelSettings:
        if self._settings is None:
            compat.keep_secrets_out_of_debug_logs()  # Airflow masks the key as it reads it
            self._settings = read_settings(self.get_connection(self.ozonetel_conn_id))
        return self._settings

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            transport = Transport(
                self.settings,
                retry=self.retry,
                clock=self.clock,
                requests_sent=self.requests_sent,
                bytes_received=self.bytes_received,
                store=self.shared_store,
            )
            transport.tokens = self.tokens
            self._transport = transport
        return self._transport

    @property
    def tokens(self) -> TokenManager:
        if self._tokens is None:
            self._tokens = TokenManager(
                self.settings,
                self.shared_store,
                ttl_seconds=self.token_ttl_seconds,
                mint=lambda: request_token(self.transport),
                clock=self.clock,
                settle=self.retry.settle_seconds,
            )
        return self._tokens

    @property
    def shared_store(self) -> SharedStore:
        """Where the token and the rate budget are shared (``variable_store.default_store``)."""
        if self._shared_store is None:
            self._shared_store = default_store()
        return self._shared_store

    @property
    def paced_window(self) -> float:
        """The window the hook paces by: the vendor's plus ``WINDOW_MARGIN``."""
        return self.retry.paced_window

    def get_conn(self) -> Any:
        """The HTTP session (a ``requests.Session``; no urllib3 retries: the hook retries itself)."""
        return self.transport.session

    def close(self, *, keep_reserved: bool = False) -> None:
        """Give back unused rate grants and close the HTTP session.

        ``keep_reserved=True`` closes only the session: a task deferring until its reserved
        starts carries them to its resumption (``adopt_reservation``).
        """
        if self._transport is not None:
            if not keep_reserved:
                self._transport.release_unused()
            self._transport.close()

    def __enter__(self) -> OzonetelHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """``with OzonetelHook(...) as hook:`` closes it (session, unused grants) however the block ends."""
        self.close()

    # ------------------------------------------------------------------ rate budget
    def reserve_requests(self, endpoint: str, count: int) -> Reservation:
        """Claim the account's next ``count`` starts for ``endpoint`` (``CDR_ENDPOINT`` or
        ``CALLBACKS_ENDPOINT``) now; this hook's next requests there use them, in order.

        Operators reserve before sending so they know how long the wait is (and can defer
        instead of holding a worker slot). ``close()`` gives back what was not used.
        """
        if endpoint not in RATE_LIMITS:
            raise ValueError(f"endpoint: expected one of {', '.join(RATE_LIMITS)}, got {endpoint!r}")
        return self.transport.reserve(endpoint, count)

    def adopt_reservation(self, endpoint: str, reservation: Reservation) -> None:
        """Use a reservation made before a deferral (``Reservation.from_dict``) for the next requests."""
        self.transport.adopt(endpoint, reservation)

    @property
    def rate_stats(self) -> RateStats:
        """Seconds waited for the rate limits, rate-limit answers, competing requests seen."""
        return self.transport.rate_stats

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

    def iter_cdr_batches(
        self, cdr_date: dt.date | str, *, decode: Decoder | None = None, **filters: Any
    ) -> Iterator[Batch]:
        """:meth:`iter_cdr_details` in batches of consecutive records (``batches.Batch``), each
        decoded in one call by ``decode`` (default: dicts; the day operators pass
        ``shapes.DayDecoder``, which types rows on the way)."""
        body = self.build_cdr_request(cdr_date, **filters)
        if decode is None:
            return stream_cdr_batches(self.transport, body)
        return stream_cdr_batches(self.transport, body, decode)

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
        """Check host, user name and API key with one CallBacks request (UCID 0), then which auth
        mode the account accepts with one fetchCDRDetails request carrying the apiKey header alone
        (``auth_probe.py``).

        It mints no token: minting would invalidate the token running tasks share.
        """
        from airflow_provider_ozonetel.hooks.auth_probe import accepted_auth_mode

        try:
            settings = self.settings
            self.callbacks.fetch("0", calendar.HISTORICAL, retry=False)
            accepted, detail = accepted_auth_mode(self.transport)
        except OzonetelError as exc:
            return False, redaction.redact(str(exc))
        except Exception as exc:
            return False, redaction.redact(f"{type(exc).__name__}: {exc}")
        finally:
            self.close()
        ok, verdict = _auth_mode_verdict(settings.auth_mode, accepted, detail)
        return ok, redaction.redact(
            f"Connected to {settings.base_url} as {settings.user_name}; the API key was accepted. {verdict}"
        )


def _auth_mode_verdict(configured: str, accepted: str | None, detail: str) -> tuple[bool, str]:
    """The Test button's word on the auth mode: whether the connection's matches the account's."""
    if accepted is None:
        return True, f"The account's auth mode could not be checked ({detail}); auth mode {configured} kept."
    if accepted == "api_key":
        told = "The account answers the apiKey header alone, so it is set to BASIC_AUTH"
        if configured == "api_key":
            return True, f"{told}, as auth mode api_key expects."
        return False, f"{told}, which refuses tokens: set the connection's auth mode to api_key."
    told = (
        f"The account refuses the apiKey header alone ({detail}), so it is set to TOKEN_AUTH "
        "(no token was minted to check: running tasks keep theirs)"
    )
    if configured == "token":
        return True, f"{told}, as auth mode token expects."
    return False, f"{told}: set the connection's auth mode to token."
