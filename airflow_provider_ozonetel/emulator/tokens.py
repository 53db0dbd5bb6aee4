"""Generate Token rules: one live token per account, 60-minute life, 10 mints an hour.

Every new token invalidates the earlier ones (the vendor's rule), so the
registry only remembers the current token and when it was minted.
"""

from __future__ import annotations

import collections
import secrets
import threading
from collections.abc import Callable

#: Life of a token, in emulator minutes.
TOKEN_LIFE_MINUTES = 60
#: Mints allowed per MINT_WINDOW_MINUTES.
MINT_LIMIT = 10
MINT_WINDOW_MINUTES = 60

VALID = "valid"
EXPIRED = "expired"


class TokenRegistry:
    def __init__(self, *, clock: Callable[[], float], minute_seconds: float) -> None:
        self._clock = clock
        self._minute_seconds = minute_seconds
        self._lock = threading.Lock()
        self._current: str | None = None
        self._minted_at = 0.0
        self._mint_times: collections.deque[float] = collections.deque()
        #: Sequence number of the current token (0: none yet). Safe to show; the token is not.
        self.token_id = 0

    def mint(self, *, count_against_limit: bool = True) -> str | None:
        """A new token (invalidating the earlier one), or None when the hourly mint limit is reached.

        ``count_against_limit=False`` is the steal-token fault: another holder of
        the account minted, outside this client's budget.
        """
        now = self._clock()
        with self._lock:
            horizon = now - MINT_WINDOW_MINUTES * self._minute_seconds
            while self._mint_times and self._mint_times[0] <= horizon:
                self._mint_times.popleft()
            if count_against_limit:
                if len(self._mint_times) >= MINT_LIMIT:
                    return None
                self._mint_times.append(now)
            # Looks like the vendor's JWTs ("eyJ..."), but is only an opaque random string.
            self._current = "eyJ" + secrets.token_urlsafe(48)
            self._minted_at = now
            self.token_id += 1
            return self._current

    def check(self, token: str) -> str:
        """VALID for the current unexpired token; EXPIRED for anything else (old, expired, unknown)."""
        now = self._clock()
        with self._lock:
            if self._current is None or not secrets.compare_digest(token.encode(), self._current.encode()):
                return EXPIRED
            if now - self._minted_at >= TOKEN_LIFE_MINUTES * self._minute_seconds:
                return EXPIRED
            return VALID
