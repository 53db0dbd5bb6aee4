"""Which auth mode an account accepts, told without minting a token.

Minting would invalidate the token every running task shares, so the Test button cannot try
token auth. It can try the other mode: one fetchCDRDetails request for the first second of
yesterday with the ``apiKey`` header alone. An account set to BASIC_AUTH answers it (and
refuses tokens); one set to TOKEN_AUTH refuses it ("Missing userName or apiKey"). The key itself
was checked first (CallBacks), so a refusal here is about the mode, not the key.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from airflow_provider_ozonetel import calendar
from airflow_provider_ozonetel.exceptions import OzonetelAuthError, OzonetelError, OzonetelTokenExpiredError
from airflow_provider_ozonetel.hooks.cdr import CDR_PATH
from airflow_provider_ozonetel.hooks.transport import CDR_ENDPOINT

if TYPE_CHECKING:
    from airflow_provider_ozonetel.hooks.transport import Transport

#: The Test button does not wait longer than this for the account's fetchCDRDetails budget.
PROBE_MAX_WAIT = 5.0


def accepted_auth_mode(transport: Transport) -> tuple[str | None, str]:
    """``("api_key", detail)`` when the account takes the apiKey header alone (BASIC_AUTH),
    ``("token", detail)`` when it refuses it (TOKEN_AUTH), ``(None, why)`` when it cannot tell."""
    reservation = transport.reserve(CDR_ENDPOINT, 1)
    wait = reservation.first_at - transport.clock.wall()
    if wait > PROBE_MAX_WAIT:
        transport.release_unused()
        return None, f"the account's fetchCDRDetails rate budget is taken for the next {wait:.0f} s"
    day = calendar.today_ist() - dt.timedelta(days=1)
    body = {
        "fromDate": f"{day.isoformat()} 00:00:00",
        "toDate": f"{day.isoformat()} 00:00:01",
        "userName": transport.settings.user_name,
    }
    try:
        response = transport.send(
            CDR_ENDPOINT, "GET", transport.settings.base_url + CDR_PATH, json_body=body, api_key_only=True
        )
        transport.judge_whole(response, CDR_ENDPOINT)
    except OzonetelTokenExpiredError as exc:
        return None, str(exc)
    except OzonetelAuthError as exc:
        return "token", exc.vendor_message or str(exc)
    except OzonetelError as exc:
        return None, str(exc)
    return "api_key", ""
