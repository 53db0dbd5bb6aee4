"""Faults a run can inject, switchable by command-line flag and at runtime.

Each fault has a count N: how many matching requests it affects (the first N;
-1 = every one; 0 = off), and the endpoints it matches (``token``, ``cdr``,
``callbacks``). Names (command line ``--fault-<name>`` with dashes):

* ``slow`` (seconds) + ``slow_count``: answers come that much later.
* ``trickle`` (seconds) + ``trickle_count``: the answer's body comes one byte at a time, that
  many seconds apart (a peer that never stalls long enough for a read timeout).
* ``error_5xx`` (alias ``5xx``): HTTP 502 with a gateway's HTML page.
* ``drop``: a fetchCDRDetails body stops after some records and the connection
  is closed (the client sees a broken read, not a clean end).
* ``truncate``: a fetchCDRDetails body is cut in the middle of a record, but
  the response ends cleanly (the JSON is incomplete).
* ``error_at_end``: the details stream, then the body ends with the vendor's
  rate-limit error instead of ``success``.
* ``rate_limit_storm``: the endpoint's rate-limit answer, whatever the window.
* ``steal_token``: before the request, a new token is minted behind the
  client's back (as when another worker mints), so its token is "Token Expired".

Body faults (drop, truncate, error_at_end) only count requests that would
have been answered with success; the others count every matching request.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from typing import Any

ENDPOINTS = ("token", "cdr", "callbacks")
REPORTS = ("cdr", "callbacks")
#: Fault name -> endpoints it matches unless told otherwise.
DEFAULT_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "slow": REPORTS,
    "trickle": REPORTS,
    "error_5xx": REPORTS,
    "drop": ("cdr",),
    "truncate": ("cdr",),
    "error_at_end": ("cdr",),
    "rate_limit_storm": REPORTS,
    "steal_token": ("cdr",),
}
FAULT_NAMES = tuple(DEFAULT_ENDPOINTS)
#: Faults that take a number of seconds (``name=SECONDS``) and a count (``name_count=N``).
TIMED = ("slow", "trickle")
_ALIASES = {"5xx": "error_5xx", "fault_5xx": "error_5xx"}


@dataclasses.dataclass
class Fault:
    remaining: int = 0
    endpoints: tuple[str, ...] = ()
    fired: int = 0


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.slow_seconds = 0.0
        self.trickle_seconds = 0.0
        self._faults = {name: Fault(endpoints=scope) for name, scope in DEFAULT_ENDPOINTS.items()}

    def set(self, **changes: Any) -> None:
        """Change faults: ``name=N``, ``name_endpoints=[...]``, ``slow=SECONDS``, ``slow_count=N``
        (``trickle`` likewise).

        ``slow=SECONDS`` without ``slow_count`` slows every matching answer.
        Unknown names raise ValueError (nothing changes then).
        """
        updates: dict[str, int] = {}
        scopes: dict[str, tuple[str, ...]] = {}
        seconds: dict[str, float] = {}
        for raw_key, value in changes.items():
            key = _ALIASES.get(raw_key, raw_key)
            if key.startswith("fault_"):
                key = _ALIASES.get(key[6:], key[6:])
            if key in TIMED:
                seconds[key] = _number(value, key)
                if seconds[key] < 0:
                    raise ValueError(f"{key}: expected seconds >= 0")
            elif key.endswith("_count") and key[: -len("_count")] in TIMED:
                updates[key[: -len("_count")]] = _count(value, key)
            elif key.endswith("_endpoints") and key[: -len("_endpoints")] in self._faults:
                scopes[key[: -len("_endpoints")]] = _endpoints(value, key)
            elif key in self._faults:
                updates[key] = _count(value, key)
            else:
                raise ValueError(f"unknown fault {raw_key!r}; known: {', '.join(FAULT_NAMES)}")
        with self._lock:
            for name, value in seconds.items():
                setattr(self, f"{name}_seconds", value)
                if name not in updates:
                    updates[name] = -1 if value > 0 else 0
            for name, remaining in updates.items():
                self._faults[name].remaining = remaining
            for name, scope in scopes.items():
                self._faults[name].endpoints = scope

    def clear(self) -> None:
        """Every fault off, default endpoints, fired counts kept."""
        with self._lock:
            self.slow_seconds = self.trickle_seconds = 0.0
            for name, fault in self._faults.items():
                fault.remaining = 0
                fault.endpoints = DEFAULT_ENDPOINTS[name]

    def take(self, name: str, endpoint: str) -> bool:
        """Whether fault ``name`` hits this request to ``endpoint`` (and count it if so)."""
        with self._lock:
            fault = self._faults[name]
            if fault.remaining == 0 or endpoint not in fault.endpoints:
                return False
            if name in TIMED and getattr(self, f"{name}_seconds") <= 0:
                return False
            if fault.remaining > 0:
                fault.remaining -= 1
            fault.fired += 1
            return True

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {
                name: {"remaining": f.remaining, "fired": f.fired, "endpoints": list(f.endpoints)}
                for name, f in self._faults.items()
            }
            for name in TIMED:
                out[name]["seconds"] = getattr(self, f"{name}_seconds")
            return out


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key}: expected a count (-1 = every request, 0 = off), got {value!r}")
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{key}: expected a count (-1 = every request, 0 = off), got {value!r}") from None
    if count < -1:
        raise ValueError(f"{key}: expected a count >= -1, got {count}")
    return count


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: expected a number, got {value!r}") from None


def _endpoints(value: Any, key: str) -> tuple[str, ...]:
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    scope = tuple(str(item).strip() for item in items if str(item).strip())
    unknown = [item for item in scope if item not in ENDPOINTS]
    if unknown:
        raise ValueError(f"{key}: unknown endpoints {unknown}; known: {', '.join(ENDPOINTS)}")
    return scope
