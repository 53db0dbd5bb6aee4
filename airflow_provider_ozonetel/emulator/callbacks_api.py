"""``GET /CAServices/CDR/callBacks.php``: CDR in CallBacks (any casing of the path).

PHP style: every answer is HTTP 200, errors only in the body (``status: "error"``).
Checks in order: empty userName, apiKey, ucid, reportType -> "Invalid reportType"
-> "ucid should be numeric only" -> "userName or apiKey is Invalid" -> rate limit
(50 per emulator minute) -> the store rules below -> the record.

Which store holds a call (IST, by the data clock; the seed's three scenarios):
a call that started today is in ``currentday``; a call that started on an
earlier day (ended before or after midnight) is in ``historical`` from 03:00
IST of the day after it started. Between 00:00 and 03:00 yesterday's calls are
in neither. The wrong store, a call not started yet, a call older than the
15-day retention or an unknown UCID: "No Data Found with UCID <ucid>".
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from airflow_provider_ozonetel.calendar import (
    CURRENT_DAY,
    HISTORICAL,
    IST,
    historical_ready_at,
    oldest_available_date,
)
from airflow_provider_ozonetel.emulator import answers

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from airflow_provider_ozonetel.emulator.context import EmulatorContext

CALLBACKS_PATH = "/CAServices/CDR/callBacks.php"
_PARAMS = ("userName", "apiKey", "ucid", "reportType")
_DIGITS = re.compile(r"[0-9]+")


async def callbacks(request: Request) -> Response:
    ctx: EmulatorContext = request.app.state.ctx
    if request.method != "GET":
        return ctx.finish(
            "callbacks", answers.method_not_allowed(CALLBACKS_PATH, "GET"), "method not allowed"
        )
    faulted = await ctx.request_faults("callbacks")
    if faulted is not None:
        return faulted
    values = {name: request.query_params.get(name, "").strip() for name in _PARAMS}
    for name in _PARAMS:
        if not values[name]:
            return _error(ctx, answers.CALLBACKS_EMPTY[name])
    allowed = (CURRENT_DAY, HISTORICAL) if ctx.config.currentday else (HISTORICAL,)
    if values["reportType"] not in allowed:
        return _error(ctx, answers.INVALID_REPORT_TYPE)
    ucid = values["ucid"]
    if not _DIGITS.fullmatch(ucid):
        return _error(ctx, answers.UCID_NOT_NUMERIC)
    if values["userName"] != ctx.config.user or values["apiKey"] != ctx.config.api_key:
        return _error(ctx, answers.CALLBACKS_INVALID_USER)
    if not ctx.callbacks_limit.admit(values["userName"]):
        return ctx.rate_limit_answer("callbacks")
    record = ctx.dataset.find_ucid(ucid)
    if record is None or store_of(record, ctx.clock.now()) != values["reportType"]:
        return ctx.finish("callbacks", answers.callbacks_no_data(ucid), "No Data Found")
    shaped = ctx.dataset.callback_record(record, user=ctx.config.user, api_key=values["apiKey"])
    return ctx.finish("callbacks", answers.json_answer({"status": "success", "message": [shaped]}), "success")


def store_of(record: dict[str, Any], now: dt.datetime) -> str | None:
    """The CallBacks store holding ``record`` at ``now`` (IST), or None when in neither."""
    day = dt.date.fromisoformat(record["CallDate"])
    started = dt.datetime.combine(day, dt.time.fromisoformat(record["StartTime"]), tzinfo=IST)
    if started >= now:
        return None
    if day == now.date():
        return CURRENT_DAY
    if day < oldest_available_date(now) or now < historical_ready_at(day):
        return None
    return HISTORICAL


def _error(ctx: EmulatorContext, message: str) -> Response:
    return ctx.finish("callbacks", answers.callbacks_error(message), message)
