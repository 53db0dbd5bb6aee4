"""What a run has seen and done: counters tests assert on, and a short request log."""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Any

from airflow_provider_ozonetel.emulator.faults import ENDPOINTS

LOG_SIZE = 10_000


@dataclasses.dataclass(frozen=True)
class StateSnapshot:
    """A copy of the counters at one moment (safe to keep; it does not change)."""

    #: Tokens minted through Generate Token (stolen ones not included).
    mints: int
    #: Tokens minted by the steal-token fault.
    stolen_mints: int
    #: Generate Token requests refused by the 10-per-hour limit.
    mint_refusals: int
    #: Sequence number of the current token (0: none). The token itself is never shown.
    token_id: int
    #: Requests per endpoint (token, cdr, callbacks, other), every answer counted.
    requests: dict[str, int]
    #: Rate-limit answers sent per endpoint (storm fault included).
    rate_limited: dict[str, int]
    #: HTTP status codes sent, per endpoint: {"cdr": {200: 3, 429: 1}}.
    statuses: dict[str, dict[int, int]]
    #: fetchCDRDetails records sent in bodies (faulty bodies included).
    records_sent: int
    #: The faults: remaining count, times fired, endpoints (and slow seconds).
    faults: dict[str, Any]
    #: Recent answers, oldest first: {"t", "endpoint", "status", "message"}; ``t`` is
    #: window-clock seconds since the run started.
    log: tuple[dict[str, Any], ...]

    def as_dict(self, *, log: bool = False) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["statuses"] = {ep: {str(k): v for k, v in codes.items()} for ep, codes in self.statuses.items()}
        if not log:
            data.pop("log")
        return data


class EmulatorState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mints = 0
        self.stolen_mints = 0
        self.mint_refusals = 0
        self.records_sent = 0
        self.requests: collections.Counter[str] = collections.Counter()
        self.rate_limited: collections.Counter[str] = collections.Counter()
        self.statuses: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
        self.log: collections.deque[dict[str, Any]] = collections.deque(maxlen=LOG_SIZE)

    def answered(self, endpoint: str, status: int, message: str, t: float) -> None:
        with self._lock:
            self.requests[endpoint] += 1
            self.statuses[endpoint][status] += 1
            self.log.append({"t": round(t, 3), "endpoint": endpoint, "status": status, "message": message})

    def count(self, name: str, endpoint: str | None = None, n: int = 1) -> None:
        """Add ``n`` to a counter: mints, stolen_mints, mint_refusals, records_sent, rate_limited."""
        with self._lock:
            if name == "rate_limited":
                self.rate_limited[endpoint or "?"] += n
            else:
                setattr(self, name, getattr(self, name) + n)

    def snapshot(self, *, token_id: int, faults: dict[str, Any]) -> StateSnapshot:
        with self._lock:
            return StateSnapshot(
                mints=self.mints,
                stolen_mints=self.stolen_mints,
                mint_refusals=self.mint_refusals,
                token_id=token_id,
                requests={ep: self.requests.get(ep, 0) for ep in (*ENDPOINTS, "other")},
                rate_limited={ep: self.rate_limited.get(ep, 0) for ep in ENDPOINTS},
                statuses={ep: dict(codes) for ep, codes in self.statuses.items()},
                records_sent=self.records_sent,
                faults=faults,
                log=tuple(dict(entry) for entry in self.log),
            )
