"""One request to the vendor: auth headers, pacing, bounded retries and the judging of the answer."""

from __future__ import annotations

import codecs
import json
import logging
import random
import socket
import ssl
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import requests
import tenacity
import urllib3

from airflow_provider_ozonetel import __version__, redaction
from airflow_provider_ozonetel.budget import Grant, RateBudget, Reservation
from airflow_provider_ozonetel.exceptions import (
    OzonetelAuthError,
    OzonetelError,
    OzonetelRateLimitError,
    OzonetelTokenExpiredError,
    OzonetelTransientError,
    classify,
    unreadable_answer,
)
from airflow_provider_ozonetel.hooks.http_session import OffOriginRedirect, OzonetelSession, RequestDeadline

if TYPE_CHECKING:
    from airflow_provider_ozonetel.hooks.connection import OzonetelSettings
    from airflow_provider_ozonetel.pacing import Clock
    from airflow_provider_ozonetel.shared_state import SharedStore

CDR_ENDPOINT = "fetchCDRDetails"
CALLBACKS_ENDPOINT = "CallBacks"
TOKEN_ENDPOINT = "generateToken"
#: Pacing keeps this fraction of a window between request n and request n+limit, beyond the window.
WINDOW_MARGIN = 0.02
#: Documented limits, requests per minute.
RATE_LIMITS = {CDR_ENDPOINT: 2, CALLBACKS_ENDPOINT: 50}
#: After a rate-limit answer the retry waits a full window plus up to this fraction of one, at
#: random, so clients the shared budget does not know about (another tool on the account, a
#: process outside a task) do not come back in step.
RATE_ANSWER_JITTER = 0.25

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
    #: Seconds one request may spend waiting for the account's rate budget and after the
    #: vendor's rate-limit answers, before it fails.
    rate_limit_timeout: float = 1800.0
    retry_min_wait: float = 2.0
    retry_max_wait: float = 60.0
    rate_window_seconds: float = 60.0
    #: Seconds a claim on a shared value (rate grant, token lease) waits before checking it held.
    settle_seconds: float = 1.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            raise ValueError(f"max_retries: expected an integer >= 0, got {self.max_retries!r}")
        window = self.rate_window_seconds
        if isinstance(window, bool) or not isinstance(window, int | float) or not 0 < window < float("inf"):
            raise ValueError(f"rate_window_seconds: expected a finite number of seconds > 0, got {window!r}")
        # "not 0 <= value < inf" also refuses nan, which compares false with everything
        for name in ("rate_limit_timeout", "settle_seconds", "retry_min_wait", "retry_max_wait"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
                raise ValueError(f"{name}: expected a finite number of seconds >= 0, got {value!r}")

    @property
    def paced_window(self) -> float:
        """The window the hook paces by: the vendor's, plus a margin. The hook starts the clock
        before sending and the vendor counts arrivals, so network jitter could otherwise put
        request n+limit inside the vendor's window of request n."""
        return self.rate_window_seconds * (1 + WINDOW_MARGIN)

    @property
    def late_tolerance(self) -> float:
        """How late a request may leave after its grant: half the margin (the other half is for
        network jitter and clock skew). A grant older than that is given up for a new one."""
        return self.rate_window_seconds * WINDOW_MARGIN / 2


@dataclass
class RateWait:
    """What one request (its retries included) spent on the rate limits."""

    waited: float = 0.0
    rate_answers: int = 0
    competing: int = 0
    #: After a rate-limit answer: the earliest wall-clock time of the retry (a window plus jitter).
    not_before: float | None = None
    #: The vendor's last rate-limit answer, quoted when the wait is given up.
    last_answer: str = ""


@dataclass
class RateStats:
    """What the hook's requests spent on the rate limits, all requests together."""

    waited: float = 0.0
    rate_answers: int = 0
    competing: int = 0
    waits: Counter[str] = field(default_factory=Counter)


def budget_key(account_id: str, endpoint: str) -> str:
    """The shared store's key for an account's budget on one endpoint."""
    return f"ozonetel_rate_budget_{endpoint}_{account_id}"


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
        self.rate_stats = RateStats()
        self._session: requests.Session | None = None
        self._budgets: dict[str, RateBudget] = {}
        self._reserved: dict[str, deque[Grant]] = {}
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
        policy = _RetryPolicy(self, endpoint, self._wait or RateWait())
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
    def budget(self, endpoint: str) -> RateBudget:
        """The account's budget for ``endpoint`` (its state lives in the shared store, so every
        hook of the process, and of the deployment inside tasks, uses the same one)."""
        budget = self._budgets.get(endpoint)
        if budget is None:
            budget = RateBudget(
                self.store,
                budget_key(self.settings.account_id, endpoint),
                limit=RATE_LIMITS[endpoint],
                period=self.retry.paced_window,
                clock=self.clock,
                settle=self.retry.settle_seconds,
                description=f"Ozonetel rate budget of {self.settings.user_name} at "
                f"{self.settings.base_url}, {endpoint} (managed by the provider)",
                rng=self.rng,
            )
            self._budgets[endpoint] = budget
        return budget

    def reserve(self, endpoint: str, count: int) -> Reservation:
        """Claim the next ``count`` starts for ``endpoint`` now; the next requests use them in order."""
        reservation = self.budget(endpoint).reserve(count)
        self.adopt(endpoint, reservation)
        return reservation

    def adopt(self, endpoint: str, reservation: Reservation) -> None:
        """Use grants claimed earlier (by this task before a deferral) for the next requests."""
        self._reserved.setdefault(endpoint, deque()).extend(reservation.grants)
        self.rate_stats.competing = max(self.rate_stats.competing, reservation.competing)

    def release_unused(self) -> None:
        """Give back reserved grants no request used."""
        for endpoint, queue in self._reserved.items():
            if queue:
                self.budget(endpoint).release(list(queue))
                queue.clear()

    def acquire(self, endpoint: str, wait: RateWait) -> float:
        """Wait for this request's start in the account's budget (a reserved grant, or a new one);
        the start (wall clock)."""
        budget = self.budget(endpoint)
        queue = self._reserved.get(endpoint)
        while True:
            after_answer = False
            if queue:
                grant = queue.popleft()
            else:
                after_answer = wait.not_before is not None  # the vendor said "rate limit": wait it out
                reservation = budget.reserve(1, not_before=wait.not_before)
                wait.not_before = None
                wait.competing = max(wait.competing, reservation.competing)
                self.rate_stats.competing = max(self.rate_stats.competing, reservation.competing)
                grant = reservation.grants[0]
            delay = grant.at - self.clock.wall()
            if delay < -self.retry.late_tolerance:
                # Woken too late (a deferral resumed late, a paused process): starting now could
                # crowd the next window, so take a fresh grant.
                log.info("%s: a rate grant is %.1f s old; taking a new one", endpoint, -delay)
                continue
            if wait.waited + max(delay, 0.0) > self.retry.rate_limit_timeout:
                budget.release([grant])
                raise self._budget_spent(endpoint, wait, delay)
            if delay > 0:
                self._log_wait(endpoint, delay, wait.competing, after_answer, routine=delay <= budget.lead)
                self.clock.sleep(delay)
                wait.waited += delay
                self.rate_stats.waited += delay
                self.rate_stats.waits[endpoint] += 1
            return grant.at

    def _log_wait(
        self, endpoint: str, delay: float, competing: int, after_answer: bool, *, routine: bool = False
    ) -> None:
        if after_answer:  # the window is full by the vendor's word, not by requests: say so
            log.info(
                "Pacing %s: waiting %.1f s after the vendor's rate-limit answer (a window plus jitter; "
                "%d other request(s) of this account in the last window and ahead)",
                endpoint,
                delay,
                competing,
            )
            return
        # A wait within the claim's own lead (its settle time) is routine: DEBUG, not a line per request.
        log.log(
            logging.DEBUG if routine else logging.INFO,
            "Pacing %s: the account's next free start is in %.1f s (%d requests of this account "
            "in the last window and ahead; limit %d a window of %.0f s)",
            endpoint,
            delay,
            competing,
            RATE_LIMITS[endpoint],
            self.retry.rate_window_seconds,
        )

    def _budget_spent(self, endpoint: str, wait: RateWait, delay: float) -> OzonetelRateLimitError:
        error = OzonetelRateLimitError(
            f"{endpoint}: gave up waiting for the account's rate limit after {wait.waited:.0f} s "
            f"(rate_limit_timeout={self.retry.rate_limit_timeout:.0f} s): {wait.rate_answers} rate-limit "
            f"answer(s), {wait.competing} competing request(s) of this account seen in the budget, the "
            f"next free start {max(delay, 0):.0f} s away"
            + (f"; the vendor's last answer: {wait.last_answer}" if wait.last_answer else "")
            + ". Raise rate_limit_timeout, or run fewer of this account's tasks at once"
        )
        error.budget_spent = True
        return error


class _RetryPolicy:
    """Per-call retry budget: transient failures back off exponentially with jitter, bounded in
    count; rate-limit answers mark the account's budget full and wait a jittered window, bounded
    in time (``rate_limit_timeout``)."""

    def __init__(self, transport: Transport, endpoint: str, rate_wait: RateWait):
        self.transport = transport
        self.retry = transport.retry
        self.endpoint = endpoint
        self.rate_wait = rate_wait
        self.counts: Counter[str] = Counter()
        self._jitter = 0.0
        # min_wait * 2**n (capped) plus up to min_wait of jitter: 2-4 s, 4-6 s, 8-10 s...
        self._backoff = tenacity.wait_exponential(
            multiplier=self.retry.retry_min_wait, max=self.retry.retry_max_wait
        ) + tenacity.wait_random(0, self.retry.retry_min_wait)

    def retryable(self, exc: BaseException) -> bool:
        """Called once per failed attempt, first: counts the failure by kind."""
        if isinstance(exc, OzonetelRateLimitError):
            if self.endpoint == TOKEN_ENDPOINT or getattr(exc, "budget_spent", False):
                return False  # 10 mints an hour: waiting a minute would not help
            self.counts["rate"] += 1
            self.rate_wait.rate_answers += 1
            self.rate_wait.last_answer = redaction.redact(getattr(exc, "vendor_message", None) or str(exc))
            self.transport.rate_stats.rate_answers += 1
            return True
        if isinstance(exc, OzonetelTransientError):
            self.counts["transient"] += 1
            return True
        return False

    def stop(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, OzonetelRateLimitError):
            return False  # bounded in time by the budget's wait (rate_limit_timeout)
        return self.counts["transient"] > self.retry.max_retries

    def wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, OzonetelRateLimitError):
            # Everyone on the account waits a window (the budget is marked full), this request a
            # random bit more; the wait itself happens in ``acquire``, counted against the timeout.
            self.transport.budget(self.endpoint).mark_full()
            window = self.retry.paced_window
            self._jitter = self.transport.rng.uniform(0, RATE_ANSWER_JITTER * window)
            self.rate_wait.not_before = self.transport.clock.wall() + window + self._jitter
            return 0.0
        return self._backoff(_BackoffState(self.counts["transient"]))

    def log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, OzonetelRateLimitError):
            log.info(
                "%s: the vendor's rate limit answered (%s); waiting for the rate window plus %.1f s of "
                "jitter (rate-limit answer %d; waited %.0f s of rate_limit_timeout=%.0f s)",
                self.endpoint,
                redaction.redact(str(exc)),
                self._jitter,
                self.counts["rate"],
                self.rate_wait.waited,
                self.retry.rate_limit_timeout,
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
