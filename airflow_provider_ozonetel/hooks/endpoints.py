"""The vendor's endpoints, by the names the hook logs and counts them under, and their limits."""

from __future__ import annotations

CDR_ENDPOINT = "fetchCDRDetails"
CALLBACKS_ENDPOINT = "CallBacks"
TOKEN_ENDPOINT = "generateToken"
#: Documented limits, requests per minute.
RATE_LIMITS = {CDR_ENDPOINT: 2, CALLBACKS_ENDPOINT: 50}
