"""Waiting for the account's rate limit: each request's start from the shared budget.

The budget itself (``budget.py``, pure) keeps the starts of one account and endpoint in the
shared store, so every hook of the process, and inside tasks every worker of the deployment,
draws from one budget. Here a request takes its start (a reserved one, or a new one), waits for
it, and gives up past ``rate_limit_timeout``; a task reserves its starts ahead and carries them
across a deferral; what was waited is counted.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_ozonetel.budget import Grant, RateBudget, Reservation
from airflow_provider_ozonetel.exceptions import OzonetelRateLimitError
from airflow_provider_ozonetel.hooks.endpoints import RATE_LIMITS

if TYPE_CHECKING:
    from airflow_provider_ozonetel.hooks.connection import OzonetelSettings
    from airflow_provider_ozonetel.hooks.retries import RetrySettings
    from airflow_provider_ozonetel.pacing import Clock
    from airflow_provider_ozonetel.shared_state import SharedStore

# The pacing lines keep the logger they always had (users filter task logs by it).
log = logging.getLogger("airflow_provider_ozonetel.hooks.transport")


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


class RateGate:
    """The account's rate budgets as one hook's requests use them."""

    def __init__(
        self,
        settings: OzonetelSettings,
        *,
        retry: RetrySettings,
        clock: Clock,
        store: SharedStore,
        rng: random.Random,
    ) -> None:
        self.settings = settings
        self.retry = retry
        self.clock = clock
        self.store = store
        self.rng = rng
        self.stats = RateStats()
        self._budgets: dict[str, RateBudget] = {}
        self._reserved: dict[str, deque[Grant]] = {}

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
        self.stats.competing = max(self.stats.competing, reservation.competing)

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
                self.stats.competing = max(self.stats.competing, reservation.competing)
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
                self.stats.waited += delay
                self.stats.waits[endpoint] += 1
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
