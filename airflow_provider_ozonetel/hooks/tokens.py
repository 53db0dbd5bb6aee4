"""One CloudAgent token per account: reused while fresh, minted at most once per expiry, shared.

Minting invalidates every earlier token and the vendor allows 10 mints an hour per account. So
the token lives in the shared store (``token_store.py``: encrypted, in an Airflow Variable inside
tasks) and only the holder of a deployment-wide *mint lease* mints: the lease is claimed in the
same stored value with claim-and-verify (``shared_state.py``), so two workers on two machines do
not both mint; the others wait for the holder's token. After "Token Expired" a hook first takes a
newer token another task stored, and mints only when there is none.

Mints are counted in the stored value over a rolling hour and kept at or under
``MAX_MINTS_PER_HOUR`` (8 of the vendor's 10, leaving room for people and other tools on the
account). When a token expired and the quota is spent, the request fails with
``OzonetelTokenExpiredError``, which Airflow retries (task retries), instead of burning the quota.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from airflow_provider_ozonetel.exceptions import OzonetelAuthError, OzonetelTokenExpiredError
from airflow_provider_ozonetel.hooks.masking import hide_secret
from airflow_provider_ozonetel.hooks.token_store import (
    QUOTA_WINDOW_SECONDS,
    TokenCipher,
    TokenState,
    dump_state,
    load_state,
    token_key,
)
from airflow_provider_ozonetel.hooks.transport import TOKEN_ENDPOINT
from airflow_provider_ozonetel.shared_state import claim_and_verify, process_lock

if TYPE_CHECKING:
    from airflow_provider_ozonetel.hooks.connection import OzonetelSettings
    from airflow_provider_ozonetel.hooks.transport import Transport
    from airflow_provider_ozonetel.pacing import Clock
    from airflow_provider_ozonetel.shared_state import SharedStore

TOKEN_PATH = "/ca_apis/CAToken/generateToken"
#: The deployment mints at most this many tokens per account in any hour (the vendor allows 10).
MAX_MINTS_PER_HOUR = 8
#: A mint lease lasts this long: enough for the generateToken request and its retries; if the
#: holder dies, the others take over after it.
LEASE_SECONDS = 120.0
#: How often a hook waiting for another's mint looks at the store again (jittered).
LEASE_POLL_SECONDS = 1.0

log = logging.getLogger(__name__)


def request_token(transport: Transport) -> str:
    """One generateToken request (``apiKey`` header, ``{"userName": ...}``); the new token."""
    settings = transport.settings
    answer = transport.call_json(
        TOKEN_ENDPOINT,
        "POST",
        settings.base_url + TOKEN_PATH,
        headers={"apiKey": settings.api_key, "Content-Type": "application/json"},
        json_body={"userName": settings.user_name},
    )
    token = answer.get("token") if isinstance(answer, dict) else None
    if not token or not isinstance(token, str):
        raise OzonetelAuthError(f"{TOKEN_ENDPOINT} answered without a token")
    return token


class TokenManager:
    """The token of one account for one hook.

    :param mint: sends the generateToken request and returns the new token (``request_token``).
    """

    def __init__(
        self,
        settings: OzonetelSettings,
        store: SharedStore,
        *,
        ttl_seconds: float,
        mint: Callable[[], str],
        clock: Clock,
        settle: float,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.key = token_key(settings.account_id)
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.settle = settle
        self.rng = rng or random.Random()
        self.holder = uuid.uuid4().hex[:16]
        self._cipher = TokenCipher(settings.api_key, settings.account_key)
        self._mint_request = mint
        self.current: TokenState | None = None
        #: Tokens this hook minted (tests and benchmarks read it).
        self.minted = 0

    def get_token(self, force_refresh: bool = False) -> str:
        """The shared token: reused while younger than ``ttl_seconds``, minted otherwise.
        ``force_refresh`` mints a new one even when the shared one is fresh."""
        if self.settings.auth_mode != "token":
            raise OzonetelAuthError("auth_mode: the connection uses 'api_key' auth, which has no token")
        if not force_refresh and self._fresh(self.current):
            return self.current.token  # type: ignore[union-attr]
        stored = self._load()
        if not force_refresh and self._fresh(stored):
            return self._adopt(stored)
        return self._obtain(rejected=stored.token if force_refresh else None)

    def recover_from_expired(self) -> bool:
        """After "Token Expired": take a newer token another task stored, or mint one under the
        lease within the hourly quota. False when this hook held no token (nothing to recover).
        Raises :class:`OzonetelTokenExpiredError` (retried by Airflow) when no token can be had now.
        """
        if self.settings.auth_mode != "token" or self.current is None:
            return False
        rejected = self.current.token
        stored = self._load()
        if stored.token and stored.token != rejected and self._fresh(stored):
            log.info("The token was replaced by another task; using the newer shared token")
            self._adopt(stored)
            return True
        log.info("The token expired or was invalidated; getting a new one")
        self._obtain(rejected=rejected)
        return True

    # ------------------------------------------------------------------ minting
    def _obtain(self, rejected: str | None) -> str:
        """A token other than ``rejected``: the one another hook mints meanwhile, or our own mint."""
        give_up = self.clock.wall() + LEASE_SECONDS + 30
        while True:
            stored = self._load()
            if self._usable(stored, rejected):
                return self._adopt(stored)
            now = self.clock.wall()
            if stored.leased_to_other(self.holder, now):
                if now > give_up:
                    raise OzonetelTokenExpiredError(
                        f"waited {LEASE_SECONDS + 30:.0f} s for another task to mint a CloudAgent token "
                        "for this account; Airflow will retry the task"
                    )
                self.clock.sleep(self.rng.uniform(0.5, 1.5) * LEASE_POLL_SECONDS)
                continue
            if self._claim_lease(rejected):
                try:
                    return self._mint_under_lease(rejected)
                finally:
                    self._drop_lease()

    def _claim_lease(self, rejected: str | None) -> bool:
        def propose(raw: str | None, now: float) -> tuple[str, str] | None:
            state = load_state(raw, self._cipher)
            if state.leased_to_other(self.holder, now) or self._usable(state, rejected):
                return None  # someone holds it, or has minted meanwhile: look again
            leased = state.with_lease(self.holder, now + LEASE_SECONDS)
            return dump_state(leased, self._cipher, now), self.holder

        def holds(raw: str | None, holder: str) -> bool:
            return load_state(raw, self._cipher).lease_holder == holder

        claimed = claim_and_verify(
            self.store,
            self.key,
            propose,
            holds,
            clock=self.clock,
            settle=self.settle,
            description=_DESCRIPTION,
            rng=self.rng,
        )
        return claimed is not None

    def _mint_under_lease(self, rejected: str | None) -> str:
        state = self._load()
        if self._usable(state, rejected):
            return self._adopt(state)
        now = self.clock.wall()
        recent = state.recent_mints(now)
        if len(recent) >= MAX_MINTS_PER_HOUR:
            wait = min(recent) + QUOTA_WINDOW_SECONDS - now
            raise OzonetelTokenExpiredError(
                f"the CloudAgent token expired and this deployment already minted {len(recent)} tokens for "
                f"the account in the last hour (the provider keeps under the vendor's 10 an hour: at most "
                f"{MAX_MINTS_PER_HOUR}); another client of the account may keep invalidating it. The next "
                f"mint is allowed in {wait / 60:.0f} min; Airflow will retry the task"
            )
        token = self._mint_request()
        hide_secret(token)
        now = self.clock.wall()
        minted = TokenState(token=token, minted_at=now, mints=(*recent, now))
        with process_lock(self.store, self.key):
            self.store.write(self.key, dump_state(minted, self._cipher, now), _DESCRIPTION)
        self.minted += 1
        log.info(
            "Minted a CloudAgent token for user %s (%d minted for this account in the last hour); shared "
            "through %s",
            self.settings.user_name,
            len(minted.mints),
            self.store.name,
        )
        return self._adopt(minted)

    def _drop_lease(self) -> None:
        """Free the lease if it is still ours (a mint that failed leaves no one waiting for it)."""
        with process_lock(self.store, self.key):
            raw = self.store.read(self.key)
            state = load_state(raw, self._cipher)
            if state.lease_holder == self.holder:
                now = self.clock.wall()
                self.store.write(
                    self.key, dump_state(state.with_lease(None), self._cipher, now), _DESCRIPTION
                )

    # ------------------------------------------------------------------ helpers
    def _load(self) -> TokenState:
        return load_state(self.store.read(self.key), self._cipher)

    def _fresh(self, state: TokenState | None) -> bool:
        return (
            state is not None
            and state.token is not None
            and self.clock.wall() - state.minted_at < self.ttl_seconds
        )

    def _usable(self, state: TokenState, rejected: str | None) -> bool:
        return self._fresh(state) and state.token != rejected

    def _adopt(self, state: TokenState) -> str:
        hide_secret(state.token)
        self.current = state
        return state.token  # type: ignore[return-value]


_DESCRIPTION = "CloudAgent token shared by Ozonetel tasks, encrypted (managed by the provider)"
