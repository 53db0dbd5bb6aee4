"""One CloudAgent token per account: reused while fresh, minted only when needed, shared.

Minting invalidates every earlier token and is limited to 10 an hour, so the
token is kept in a shared store (``token_store.py``) and minted under a lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from airflow_provider_ozonetel.exceptions import OzonetelAuthError
from airflow_provider_ozonetel.hooks.masking import hide_secret
from airflow_provider_ozonetel.hooks.token_store import StoredToken, TokenStore, mint_lock
from airflow_provider_ozonetel.hooks.transport import TOKEN_ENDPOINT

if TYPE_CHECKING:
    from airflow_provider_ozonetel.hooks.connection import OzonetelSettings
    from airflow_provider_ozonetel.hooks.transport import Transport

TOKEN_PATH = "/ca_apis/CAToken/generateToken"

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
        store: TokenStore,
        *,
        ttl_seconds: float,
        mint: Callable[[], str],
    ) -> None:
        self.settings = settings
        self.store = store
        self.ttl_seconds = ttl_seconds
        self._mint_request = mint
        self.current: StoredToken | None = None

    def get_token(self, force_refresh: bool = False) -> str:
        """The shared token: reused while younger than ``ttl_seconds``, minted otherwise."""
        if self.settings.auth_mode != "token":
            raise OzonetelAuthError("auth_mode: the connection uses 'api_key' auth, which has no token")
        if not force_refresh and self._fresh(self.current):
            return self.current.token  # type: ignore[union-attr]
        with mint_lock(self.settings.account_key):
            stored = None if force_refresh else self.store.load()
            if self._fresh(stored):
                self._adopt(stored)  # type: ignore[arg-type]
            else:
                self._adopt(self._mint())
        return self.current.token  # type: ignore[union-attr]

    def recover_from_expired(self) -> bool:
        """After "Token Expired": take a newer token from the store if another task minted one,
        otherwise mint once. False when this hook held no token (nothing to recover)."""
        if self.settings.auth_mode != "token" or self.current is None:
            return False
        rejected = self.current.token
        with mint_lock(self.settings.account_key):
            stored = self.store.load()
            if stored is not None and stored.token != rejected and self._fresh(stored):
                log.info("Token was replaced by another task; using the newer shared token")
                self._adopt(stored)
                return True
            log.info("Token expired or was invalidated; minting a new one")
            self._adopt(self._mint())
        return True

    def _fresh(self, stored: StoredToken | None) -> bool:
        return stored is not None and time.time() - stored.minted_at < self.ttl_seconds

    def _adopt(self, stored: StoredToken) -> None:
        hide_secret(stored.token)
        self.current = stored

    def _mint(self) -> StoredToken:
        token = self._mint_request()
        stored = StoredToken(token=token, minted_at=time.time())
        hide_secret(token)
        self.store.save(stored)
        log.info(
            "Minted a CloudAgent token for user %s; shared through %s",
            self.settings.user_name,
            self.store.name,
        )
        return stored
