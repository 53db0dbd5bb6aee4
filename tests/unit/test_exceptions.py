"""Every documented answer maps to exactly one error class, whatever the HTTP status."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_ozonetel.exceptions import (
    DOCUMENTED_ANSWERS,
    OzonetelAuthError,
    OzonetelDataNotAvailableError,
    OzonetelError,
    OzonetelRateLimitError,
    OzonetelRequestError,
    OzonetelTokenExpiredError,
    OzonetelTransientError,
    classify,
    is_no_data,
    unreadable_answer,
)

# (body exactly as in the seeds / token API, expected class)
DOCUMENTED = [
    # Generate Token
    ({"status": "false", "message": "UserName is null", "data": None}, OzonetelAuthError),
    ({"status": "false", "message": "Invalid userName or apiKey", "data": None}, OzonetelAuthError),
    ({"status": "false", "message": "Token Expired", "data": None}, OzonetelTokenExpiredError),
    # Fetch CDR Details
    ({"status": "false", "message": "Missing userName or apiKey"}, OzonetelAuthError),
    ({"status": "false", "message": "userName or apiKey is Invalid"}, OzonetelAuthError),
    ({"message": "Missing fromDate and toDate", "status": "fail"}, OzonetelRequestError),
    (
        {
            "message": "Invalid fromDate format. Please pass the date in the format yyyy-MM-dd HH:mm:ss",
            "status": "fail",
        },
        OzonetelRequestError,
    ),
    ({"message": "Invalid campaignName", "status": "fail"}, OzonetelRequestError),
    ({"message": "fromDate and toDate should not be future dates", "status": "fail"}, OzonetelRequestError),
    ({"message": "fromDate and toDate should be same date", "status": "fail"}, OzonetelRequestError),
    ({"message": "API rate limit has been exceeded", "status": "error"}, OzonetelRateLimitError),
    ({"status": "false", "message": "Invalid Json Pass Valid Json"}, OzonetelRequestError),
    # CDR in CallBacks
    ({"status": "error", "message": "userName should not be empty"}, OzonetelAuthError),
    ({"status": "error", "message": "apiKey should not be empty"}, OzonetelAuthError),
    ({"status": "error", "message": "ucid should not be empty"}, OzonetelRequestError),
    ({"status": "error", "message": "reportType should not be empty"}, OzonetelRequestError),
    ({"status": "error", "message": "Invalid reportType"}, OzonetelRequestError),
    ({"status": "error", "message": "ucid should be numeric only"}, OzonetelRequestError),
    ({"status": "error", "message": "userName or apiKey is Invalid"}, OzonetelAuthError),
    ({"status": "error", "message": "max limit exceeded"}, OzonetelRateLimitError),
]


@pytest.mark.parametrize("http_status", [200, 400, 401, 429])
@pytest.mark.parametrize(("body", "expected"), DOCUMENTED, ids=[b["message"][:40] for b, _ in DOCUMENTED])
def test_documented_answer_maps_to_one_class_whatever_the_http_status(body, expected, http_status):
    error = classify(http_status, body, endpoint="fetchCDRDetails")
    assert type(error) is expected
    assert error.vendor_message == body["message"]
    assert body["message"] in str(error)
    assert f"HTTP {http_status}" in str(error)
    assert error.http_status == http_status


def test_the_table_covers_every_documented_message_once():
    messages = {body["message"].lower() for body, _ in DOCUMENTED}
    assert messages == set(DOCUMENTED_ANSWERS)


@pytest.mark.parametrize(
    "body",
    [
        {"token": "eyJ.abc", "message": ""},
        {"status": "success", "message": "success", "details": []},
        {"status": "success", "message": [{"UCID": "1"}]},
        {"status": "success", "message": "No Data Found with UCID 123"},
    ],
)
def test_success_answers(body):
    assert classify(200, body) is None


def test_no_data_found_is_recognised():
    assert is_no_data("No Data Found with UCID 31733467784618213")
    assert not is_no_data([{"UCID": "1"}])


@pytest.mark.parametrize(
    ("http_status", "expected"),
    [
        (401, OzonetelAuthError),
        (403, OzonetelAuthError),
        (429, OzonetelRateLimitError),
        (500, OzonetelTransientError),
        (503, OzonetelTransientError),
        (404, OzonetelError),
    ],
)
def test_unknown_answers_fall_back_to_the_http_status(http_status, expected):
    error = classify(http_status, {"status": "error", "message": "something new"})
    assert type(error) is expected
    assert "something new" in str(error)


def test_unknown_error_status_on_http_200_is_a_base_error():
    error = classify(200, {"status": "fail", "message": "Brand new problem"})
    assert type(error) is OzonetelError and "Brand new problem" in str(error)


def test_unreadable_bodies_carry_the_http_status():
    error = unreadable_answer(502, "text/html, 20 bytes: '<html>502 Bad Gateway'", endpoint="CallBacks")
    assert isinstance(error, OzonetelTransientError)
    assert "CallBacks answered HTTP 502 with a body that is not valid JSON" in str(error)
    assert error.http_status == 502
    assert type(unreadable_answer(404, "x")) is OzonetelError


def test_auth_and_request_errors_fail_without_retries_others_may_retry():
    assert issubclass(OzonetelAuthError, AirflowFailException)
    assert issubclass(OzonetelRequestError, AirflowFailException)
    assert issubclass(OzonetelRequestError, ValueError)
    for cls in (OzonetelRateLimitError, OzonetelTransientError, OzonetelDataNotAvailableError):
        assert not issubclass(cls, AirflowFailException)
    for cls in (
        OzonetelAuthError,
        OzonetelRequestError,
        OzonetelRateLimitError,
        OzonetelDataNotAvailableError,
    ):
        assert issubclass(cls, OzonetelError) and issubclass(cls, AirflowException)
