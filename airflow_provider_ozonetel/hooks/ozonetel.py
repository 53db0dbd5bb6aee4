"""OzonetelHook: connection settings, token auth, pacing, retries and streaming for the CDR APIs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity
import urllib3
from airflow.sdk import BaseHook

from airflow_provider_ozonetel import __version__, calendar, redaction
from airflow_provider_ozonetel.exceptions import (
    OzonetelAuthError,
    OzonetelDataNotAvailableError,
    OzonetelError,
    OzonetelRateLimitError,
    OzonetelRequestError,
    OzonetelTokenExpiredError,
    OzonetelTransientError,
    classify,
    is_no_data,
    unreadable_answer,
)
from airflow_provider_ozonetel.hooks.token_store import (
    StoredToken,
    TokenStore,
    default_store,
    mint_lock,
)
from airflow_provider_ozonetel.pacing import Clock, SlidingWindowLimiter
from airflow_provider_ozonetel.streaming import MalformedBody, iter_details

DEFAULT_BASE_URL = "https://in1-ccaas-api.ozonetel.com"
DEFAULT_CALLBACKS_PATH = "/CAServices/CDR/callBacks.php"
TOKEN_PATH = "/ca_apis/CAToken/generateToken"
CDR_PATH = "/ca_reports/fetchCDRDetails"
AUTH_MODES = ("token", "api_key")
CALL_REPORT_TYPES = ("auto", *calendar.REPORT_TYPES)

CDR_ENDPOINT = "fetchCDRDetails"
CALLBACKS_ENDPOINT = "CallBacks"
TOKEN_ENDPOINT = "generateToken"
#: Pacing keeps this fraction of a window between request n and request n+limit, beyond the window.
WINDOW_MARGIN = 0.02
#: Documented limits, requests per minute.
RATE_LIMITS = {CDR_ENDPOINT: 2, CALLBACKS_ENDPOINT: 50}

_READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)
_API_KEY_FIELD = "Apikey"  # the CallBacks API echoes the account's key in every record
_EXCERPT_CHARS = 120

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OzonetelSettings:
    """What the hook reads from the Connection."""

    base_url: str
    user_name: str
    api_key: str = field(repr=False)
    auth_mode: str = "token"
    timeout: float = 600.0
    connect_timeout: float = 30.0
    callbacks_path: str = DEFAULT_CALLBACKS_PATH
    verify_ssl: bool = True


def normalize_base_url(host: str | None, port: int | None = None) -> str:
    """A base URL from a connection host: a full URL, a bare domain, or empty (the default)."""
    host = (host or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    if "://" not in host:
        host = f"https://{host}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OzonetelAuthError(
            f"host: {host!r} is not a base URL or domain; use e.g. 'in1-ccaas-api.ozonetel.com' "
            f"or 'https://api.ccaas.ozonetel.com' (empty means {DEFAULT_BASE_URL})"
        )
    netloc = parts.netloc
    if port and not parts.port:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


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

    _limiters: dict[tuple[str, str, str], SlidingWindowLimiter] = {}
    _limiters_guard = threading.Lock()

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
        for name, value in (("max_retries", max_retries), ("rate_limit_retries", rate_limit_retries)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: expected an integer >= 0, got {value!r}")
        if rate_window_seconds <= 0 or token_ttl_seconds <= 0:
            raise ValueError("rate_window_seconds and token_ttl_seconds must be > 0")
        self.ozonetel_conn_id = ozonetel_conn_id
        self.max_retries = max_retries
        self.rate_limit_retries = rate_limit_retries
        self.retry_min_wait = retry_min_wait
        self.retry_max_wait = retry_max_wait
        self.rate_window_seconds = rate_window_seconds
        self.token_ttl_seconds = token_ttl_seconds
        self.clock = clock or Clock()
        self._token_store = token_store
        self._settings: OzonetelSettings | None = None
        self._session: requests.Session | None = None
        self._token: StoredToken | None = None
        self._currentday_refused = False
        #: HTTP requests sent, per endpoint (retries included).
        self.requests_sent: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ozonetel_conn_id={self.ozonetel_conn_id!r})"

    # ------------------------------------------------------------------ settings
    @property
    def settings(self) -> OzonetelSettings:
        if self._settings is None:
            self._settings = self._read_settings()
        return self._settings

    def _read_settings(self) -> OzonetelSettings:
        conn = self.get_connection(self.ozonetel_conn_id)
        extra = conn.extra_dejson

        def field_value(name: str, default: Any = None) -> Any:
            value = extra.get(name, extra.get(f"extra__ozonetel__{name}"))
            return default if value in (None, "") else value

        api_key = conn.password or ""
        redaction.add_secret(api_key)
        _mask(api_key)
        auth_mode = str(field_value("auth_mode", "token")).strip().lower()
        if auth_mode not in AUTH_MODES:
            raise OzonetelAuthError(
                f"auth_mode: {auth_mode!r} is not one of {', '.join(AUTH_MODES)}; set the connection's "
                "Auth mode to 'token' (TOKEN_AUTH accounts) or 'api_key' (BASIC_AUTH accounts)"
            )
        if not conn.login:
            raise OzonetelAuthError("login: the connection has no CloudAgent user name; set Login")
        if not api_key:
            raise OzonetelAuthError("password: the connection has no API key; set Password to the API key")
        callbacks_path = str(field_value("callbacks_path", DEFAULT_CALLBACKS_PATH)).strip()
        if not callbacks_path.startswith("/"):
            callbacks_path = "/" + callbacks_path
        return OzonetelSettings(
            base_url=normalize_base_url(conn.host, conn.port),
            user_name=conn.login.strip(),
            api_key=api_key,
            auth_mode=auth_mode,
            timeout=_positive_float(field_value("timeout", 600), "timeout"),
            connect_timeout=_positive_float(field_value("connect_timeout", 30), "connect_timeout"),
            callbacks_path=callbacks_path,
            verify_ssl=_as_bool(field_value("verify_ssl", True), "verify_ssl"),
        )

    def get_conn(self) -> requests.Session:
        """The HTTP session (no urllib3 retries: the hook retries itself, bounded)."""
        if self._session is None:
            session = requests.Session()
            session.verify = self.settings.verify_ssl
            session.headers["User-Agent"] = f"airflow-provider-ozonetel/{__version__}"
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    @property
    def token_store(self) -> TokenStore:
        if self._token_store is None:
            self._token_store = default_store(self.ozonetel_conn_id)
        return self._token_store

    # ------------------------------------------------------------------ tokens
    def get_token(self, force_refresh: bool = False) -> str:
        """The shared token: reused while younger than ``token_ttl_seconds``, minted otherwise.

        ``force_refresh=True`` mints a new one (which invalidates every other holder's).
        Raises :class:`OzonetelAuthError` in ``api_key`` auth mode, which uses no token.
        """
        if self.settings.auth_mode != "token":
            raise OzonetelAuthError("auth_mode: the connection uses 'api_key' auth, which has no token")
        if not force_refresh and self._fresh(self._token):
            return self._token.token  # type: ignore[union-attr]
        with mint_lock(self._account_key()):
            stored = None if force_refresh else self.token_store.load()
            if self._fresh(stored):
                self._adopt(stored)  # type: ignore[arg-type]
            else:
                self._adopt(self._mint())
        return self._token.token  # type: ignore[union-attr]

    def _recover_from_expired(self, rejected: str) -> None:
        """After "Token Expired": take a newer token from the store if another task minted one,
        otherwise mint once."""
        with mint_lock(self._account_key()):
            stored = self.token_store.load()
            if stored is not None and stored.token != rejected and self._fresh(stored):
                log.info("Token was replaced by another task; using the newer shared token")
                self._adopt(stored)
                return
            log.info("Token expired or was invalidated; minting a new one")
            self._adopt(self._mint())

    def _fresh(self, stored: StoredToken | None) -> bool:
        return stored is not None and time.time() - stored.minted_at < self.token_ttl_seconds

    def _adopt(self, stored: StoredToken) -> None:
        redaction.add_secret(stored.token)
        _mask(stored.token)
        self._token = stored

    def _mint(self) -> StoredToken:
        settings = self.settings
        answer = self._call_json(
            TOKEN_ENDPOINT,
            "POST",
            settings.base_url + TOKEN_PATH,
            headers={"apiKey": settings.api_key, "Content-Type": "application/json"},
            json_body={"userName": settings.user_name},
        )
        token = answer.get("token") if isinstance(answer, dict) else None
        if not token or not isinstance(token, str):
            raise OzonetelAuthError(f"{TOKEN_ENDPOINT} answered without a token")
        stored = StoredToken(token=token, minted_at=time.time())
        redaction.add_secret(token)
        _mask(token)
        self.token_store.save(stored)
        log.info(
            "Minted a CloudAgent token for user %s; shared through %s",
            settings.user_name,
            self.token_store.name,
        )
        return stored

    def _account_key(self) -> str:
        return f"{self.settings.base_url}|{self.settings.user_name}"

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
        day = _request_check(calendar.parse_date, cdr_date, "cdr_date")
        _request_check(calendar.check_retention, day)
        now = calendar.now_ist()
        if day == now.date():
            # The vendor refuses a future toDate: today's window ends now.
            current = now.time().replace(microsecond=0)
            if to_time is None:
                to_time = current
            elif _request_check(calendar.parse_time, to_time, "to_time") > current:
                raise OzonetelRequestError(
                    f"to_time={to_time} is in the future (now is {current.isoformat()} IST); "
                    "use a time up to now or leave to_time empty"
                )
        from_date, to_date = _request_check(calendar.day_bounds, day, from_time, to_time)
        body = {"fromDate": from_date, "toDate": to_date, "userName": self.settings.user_name}
        optional = {
            "ucid": _numeric(ucid, "ucid"),
            "campaignName": _text(campaign_name, "campaign_name"),
            "monitorUCID": _numeric(monitor_ucid, "monitor_ucid"),
            "callType": _text(call_type, "call_type"),
            "status": _text(status, "status"),
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        return body

    def iter_cdr_details(self, cdr_date: dt.date | str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Stream the raw records of one IST day (or a ``from_time``/``to_time`` window of it).

        Arguments are validated now, before any request. Records come one at a time
        as the answer is read: memory stays flat. IDs stay exact ints. If the answer
        turns out to be an error (at its end) or is cut off, the iterator raises
        after the records read so far: consumers must treat a day as complete only
        when the iterator finished without an exception.
        """
        body = self.build_cdr_request(cdr_date, **filters)
        return self._stream_cdr(body)

    def get_cdr_details(self, cdr_date: dt.date | str, **filters: Any) -> list[dict[str, Any]]:
        """All raw records of one IST day (or window) as a list. Prefer ``iter_cdr_details``."""
        return list(self.iter_cdr_details(cdr_date, **filters))

    def _stream_cdr(self, body: dict[str, str]) -> Generator[dict[str, Any], None, None]:
        url = self.settings.base_url + CDR_PATH
        response, records, first = self._with_retries(CDR_ENDPOINT, lambda: self._open_cdr_stream(url, body))
        count = 0
        try:
            if first is None:
                return
            yield first
            count = 1
            while True:
                try:
                    record = next(records)
                except StopIteration as done:
                    _raise_for_envelope(done.value, CDR_ENDPOINT)
                    return
                yield record
                count += 1
        except MalformedBody as exc:
            raise OzonetelTransientError(
                f"{CDR_ENDPOINT} answer was cut off after {count} records ({exc}); no result was kept"
            ) from None
        except _READ_ERRORS as exc:
            broken = type(exc).__name__
        finally:
            response.close()
        # Only a broken read gets here. Raised outside the except block: transport errors' texts
        # can hold the request URL.
        raise OzonetelTransientError(
            f"{CDR_ENDPOINT} connection broke after {count} records ({broken}); no result was kept"
        )

    def _open_cdr_stream(
        self, url: str, body: dict[str, str]
    ) -> tuple[requests.Response, Iterator[dict[str, Any]], dict[str, Any] | None]:
        """One attempt: send, judge anything but a 200, read up to the first record."""
        response = self._send(CDR_ENDPOINT, "GET", url, json_body=body, stream=True)
        if response.status_code != 200:
            self._judge_whole(response, CDR_ENDPOINT)  # raises for every documented error
            raise OzonetelError(f"{CDR_ENDPOINT} answered HTTP {response.status_code} without records")
        response.raw.decode_content = True
        records = iter_details(response.raw)
        broken = None
        try:
            first = next(records)
        except StopIteration as done:
            response.close()
            _raise_for_envelope(done.value, CDR_ENDPOINT)
            return response, iter(()), None
        except MalformedBody as exc:
            response.close()
            raise OzonetelTransientError(
                f"{CDR_ENDPOINT} answered HTTP 200 with a body that is not valid JSON: {exc}",
                http_status=200,
            ) from None
        except _READ_ERRORS as exc:
            response.close()
            broken = type(exc).__name__
        if broken is not None:
            raise OzonetelTransientError(
                f"{CDR_ENDPOINT} connection broke while reading the answer ({broken})"
            )
        return response, records, first

    # ------------------------------------------------------------------ CallBacks
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
        if report_type not in CALL_REPORT_TYPES:
            raise OzonetelRequestError(
                f"report_type: {report_type!r} is not one of {', '.join(CALL_REPORT_TYPES)}"
            )
        day = None
        if call_date is not None:
            day = _request_check(calendar.parse_date, call_date, "call_date")
            _request_check(calendar.check_retention, day, None, "call_date")
        if report_type != "auto":
            return self._callbacks(ucid_text, report_type)
        if day is not None:
            try:
                chosen = calendar.callbacks_report_type(day)
            except calendar.DataNotReady as gap:
                raise OzonetelDataNotAvailableError(
                    f"UCID {ucid_text}: {gap}", available_at=gap.ready_at
                ) from None
            if chosen == calendar.HISTORICAL or self._currentday_refused:
                return self._callbacks(ucid_text, calendar.HISTORICAL)
            return self._currentday_or_historical(ucid_text, fall_through=False)
        return self._currentday_or_historical(ucid_text, fall_through=True)

    def _currentday_or_historical(self, ucid: str, *, fall_through: bool) -> list[dict[str, Any]]:
        if not self._currentday_refused:
            try:
                records = self._callbacks(ucid, calendar.CURRENT_DAY)
            except OzonetelRequestError as exc:
                if (exc.vendor_message or "").strip().lower() != "invalid reporttype":
                    raise
                # The vendor's deprecation variant: only "historical" exists.
                log.warning("CallBacks refused reportType=currentday; using historical from now on")
                self._currentday_refused = True
            else:
                if records or not fall_through:
                    return records
        return self._callbacks(ucid, calendar.HISTORICAL)

    def _callbacks(self, ucid: str, report_type: str, *, retry: bool = True) -> list[dict[str, Any]]:
        settings = self.settings
        params = {
            "userName": settings.user_name,
            "apiKey": settings.api_key,
            "ucid": ucid,
            "reportType": report_type,
        }
        answer = self._call_json(
            CALLBACKS_ENDPOINT, "GET", settings.base_url + settings.callbacks_path, params=params, retry=retry
        )
        message = answer.get("message")
        if is_no_data(message):
            return []
        if isinstance(message, dict):
            message = [message]
        if not isinstance(message, list):
            raise OzonetelError(f"{CALLBACKS_ENDPOINT} answered success without records: {message!r}")
        return [_without_api_key(record) for record in message if isinstance(record, dict)]

    # ------------------------------------------------------------------ test button
    def test_connection(self) -> tuple[bool, str]:
        """Check host, user name and API key with one CallBacks request (UCID 0).

        It mints no token: minting would invalidate the token running tasks share.
        """
        try:
            settings = self.settings
            self._callbacks("0", calendar.HISTORICAL, retry=False)
        except OzonetelError as exc:
            return False, redaction.redact(str(exc))
        except Exception as exc:
            return False, redaction.redact(f"{type(exc).__name__}: {exc}")
        return True, (
            f"Connected to {settings.base_url} as {settings.user_name} "
            f"(auth mode {settings.auth_mode}); the API key was accepted"
        )

    # ------------------------------------------------------------------ HTTP plumbing
    def _call_json(self, endpoint: str, method: str, url: str, *, retry: bool = True, **kwargs: Any) -> Any:
        def attempt() -> Any:
            response = self._send(endpoint, method, url, **kwargs)
            return self._judge_whole(response, endpoint)

        return self._with_retries(endpoint, attempt) if retry else attempt()

    def _send(
        self,
        endpoint: str,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request, paced, with the endpoint's auth."""
        send_headers = dict(headers or {})
        self._add_auth(endpoint, send_headers)
        if endpoint in RATE_LIMITS:
            self._limiter(endpoint).acquire()
        self.requests_sent[endpoint] += 1
        failure = None
        try:
            return self.get_conn().request(
                method,
                url,
                params=params,
                json=json_body,
                headers=send_headers,
                stream=stream,
                timeout=(self.settings.connect_timeout, self.settings.timeout),
            )
        except requests.RequestException as exc:
            failure = _transport_error(endpoint, exc)
        # Raised outside the except block: requests' texts hold the URL (and the CallBacks key).
        raise failure

    def _add_auth(self, endpoint: str, headers: dict[str, str]) -> None:
        if endpoint != CDR_ENDPOINT:
            return  # the token API takes apiKey; CallBacks takes the key as a parameter
        if self.settings.auth_mode == "api_key":
            headers["apiKey"] = self.settings.api_key
        else:
            headers["Authorization"] = f"Bearer {self.get_token()}"

    def _judge_whole(self, response: requests.Response, endpoint: str) -> Any:
        """Read a (small) answer fully and judge it by its body; return the parsed body."""
        failure = None
        try:
            content = response.content
        except _READ_ERRORS as exc:
            failure = _transport_error(endpoint, exc)
        finally:
            response.close()
        if failure is not None:
            raise failure
        try:
            body = json.loads(content)
        except ValueError:
            raise unreadable_answer(
                response.status_code, _excerpt(response, content), endpoint=endpoint
            ) from None
        error = classify(response.status_code, body, endpoint=endpoint)
        if error is not None:
            raise error
        return body

    def _with_retries(self, endpoint: str, attempt: Callable[[], Any]) -> Any:
        """Run ``attempt`` with bounded retries; on "Token Expired" recover the token once and rerun."""
        try:
            return self._retrying(endpoint, attempt)
        except OzonetelTokenExpiredError:
            if endpoint != CDR_ENDPOINT or self.settings.auth_mode != "token" or self._token is None:
                raise
            self._recover_from_expired(self._token.token)
        return self._retrying(endpoint, attempt)

    def _retrying(self, endpoint: str, attempt: Callable[[], Any]) -> Any:
        policy = _RetryPolicy(self, endpoint)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(policy.retryable),
            stop=policy.stop,
            wait=policy.wait,
            sleep=self._sleep,
            before_sleep=policy.log_retry,
            reraise=True,
        )
        return retrying(attempt)

    @property
    def paced_window(self) -> float:
        """The window the hook paces by: the vendor's, plus a margin. The hook starts the clock
        before sending and the vendor counts arrivals, so network jitter could otherwise put
        request n+limit inside the vendor's window of request n."""
        return self.rate_window_seconds * (1 + WINDOW_MARGIN)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.clock.sleep(seconds)

    def _limiter(self, endpoint: str) -> SlidingWindowLimiter:
        key = (self._account_key(), endpoint, str(self.rate_window_seconds))
        with self._limiters_guard:
            limiter = self._limiters.get(key)
            if limiter is None or limiter.clock is not self.clock:
                limiter = SlidingWindowLimiter(
                    name=endpoint,
                    limit=RATE_LIMITS[endpoint],
                    period=self.paced_window,
                    clock=self.clock,
                )
                self._limiters[key] = limiter
            return limiter


class _RetryPolicy:
    """Per-call retry budget: transient failures back off exponentially with jitter; rate-limit
    answers wait a full window (through the limiter, which is marked full)."""

    def __init__(self, hook: OzonetelHook, endpoint: str):
        self.hook = hook
        self.endpoint = endpoint
        self.counts: Counter[str] = Counter()
        # min_wait * 2**n (capped) plus up to min_wait of jitter: 2-4 s, 4-6 s, 8-10 s...
        self._backoff = tenacity.wait_exponential(
            multiplier=hook.retry_min_wait, max=hook.retry_max_wait
        ) + tenacity.wait_random(0, hook.retry_min_wait)

    def retryable(self, exc: BaseException) -> bool:
        """Called once per failed attempt, first: counts the failure by kind."""
        if isinstance(exc, OzonetelRateLimitError):
            if self.endpoint == TOKEN_ENDPOINT:
                return False  # 10 mints an hour: waiting a minute would not help
            self.counts["rate"] += 1
            return True
        if isinstance(exc, OzonetelTransientError):
            self.counts["transient"] += 1
            return True
        return False

    def stop(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, OzonetelRateLimitError):
            return self.counts["rate"] > self.hook.rate_limit_retries
        return self.counts["transient"] > self.hook.max_retries

    def wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, OzonetelRateLimitError):
            if self.endpoint in RATE_LIMITS:
                self.hook._limiter(self.endpoint).penalize()
                return 0.0  # the limiter waits the window before the next send, and logs it
            return self.hook.paced_window
        return self._backoff(_BackoffState(self.counts["transient"]))

    def log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, OzonetelRateLimitError):
            log.info(
                "%s: the vendor's rate limit answered (%s); waiting for the rate window, retry %d of %d",
                self.endpoint,
                redaction.redact(str(exc)),
                self.counts["rate"],
                self.hook.rate_limit_retries,
            )
        else:
            wait = state.upcoming_sleep
            log.info(
                "%s: %s; retrying in %.1f s (retry %d of %d)",
                self.endpoint,
                redaction.redact(str(exc)),
                wait,
                self.counts["transient"],
                self.hook.max_retries,
            )


@dataclass
class _BackoffState:
    """The one field tenacity's exponential wait reads, counted per failure kind."""

    attempt_number: int


def _raise_for_envelope(envelope: dict[str, Any], endpoint: str) -> None:
    error = classify(200, envelope, endpoint=endpoint)
    if error is not None:
        raise error


def _transport_error(endpoint: str, exc: Exception) -> OzonetelTransientError:
    # requests' texts include the URL, which for CallBacks holds the API key: keep only the kind.
    kind = "timed out" if isinstance(exc, requests.Timeout) else "could not connect or the connection broke"
    return OzonetelTransientError(f"{endpoint} request {kind} ({type(exc).__name__})")


def _excerpt(response: requests.Response, content: bytes) -> str:
    kind = response.headers.get("Content-Type", "unknown content type")
    text = content[:_EXCERPT_CHARS].decode("utf-8", "replace").replace("\n", " ").strip()
    return redaction.redact(f"{kind}, {len(content)} bytes: {text!r}")


def _without_api_key(record: dict[str, Any]) -> dict[str, Any]:
    if _API_KEY_FIELD in record:
        record = dict(record)
        record[_API_KEY_FIELD] = redaction.REDACTED
    return record


def _mask(secret: str) -> None:
    """Register a secret with Airflow's masker (task logs, rendered fields, XCom)."""
    if not secret:
        return
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(secret)
    except Exception:  # masking must never break a request; redaction still applies
        log.debug("Could not register a secret with Airflow's masker", exc_info=False)


def _request_check(check: Callable[..., Any], *args: Any) -> Any:
    """Run a calendar check; turn its ValueError into a request error (no request is sent)."""
    try:
        return check(*args)
    except ValueError as exc:
        raise OzonetelRequestError(str(exc)) from None


def clean_ucid(value: int | str | None, field: str = "ucid") -> str:
    """A UCID as its exact digit string; raises :class:`OzonetelRequestError` naming ``field``."""
    text = _numeric(value, field)
    if text is None:
        raise OzonetelRequestError(f"{field}: a UCID is required (digits only, e.g. '31733467784618213')")
    return text


def _numeric(value: int | str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise OzonetelRequestError(
            f"{field}: expected digits (an int or a string), got {type(value).__name__}"
        )
    text = str(value).strip()
    if not text.isdigit() or not text.isascii():
        raise OzonetelRequestError(f"{field}: {value!r} is not numeric; a UCID is digits only")
    return text


def _text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise OzonetelRequestError(f"{field}: expected a non-empty string, got {value!r}")
    return value.strip()


def _positive_float(value: Any, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1
    if number <= 0:
        raise OzonetelAuthError(f"{field}: expected a number of seconds > 0, got {value!r}")
    return number


def _as_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise OzonetelAuthError(f"{field}: expected true or false, got {value!r}")
