"""The vendor's answers, word for word from the seeds (key order as the seeds show it).

HTTP status codes are the emulator's choice where the vendor does not document
them (401 for auth failures and 429 for rate limits were seen in production;
400 for validation errors is a guess). CallBacks answers everything with 200,
errors only in the body (PHP style).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

JSON = "application/json"

# fetchCDRDetails / Generate Token
INVALID_JSON = {"status": "false", "message": "Invalid Json Pass Valid Json"}
MISSING_USER = {"status": "false", "message": "Missing userName or apiKey"}
INVALID_USER = {"status": "false", "message": "userName or apiKey is Invalid"}
TOKEN_EXPIRED = {"status": "false", "message": "Token Expired", "data": None}
MISSING_DATES = {"message": "Missing fromDate and toDate", "status": "fail"}
BAD_DATE_FORMAT = {
    "message": "Invalid fromDate format. Please pass the date in the format yyyy-MM-dd HH:mm:ss",
    "status": "fail",
}
FUTURE_DATES = {"message": "fromDate and toDate should not be future dates", "status": "fail"}
DIFFERENT_DAYS = {"message": "fromDate and toDate should be same date", "status": "fail"}
INVALID_CAMPAIGN = {"message": "Invalid campaignName", "status": "fail"}
CDR_RATE_LIMIT = {"message": "API rate limit has been exceeded", "status": "error"}
USERNAME_NULL = {"status": "false", "message": "UserName is null", "data": None}
TOKEN_INVALID_CREDENTIALS = {"status": "false", "message": "Invalid userName or apiKey", "data": None}
# The emulator's guess: the vendor documents the 10-per-hour limit but not its answer.
TOKEN_LIMIT = {"status": "false", "message": "Token generation limit exceeded", "data": None}

# CDR in CallBacks: all HTTP 200
CALLBACKS_EMPTY = {
    "userName": "userName should not be empty",
    "apiKey": "apiKey should not be empty",
    "ucid": "ucid should not be empty",
    "reportType": "reportType should not be empty",
}
INVALID_REPORT_TYPE = "Invalid reportType"
UCID_NOT_NUMERIC = "ucid should be numeric only"
CALLBACKS_INVALID_USER = "userName or apiKey is Invalid"
CALLBACKS_RATE_LIMIT = "max limit exceeded"

# A gateway's error page, as a load balancer in front of the API would send it.
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


def dumps(body: Any) -> str:
    """Compact JSON; ints stay exact (Python ints are unbounded)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def json_answer(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status_code, media_type=JSON, headers=headers)


def callbacks_error(message: str) -> Response:
    return json_answer({"status": "error", "message": message})


def callbacks_no_data(ucid: str) -> Response:
    return json_answer({"status": "success", "message": f"No Data Found with UCID {ucid}"})


def bad_gateway() -> Response:
    return Response(HTML_502, status_code=502, media_type="text/html")


def method_not_allowed(path: str, allowed: str) -> Response:
    """Shaped like a Spring Boot error (the vendor's Java-style date format hints at one): a guess."""
    body = {"status": 405, "error": "Method Not Allowed", "path": path}
    return json_answer(body, status_code=405, headers={"Allow": allowed})
