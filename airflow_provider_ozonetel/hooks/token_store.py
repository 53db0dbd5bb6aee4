"""How the shared token is stored: one value per account, the token in it encrypted.

Minting a token invalidates every earlier one and is limited to 10 an hour, so all tasks of a
deployment that use one account (base URL + user name, whatever the connection id) share one
token, kept in the shared store (an Airflow Variable inside tasks: ``variable_store.py``). The
stored value holds the token encrypted with AES-GCM under a key derived from the API key (HKDF-
SHA256, the account as salt), so the Variable, the metadata database and any log line showing
the value (Airflow logs Variable writes at DEBUG) are useless without the API key. Beside it:
when it was minted, the deployment's recent mint times (the hourly quota) and the mint lease.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass, field, replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

_FORMAT = 1
_INFO = b"airflow-provider-ozonetel shared token v1"
_NONCE_BYTES = 12
#: Mint times older than this no longer count against the vendor's hourly quota.
QUOTA_WINDOW_SECONDS = 3600.0


def token_key(account_id: str) -> str:
    """The shared store's key for an account's token ("token" in the name: Airflow's UI masks it)."""
    return f"ozonetel_token_{account_id}"


class TokenCipher:
    """Encrypts the token for one account with a key only holders of the API key can derive."""

    def __init__(self, api_key: str, account_key: str) -> None:
        self._aad = account_key.encode()
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=self._aad, info=_INFO).derive(
            api_key.encode()
        )
        self._aead = AESGCM(derived)

    def __repr__(self) -> str:  # never show the key
        return "TokenCipher()"

    def encrypt(self, token: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, token.encode(), self._aad)).decode()

    def decrypt(self, sealed: str) -> str | None:
        """The token, or None when it cannot be read (another API key, a damaged value)."""
        try:
            raw = base64.b64decode(sealed, validate=True)
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._aad).decode()
        except (InvalidTag, ValueError):
            return None


@dataclass(frozen=True)
class TokenState:
    """What the store holds for one account (the token decrypted)."""

    token: str | None = field(default=None, repr=False)
    minted_at: float = 0.0
    #: Wall-clock times of this deployment's mints in the last hour.
    mints: tuple[float, ...] = ()
    lease_holder: str | None = None
    lease_until: float = 0.0

    def recent_mints(self, now: float) -> tuple[float, ...]:
        return tuple(t for t in self.mints if t > now - QUOTA_WINDOW_SECONDS)

    def leased_to_other(self, holder: str, now: float) -> bool:
        return self.lease_holder not in (None, holder) and self.lease_until > now

    def with_lease(self, holder: str | None, until: float = 0.0) -> TokenState:
        return replace(self, lease_holder=holder, lease_until=until)


def load_state(raw: str | None, cipher: TokenCipher) -> TokenState:
    """The stored state; unreadable parts count as absent (a token that cannot be decrypted is
    minted again)."""
    if not raw:
        return TokenState()
    try:
        data = json.loads(raw)
        lease = data.get("lease") or {}
        sealed = data.get("token")
        token = cipher.decrypt(sealed) if sealed else None
        if sealed and token is None:
            log.warning("The shared token cannot be decrypted with this connection's API key; minting anew")
        return TokenState(
            token=token,
            minted_at=float(data.get("minted_at") or 0),
            mints=tuple(float(t) for t in data.get("mints") or ()),
            lease_holder=lease.get("holder"),
            lease_until=float(lease.get("until") or 0),
        )
    except (ValueError, TypeError, AttributeError):
        log.warning("Ignoring an unreadable shared token value; it is rewritten on the next mint")
        return TokenState()


def dump_state(state: TokenState, cipher: TokenCipher, now: float) -> str:
    data: dict = {
        "v": _FORMAT,
        "token": cipher.encrypt(state.token) if state.token else None,
        "minted_at": state.minted_at,
        "mints": list(state.recent_mints(now)),
    }
    if state.lease_holder:
        data["lease"] = {"holder": state.lease_holder, "until": state.lease_until}
    return json.dumps(data)
