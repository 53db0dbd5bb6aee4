"""Everything one run's request handlers share: options, clocks, data, limits, faults, counters."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from airflow_provider_ozonetel.emulator import answers
from airflow_provider_ozonetel.emulator.clock import EmulatorClock
from airflow_provider_ozonetel.emulator.data import Dataset
from airflow_provider_ozonetel.emulator.faults import Faults
from airflow_provider_ozonetel.emulator.limits import SlidingWindow
from airflow_provider_ozonetel.emulator.state import EmulatorState, StateSnapshot
from airflow_provider_ozonetel.emulator.streaming import BodyCache, paced, trickled
from airflow_provider_ozonetel.emulator.tokens import TokenRegistry

if TYPE_CHECKING:
    from starlette.responses import Response

    from airflow_provider_ozonetel.emulator.config import EmulatorConfig

#: fetchCDRDetails: requests per emulator minute and account.
CDR_PER_MINUTE = 2
#: CDR in CallBacks: requests per emulator minute and account.
CALLBACKS_PER_MINUTE = 50


class EmulatorContext:
    def __init__(self, config: EmulatorConfig, dataset: Dataset | None = None) -> None:
        self.config = config
        self.clock = EmulatorClock(minute_seconds=config.minute_seconds, now=config.now)
        self.dataset = dataset or Dataset(config.seed, config.calls_per_day, account=config.user)
        self.state = EmulatorState()
        self.faults = Faults()
        self.tokens = TokenRegistry(clock=self.clock.monotonic, minute_seconds=config.minute_seconds)
        minute = self.clock.minute_seconds
        self.cdr_limit = SlidingWindow(CDR_PER_MINUTE, lambda: minute, self.clock.monotonic)
        self.callbacks_limit = SlidingWindow(CALLBACKS_PER_MINUTE, lambda: minute, self.clock.monotonic)
        self.body_cache = BodyCache(config.cache_dir) if config.cache_dir else None
        self._started = self.clock.monotonic()

    def finish(self, endpoint: str, response: Response, message: str) -> Response:
        """Count the answer and hand it back (one byte at a time under the ``trickle`` fault; at the
        link's speed with ``bandwidth_mbps``)."""
        self.state.answered(endpoint, response.status_code, message, self.clock.monotonic() - self._started)
        if self.faults.take("trickle", endpoint):
            return trickled(response, self.faults.trickle_seconds)
        if self.config.bandwidth_mbps:
            return paced(response, self.config.bandwidth_mbps * 1e6 / 8)
        return response

    def rate_limit_answer(self, endpoint: str) -> Response:
        self.state.count("rate_limited", endpoint)
        if endpoint == "cdr":
            return self.finish(endpoint, answers.json_answer(answers.CDR_RATE_LIMIT, 429), "rate limit")
        if endpoint == "callbacks":
            return self.finish(
                endpoint, answers.callbacks_error(answers.CALLBACKS_RATE_LIMIT), answers.CALLBACKS_RATE_LIMIT
            )
        return self.finish(endpoint, answers.json_answer(answers.TOKEN_LIMIT, 429), "mint limit")

    async def request_faults(self, endpoint: str) -> Response | None:
        """Apply the faults that act before a request is read; an answer if one replaces it."""
        if self.faults.take("slow", endpoint):
            await asyncio.sleep(self.faults.slow_seconds)
        if self.faults.take("error_5xx", endpoint):
            return self.finish(endpoint, answers.bad_gateway(), "fault: 502")
        if self.faults.take("rate_limit_storm", endpoint):
            return self.rate_limit_answer(endpoint)
        if self.faults.take("steal_token", endpoint):
            self.tokens.mint(count_against_limit=False)
            self.state.count("stolen_mints")
        return None

    def snapshot(self) -> StateSnapshot:
        return self.state.snapshot(token_id=self.tokens.token_id, faults=self.faults.snapshot())
