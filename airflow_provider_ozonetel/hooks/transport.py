"""One request to the vendor: auth headers, its start in the rate budget, retries, the judging.

The retry policy is ``retries.py``; the wait for the account's rate limit, ``rate_wait.py``;
the endpoints and their limits, ``endpoints.py`` (their names stay importable from here).
"""

from __future__ import annotations

import codecs
import json
import logging
import random
import socket
import ssl
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import requests
import tenacity
import urllib3

from airflow_provider_ozonetel import __version__, redaction
from airflow_provider_ozonetel.exceptions import (
    OzonetelAuthError,
    OzonetelError,
    OzonetelTokenExpiredError,
    OzonetelTransientError,
    classify,
    unreadable_answer,
)
from airflow_provider_ozonetel.hooks.endpoints import (
    CALLBACKS_ENDPOINT,
    CDR_ENDPOINT,
    RATE_LIMITS,
    TOKEN_ENDPOINT,
)
from airflow_provider_ozonetel.hooks.http_session import OffOriginRedirect, OzonetelSession, RequestDeadline
from airflow_provider_ozonetel.hooks.rate_wait import RateGate, RateStats, RateWait, budget_key
from airflow_provider_ozonetel.hooks.retries import (
    RATE_ANSWER_JITTER,
    WINDOW_MARGIN,
    RetryPolicy,
    RetrySettings,
)

if TYPE_CHECKING:
    from airflow_provider_ozonetel.budget import RateBudget, Reservation
    from airflow_provider_ozonetel.hooks.connection import OzonetelSettings
    from airflow_provider_ozonetel.pacing import Clock
    from airflow_provider_ozonetel.shared_state import SharedStore

__all__ = [  # names other modules import from here
    "CALLBACKS_ENDPOINT",
    "CDR_ENDPOINT",
    "RATE_ANSWER_JITTER",
    "RATE_LIMITS",
    "TOKEN_ENDPOINT",
    "WINDOW_MARGIN",
    "RateStats",
    "RateWait",
    "RetrySettings",
    "Transport",
    "budget_key",
]

READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)
_EXCERPT_CHARS = 120

log = logging.getLogger(__name__)


class TokenSource(Protocol):
    """What the transport needs of the token manager (``hooks/tokens.py``)."""

    def get_token(self, force_refresh: bool = False) -> str: ...

    def recover_from_expired(self) -> bool: ...


class Transport:
    """Sends requests for one account; owns the HTTP session, pacing and retries.

    Pacing goes through the account's rate budget in ``store`` (``budget.py``): every hook of
    the process, and inside tasks every worker of the deployment, shares one budget per account
    and endpoint.
    """

    def __init__(
        self,
        settings: OzonetelSettings,
        *,
        retry: RetrySettings,
        clock: Clock,
        requests_sent: Counter[str],
        bytes_received: Counter[str] | None = None,
        store: SharedStore,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry
        self.clock = clock
        self.requests_sent = requests_sent
        #: Bytes of streamed answers read, per endpoint (as decoded: what the parser reads).
        self.bytes_received: Counter[str] = Counter() if bytes_received is None else bytes_received
        self.store = store
        self.rng = rng or random.Random()
        self.tokens: TokenSource | None = None
        self.rate = RateGate(settings, retry=retry, clock=clock, store=store, rng=self.rng)
        self._session: requests.Session | None = None
        self._wait: RateWait | None = None

    # ------------------------------------------------------------------ session
    @property
    def session(self) -> requests.Session:
        """The HTTP session (no urllib3 retries: the hook retries itself, bounded)."""
        if self._session is None:
            session = OzonetelSession(self.settings.base_url)  # no redirect off the configured host
            session.verify = self.settings.verify_ssl
            session.headers["User-Agent"] = f"airflow-provider-ozonetel/{__version__}"
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # ------------------------------------------------------------------ requests
    def call_json(self, endpoint: str, method: str, url: str, *, retry: bool = True, **kwargs: Any) -> Any:
        """Send, read the (small) answer whole and judge it; return the parsed body."""

        def attempt() -> Any:
            response = self.send(endpoint, method, url, **kwargs)
            return self.judge_whole(response, endpoint)

        return self.with_retries(endpoint, attempt) if retry else attempt()

    def send(
        self,
        endpoint: str,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        api_key_only: bool = False,
    ) -> requests.Response:
        """Send one request, paced, with the endpoint's auth (``api_key_only``: the apiKey header
        whatever the auth mode, never a token: how the Test button tells the account's mode)."""
        send_headers = dict(headers or {})
        wait = self._wait or RateWait()
        while True:
            if endpoint in RATE_LIMITS:
                # Get the token first (a mint, or the wait for another worker's, takes seconds), so
                # the request leaves at its start; the wait for the start can be long, so the token
                # is checked again after it (normally no I/O: the hook keeps it while fresh).
                self._add_auth(endpoint, {}, api_key_only)
                start = self.acquire(endpoint, wait)
            self._add_auth(endpoint, send_headers, api_key_only)
            if endpoint not in RATE_LIMITS or self.clock.wall() - start <= self.retry.late_tolerance:
                break
            log.info("%s: the token took until after the request's start; taking a new start", endpoint)
        self.requests_sent[endpoint] += 1
        failure = None
        deadline = RequestDeadline(self.settings.request_deadline)
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=send_headers,
                stream=stream,
                timeout=(self.settings.connect_timeout, self.settings.timeout),
            )
        except requests.RequestException as exc:
            deadline.cancel()
            failure = transport_error(endpoint, exc, base_url=self.settings.base_url, deadline=deadline)
        except OffOriginRedirect as exc:
            deadline.cancel()
            failure = OzonetelAuthError(
                f"{endpoint} answered with an {exc}, off the configured host "
                f"{self.settings.base_url}: not followed, since it would carry the API key or token "
                "there. If the vendor moved the API, set the connection's host to the new base URL"
            )
        else:
            if stream:
                _until_closed(response, deadline)
            else:  # the body was read inside request()
                deadline.cancel()
            return response
        # Raised outside the except block: requests' texts hold the URL (and the CallBacks key).
        raise failure

    def _add_auth(self, endpoint: str, headers: dict[str, str], api_key_only: bool = False) -> None:
        if endpoint != CDR_ENDPOINT:
            return  # the token API takes apiKey; CallBacks takes the key as a parameter
        if api_key_only or self.settings.auth_mode == "api_key" or self.tokens is None:
            headers["apiKey"] = self.settings.api_key
        else:
            headers["Authorization"] = f"Bearer {self.tokens.get_token()}"

    def judge_whole(self, response: requests.Response, endpoint: str) -> Any:
        """Read a (small) answer fully and judge it by its body; return the parsed body."""
        failure = None
        try:
            content = response.content
        except READ_ERRORS as exc:
            failure = read_error(endpoint, exc, response, "while reading the answer")
        finally:
            response.close()
        if failure is not None:
            raise failure
        try:
            body = json.loads(content.removeprefix(codecs.BOM_UTF8))
        except (ValueError, RecursionError):  # RecursionError: nested deeper than json reads
            raise unreadable_answer(
                response.status_code, _excerpt(response, content), endpoint=endpoint
            ) from None
        error = classify(response.status_code, body, endpoint=endpoint)
        if error is not None:
            raise error
        return body

    # ------------------------------------------------------------------ retries
    def with_retries(self, endpoint: str, attempt: Callable[[], Any]) -> Any:
        """Run ``attempt`` with bounded retries. On "Token Expired" the token is recovered (a newer
        shared one, or a new mint within the quota) and the request sent again, as often as
        recovery succeeds (``tokens.py`` bounds it)."""
        outer, self._wait = self._wait, RateWait()
        try:
            while True:
                try:
                    return self._retrying(endpoint, attempt)
                except OzonetelTokenExpiredError:
                    if endpoint != CDR_ENDPOINT or self.tokens is None:
                        raise
                    if not self.tokens.recover_from_expired():
                        raise
        finally:
            self._wait = outer

    def _retrying(self, endpoint: str, attempt: Callable[[], Any]) -> Any:
        policy = RetryPolicy(self, endpoint, self._wait or RateWait())
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(policy.retryable),
            stop=policy.stop,
            wait=policy.wait,
            sleep=self._sleep,
            before_sleep=policy.log_retry,
            reraise=True,
        )
        return retrying(attempt)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.clock.sleep(seconds)

    # ------------------------------------------------------------------ the rate budget (rate_wait.py)
    @property
    def rate_stats(self) -> RateStats:
        return self.rate.stats

    def budget(self, endpoint: str) -> RateBudget:
        return self.rate.budget(endpoint)

    def reserve(self, endpoint: str, count: int) -> Reservation:
        return self.rate.reserve(endpoint, count)

    def adopt(self, endpoint: str, reservation: Reservation) -> None:
        self.rate.adopt(endpoint, reservation)

    def release_unused(self) -> None:
        self.rate.release_unused()

    def acquire(self, endpoint: str, wait: RateWait) -> float:
        return self.rate.acquire(endpoint, wait)


def raise_for_envelope(envelope: dict[str, Any], endpoint: str) -> None:
    error = classify(200, envelope, endpoint=endpoint)
    if error is not None:
        raise error


def transport_error(
    endpoint: str, exc: Exception, *, base_url: str | None = None, deadline: RequestDeadline | None = None
) -> OzonetelError:
    """The hook's error for a failed send. requests' texts include the URL, which for CallBacks
    holds the API key: only the kind of failure is kept."""
    if deadline is not None and deadline.expired:
        return deadline_error(endpoint, deadline, "before its answer was read")
    problem = configuration_problem(exc)
    if problem is not None and base_url is not None:
        # Not transient: retrying a refused port or an unknown host only delays the real fix.
        return OzonetelAuthError(
            f"{endpoint} could not connect to {base_url}: {problem}. Check the connection's host "
            "and port (not retried: this is the connection's settings, not a passing failure)"
        )
    kind = "timed out" if isinstance(exc, requests.Timeout) else "could not connect or the connection broke"
    return OzonetelTransientError(f"{endpoint} request {kind} ({type(exc).__name__})")


def read_error(endpoint: str, exc: BaseException, response: Any, when: str) -> OzonetelTransientError:
    """A read of an answer's body that failed ``when`` (e.g. "after 12 records"): broken, or
    stopped by the request deadline."""
    deadline = getattr(response, "deadline", None)
    if deadline is not None and deadline.expired:
        return deadline_error(endpoint, deadline, when)
    return OzonetelTransientError(
        f"{endpoint} connection broke {when} ({type(exc).__name__}); no result was kept"
    )


def deadline_error(endpoint: str, deadline: RequestDeadline, when: str) -> OzonetelTransientError:
    return OzonetelTransientError(
        f"{endpoint} answer did not finish within the request deadline of {deadline.seconds:g} s "
        f"({when}); no result was kept. A peer sending slowly (a byte at a time) never trips the read "
        "timeout; the connection's request_deadline bounds the whole request"
    )


def configuration_problem(exc: BaseException) -> str | None:
    """What in the connection's settings makes ``exc`` (a refused port, an unknown host, a TLS
    certificate that does not verify), or None for a failure that may pass."""
    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        error = pending.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, ConnectionRefusedError):
            return "the connection was refused (nothing listens on that host and port)"
        if isinstance(error, socket.gaierror) and error.errno in _UNKNOWN_HOST:
            return "the host name does not resolve"
        if isinstance(error, ssl.SSLCertVerificationError):
            return "its TLS certificate does not verify (for a partner host with a private one: verify_ssl)"
        pending += [error.__cause__, error.__context__, getattr(error, "reason", None), *error.args]
    return None


_UNKNOWN_HOST = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


def _until_closed(response: requests.Response, deadline: RequestDeadline) -> None:
    """Keep the request's deadline running until its answer is closed (a streamed body is read
    after ``send`` returns); readers check ``response.deadline.expired`` on a broken read."""
    close = response.close

    def close_and_cancel() -> None:
        deadline.cancel()
        close()

    response.deadline = deadline  # type: ignore[attr-defined]
    response.close = close_and_cancel  # type: ignore[method-assign]


def _excerpt(response: requests.Response, content: bytes) -> str:
    kind = response.headers.get("Content-Type", "unknown content type")
    text = content[:_EXCERPT_CHARS].decode("utf-8", "replace").replace("\n", " ").strip()
    return redaction.redact(f"{kind}, {len(content)} bytes: {text!r}")
