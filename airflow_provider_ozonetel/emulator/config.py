"""Options of one emulator run (shared by the command line and :func:`run_emulator`)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from airflow_provider_ozonetel.calendar import IST

AUTH_MODES = ("token", "api_key")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_USER = "demo_user"
DEFAULT_API_KEY = "demo_key"
#: The most calls per day a run may ask for (UCIDs encode up to 100,000 calls per minute).
MAX_CALLS_PER_DAY = 20_000_000


@dataclasses.dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes one run. Faults are separate: they change while it runs."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    user: str = DEFAULT_USER
    api_key: str = DEFAULT_API_KEY
    auth_mode: str = "token"
    seed: int = 1
    calls_per_day: int = 2000
    #: Real seconds one emulator minute lasts: scales rate windows, token life, mint window.
    minute_seconds: float = 60.0
    #: Pinned data clock (aware, IST; a string or naive datetime is IST wall clock); None: real time.
    now: dt.datetime | str | None = None
    #: False: ``reportType=currentday`` answers "Invalid reportType" (the vendor's deprecation variant).
    currentday: bool = True
    #: Directory caching the fetchCDRDetails bodies of complete past days (None: no cache).
    cache_dir: str | None = None
    #: The link's speed in megabits per second: every answer's body is paced to it, as over the
    #: internet (None: as fast as loopback goes).
    bandwidth_mbps: float | None = None

    def __post_init__(self) -> None:
        if self.auth_mode not in AUTH_MODES:
            raise ValueError(f"auth_mode: expected one of {AUTH_MODES}, got {self.auth_mode!r}")
        if not 0 <= self.calls_per_day <= MAX_CALLS_PER_DAY:
            raise ValueError(f"calls_per_day: expected 0..{MAX_CALLS_PER_DAY}, got {self.calls_per_day}")
        if not self.minute_seconds > 0:
            raise ValueError(f"minute_seconds: expected a positive number, got {self.minute_seconds}")
        if self.bandwidth_mbps is not None and not self.bandwidth_mbps > 0:
            raise ValueError(f"bandwidth_mbps: expected a positive number, got {self.bandwidth_mbps}")
        if not self.user or not self.api_key:
            raise ValueError("user and api_key must not be empty")
        if self.now is not None:
            object.__setattr__(self, "now", parse_now(self.now))


def parse_now(value: dt.datetime | str) -> dt.datetime:
    """An IST-aware datetime from ``YYYY-MM-DDTHH:MM[:SS]`` (IST wall clock) or a datetime.

    A naive datetime is read as IST wall clock; an aware one is converted to IST.
    """
    if isinstance(value, str):
        text = value.strip().replace(" ", "T", 1)
        for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"):
            try:
                value = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"now: expected an IST time YYYY-MM-DDTHH:MM[:SS], got {value!r}")
    if not isinstance(value, dt.datetime):
        raise ValueError(f"now: expected a datetime or a string, got {value!r}")
    if value.tzinfo is None:
        return value.replace(microsecond=0, tzinfo=IST)
    return value.astimezone(IST).replace(microsecond=0)
