"""One request to the vendor: auth headers, pacing, bounded retries and the judging of the answer."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import requests
import tenacity
import urllib3

from airflow_provider_ozonetel import __version__, redaction
from airflow_provider_ozonetel.exceptions import (
    OzonetelRateLimitError,
    OzonetelTokenExpiredError,
    OzonetelTransientError,
    classify,
    unreadable_answer,
)
from airflow_provider_ozonetel.pacing import Clock, SlidingWindowLimiter

if TYPE_CHECKING:
    from airflow_provider_ozonetel.hooks.connection import OzonetelSettings

CDR_ENDPOINT = "fetchCDRDetails"
CALLBACKS_ENDPOINT = "CallBacks"
TOKEN_ENDPOINT = "generateToken"
#: Pacing keeps this fraction of a window between request n and request n+limit, beyond the window.
WINDOW_MARGIN = 0.02
#: Documented limits, requests per minute.
RATE_LIMITS = {CDR_ENDPOINT: 2, CALLBACKS_ENDPOINT: 50}

READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)
_EXCERPT_CHARS = 120

log = logging.getLogger(__name__)


class TokenSource(Protocol):
    """What the transport needs of the token manager (``hooks/tokens.py``)."""

    def get_token(self, force_refresh: bool = False) -> str: ...

    def recover_from_expired(self) -> bool: ...


@dataclass(frozen=True)
class RetrySettings:
    """The hook's retry and pacing arguments."""

    max_retries: int = 3
    rate_limit_retries: int = 5
    retry_min_wait: float = 2.0
    retry_max_wait: float = 60.0
    rate_window_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name in ("max_retries", "rate_limit_retries"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: expected an integer >= 0, got {value!r}")
        if self.rate_window_seconds <= 0:
            raise ValueError(
                f"rate_window_seconds: expected a number of seconds > 0, got {self.rate_window_seconds!r}"
            )

    @property
    def paced_window(self) -> float:
        """The window the hook paces by: the vendor's, plus a margin. The hook starts the clock
        before sending and the vendor counts arrivals, so network jitter could otherwise put
        request n+limit inside the vendor's window of request n."""
        return self.rate_window_seconds * (1 + WINDOW_MARGIN)


class Transport:
    """Sends requests for one account; owns the HTTP session, pacing and retries."""

    _limiters: dict[tuple[str, str, str], SlidingWindowLimiter] = {}
    _limiters_guard = threading.Lock()

    def __init__(
        self,
        settings: OzonetelSettings,
        *,
        retry: RetrySettings,
        clock: Clock,
        requests_sent: Counter[str],
    ) -> None:
        self.settings = settings
        self.retry = retry
        self.clock = clock
        self.requests_sent = requests_sent
        self.tokens: TokenSource | None = None
        self._session: requests.Session | None = None

    # ------------------------------------------------------------------ session
    @property
    def session(self) -> requests.Session:
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
    ) -> requests.Response:
        """Send one request, paced, with the endpoint's auth."""
        send_headers = dict(headers or {})
        self._add_auth(endpoint, send_headers)
        if endpoint in RATE_LIMITS:
            self.limiter(endpoint).acquire()
        self.requests_sent[endpoint] += 1
        failure = None
        try:
            return self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=send_headers,
                stream=stream,
                timeout=(self.settings.connect_timeout, self.settings.timeout),
            )
        except requests.RequestException as exc:
            failure = transport_error(endpoint, exc)
        # Raised outside the except block: requests' texts hold the URL (and the CallBacks key).
        raise failure

    def _add_auth(self, endpoint: str, headers: dict[str, str]) -> None:
        if endpoint != CDR_ENDPOINT:
            return  # the token API takes apiKey; CallBacks takes the key as a parameter
        if self.settings.auth_mode == "api_key" or self.tokens is None:
            headers["apiKey"] = self.settings.api_key
        else:
            headers["Authorization"] = f"Bearer {self.tokens.get_token()}"

    def judge_whole(self, response: requests.Response, endpoint: str) -> Any:
        """Read a (small) answer fully and judge it by its body; return the parsed body."""
        failure = None
        try:
            content = response.content
        except READ_ERRORS as exc:
            failure = transport_error(endpoint, exc)
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

    # ------------------------------------------------------------------ retries
    def with_retries(self, endpoint: str, attempt: Callable[[], Any]) -> Any:
        """Run ``attempt`` with bounded retries; on "Token Expired" recover the token once and rerun."""
        try:
            return self._retrying(endpoint, attempt)
        except OzonetelTokenExpiredError:
            if endpoint != CDR_ENDPOINT or self.tokens is None or not self.tokens.recover_from_expired():
                raise
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

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.clock.sleep(seconds)

    # ------------------------------------------------------------------ pacing
    def limiter(self, endpoint: str) -> SlidingWindowLimiter:
        key = (self.settings.account_key, endpoint, str(self.retry.rate_window_seconds))
        with self._limiters_guard:
            limiter = self._limiters.get(key)
            if limiter is None or limiter.clock is not self.clock:
                limiter = SlidingWindowLimiter(
                    name=endpoint,
                    limit=RATE_LIMITS[endpoint],
                    period=self.retry.paced_window,
                    clock=self.clock,
                )
                self._limiters[key] = limiter
            return limiter


class _RetryPolicy:
    """Per-call retry budget: transient failures back off exponentially with jitter; rate-limit
    answers wait a full window (through the limiter, which is marked full)."""

    def __init__(self, transport: Transport, endpoint: str):
        self.transport = transport
        self.retry = transport.retry
        self.endpoint = endpoint
        self.counts: Counter[str] = Counter()
        # min_wait * 2**n (capped) plus up to min_wait of jitter: 2-4 s, 4-6 s, 8-10 s...
        self._backoff = tenacity.wait_exponential(
            multiplier=self.retry.retry_min_wait, max=self.retry.retry_max_wait
        ) + tenacity.wait_random(0, self.retry.retry_min_wait)

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
            return self.counts["rate"] > self.retry.rate_limit_retries
        return self.counts["transient"] > self.retry.max_retries

    def wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, OzonetelRateLimitError):
            if self.endpoint in RATE_LIMITS:
                self.transport.limiter(self.endpoint).penalize()
                return 0.0  # the limiter waits the window before the next send, and logs it
            return self.retry.paced_window
        return self._backoff(_BackoffState(self.counts["transient"]))

    def log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, OzonetelRateLimitError):
            log.info(
                "%s: the vendor's rate limit answered (%s); waiting for the rate window, retry %d of %d",
                self.endpoint,
                redaction.redact(str(exc)),
                self.counts["rate"],
                self.retry.rate_limit_retries,
            )
        else:
            wait = state.upcoming_sleep
            log.info(
                "%s: %s; retrying in %.1f s (retry %d of %d)",
                self.endpoint,
                redaction.redact(str(exc)),
                wait,
                self.counts["transient"],
                self.retry.max_retries,
            )


@dataclass
class _BackoffState:
    """The one field tenacity's exponential wait reads, counted per failure kind."""

    attempt_number: int


def raise_for_envelope(envelope: dict[str, Any], endpoint: str) -> None:
    error = classify(200, envelope, endpoint=endpoint)
    if error is not None:
        raise error


def transport_error(endpoint: str, exc: Exception) -> OzonetelTransientError:
    # requests' texts include the URL, which for CallBacks holds the API key: keep only the kind.
    kind = "timed out" if isinstance(exc, requests.Timeout) else "could not connect or the connection broke"
    return OzonetelTransientError(f"{endpoint} request {kind} ({type(exc).__name__})")


def _excerpt(response: requests.Response, content: bytes) -> str:
    kind = response.headers.get("Content-Type", "unknown content type")
    text = content[:_EXCERPT_CHARS].decode("utf-8", "replace").replace("\n", " ").strip()
    return redaction.redact(f"{kind}, {len(content)} bytes: {text!r}")
