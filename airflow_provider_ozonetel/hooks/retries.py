"""What the hook retries, how often and after how long: its retry settings and the retry policy.

Transient failures (timeouts, broken connections, 5xx, unreadable answers) back off
exponentially with jitter, bounded in count (``max_retries``); the vendor's rate-limit answers
wait a jittered window, bounded in time (``rate_limit_timeout``); nothing else is retried.
``transport.py`` runs each request under this policy (tenacity).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import tenacity

from airflow_provider_ozonetel import redaction
from airflow_provider_ozonetel.exceptions import OzonetelRateLimitError, OzonetelTransientError
from airflow_provider_ozonetel.hooks.endpoints import TOKEN_ENDPOINT

if TYPE_CHECKING:
    from airflow_provider_ozonetel.hooks.rate_wait import RateWait
    from airflow_provider_ozonetel.hooks.transport import Transport

#: Pacing keeps this fraction of a window between request n and request n+limit, beyond the window.
WINDOW_MARGIN = 0.02
#: After a rate-limit answer the retry waits a full window plus up to this fraction of one, at
#: random, so clients the shared budget does not know about (another tool on the account, a
#: process outside a task) do not come back in step.
RATE_ANSWER_JITTER = 0.25

# The retry lines keep the logger they always had (users filter task logs by it).
log = logging.getLogger("airflow_provider_ozonetel.hooks.transport")


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


class RetryPolicy:
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
