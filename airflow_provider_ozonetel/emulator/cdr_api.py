"""``GET /ca_reports/fetchCDRDetails`` (JSON body on a GET) and ``POST /ca_apis/CAToken/generateToken``.

Order of checks for fetchCDRDetails (each answer word for word from the seed):
method (405) -> auth header (401) -> JSON body (400) -> userName (401) ->
rate limit, counted before the dates are checked (429) -> dates: missing,
format, future, different days (400) -> campaignName (400) -> success (200,
streamed). A day older than the retention answers success with no details.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from starlette.responses import Response, StreamingResponse

from airflow_provider_ozonetel.calendar import oldest_available_date
from airflow_provider_ozonetel.emulator import answers, streaming
from airflow_provider_ozonetel.emulator.tokens import VALID

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_provider_ozonetel.emulator.context import EmulatorContext

CDR_PATH = "/ca_reports/fetchCDRDetails"
TOKEN_PATH = "/ca_apis/CAToken/generateToken"
_WIRE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_WIRE_FORMAT = "%Y-%m-%d %H:%M:%S"


class _Refused(Exception):
    def __init__(self, body: dict[str, Any], status: int) -> None:
        super().__init__(body["message"])
        self.body = body
        self.status = status


async def generate_token(request: Request) -> Response:
    ctx: EmulatorContext = request.app.state.ctx
    if request.method != "POST":
        return ctx.finish("token", answers.method_not_allowed(TOKEN_PATH, "POST"), "method not allowed")
    faulted = await ctx.request_faults("token")
    if faulted is not None:
        return faulted
    body = _json_object(await request.body())
    user = body.get("userName") if body else None
    if user is None or user == "":
        return ctx.finish("token", answers.json_answer(answers.USERNAME_NULL, 400), "UserName is null")
    if user != ctx.config.user or request.headers.get("apikey") != ctx.config.api_key:
        answer = answers.json_answer(answers.TOKEN_INVALID_CREDENTIALS, 401)
        return ctx.finish("token", answer, "Invalid userName or apiKey")
    token = ctx.tokens.mint()
    if token is None:
        ctx.state.count("mint_refusals")
        return ctx.finish("token", answers.json_answer(answers.TOKEN_LIMIT, 429), "mint limit")
    ctx.state.count("mints")
    return ctx.finish("token", answers.json_answer({"token": token, "message": ""}), "token minted")


async def fetch_cdr_details(request: Request) -> Response:
    ctx: EmulatorContext = request.app.state.ctx
    if request.method != "GET":
        return ctx.finish("cdr", answers.method_not_allowed(CDR_PATH, "GET"), "method not allowed")
    faulted = await ctx.request_faults("cdr")
    if faulted is not None:
        return faulted
    try:
        _check_auth(ctx, request)
        body = _json_object(await request.body())
        if body is None:
            raise _Refused(answers.INVALID_JSON, 400)
        user = body.get("userName")
        if not isinstance(user, str) or not user.strip():
            raise _Refused(answers.MISSING_USER, 401)
        if user != ctx.config.user:
            raise _Refused(answers.INVALID_USER, 401)
        if not ctx.cdr_limit.admit(user):
            return ctx.rate_limit_answer("cdr")
        start, end = _dates(ctx, body)
        campaign = _given(body.get("campaignName"))
        if campaign is not None and campaign not in ctx.dataset.campaigns:
            raise _Refused(answers.INVALID_CAMPAIGN, 400)
    except _Refused as refused:
        return ctx.finish("cdr", answers.json_answer(refused.body, refused.status), refused.body["message"])
    return _success(ctx, body, start, end)


def _check_auth(ctx: EmulatorContext, request: Request) -> None:
    if ctx.config.auth_mode == "api_key":
        key = request.headers.get("apikey")
        if not key:
            raise _Refused(answers.MISSING_USER, 401)
        if key != ctx.config.api_key:
            raise _Refused(answers.INVALID_USER, 401)
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _Refused(answers.MISSING_USER, 401)
    if ctx.tokens.check(token.strip()) != VALID:
        raise _Refused(answers.TOKEN_EXPIRED, 401)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _given(value: Any) -> str | None:
    """A filter's value as a string, or None when absent or empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _dates(ctx: EmulatorContext, body: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    raw_from, raw_to = body.get("fromDate"), body.get("toDate")
    if raw_from in (None, "") or raw_to in (None, ""):
        raise _Refused(answers.MISSING_DATES, 400)
    parsed = []
    for raw in (raw_from, raw_to):
        if not isinstance(raw, str) or not _WIRE.fullmatch(raw):
            raise _Refused(answers.BAD_DATE_FORMAT, 400)
        try:
            parsed.append(dt.datetime.strptime(raw, _WIRE_FORMAT))
        except ValueError:
            raise _Refused(answers.BAD_DATE_FORMAT, 400) from None
    start, end = parsed
    today = ctx.clock.today()
    if start.date() > today or end.date() > today:
        raise _Refused(answers.FUTURE_DATES, 400)
    if start.date() != end.date():
        raise _Refused(answers.DIFFERENT_DAYS, 400)
    return start, end


def _success(ctx: EmulatorContext, body: dict[str, Any], start: dt.datetime, end: dt.datetime) -> Response:
    now = ctx.clock.now()
    day = start.date()
    filters = {name: _given(body.get(name)) for name in ("ucid", "monitorUCID", "callType", "status")}
    filters["campaignName"] = _given(body.get("campaignName"))
    if day < oldest_available_date(now):
        records: Iterable[dict[str, Any]] = ()  # past retention: success, nothing (as the vendor does)
    else:
        records = _records(ctx, day, start.time(), end.time(), now, filters)
    faults = ctx.faults
    mode = streaming.NORMAL
    for name in (streaming.DROP, streaming.TRUNCATE, streaming.ERROR_AT_END):
        if faults.take(name, "cdr"):
            mode = name
            break
    tally = [0]

    def on_records(n: int) -> None:
        tally[0] += n
        ctx.state.count("records_sent", n=n)

    chunks: Iterable[bytes] | None = None
    cache = ctx.body_cache
    if cache is not None and mode == streaming.NORMAL and day < now.date() and not any(filters.values()):
        # A past day's answer never changes: stream it from the cache, or fill the cache.
        user = re.sub(r"[^A-Za-z0-9_.-]", "_", ctx.config.user)
        key = f"{user}-s{ctx.config.seed}-n{ctx.config.calls_per_day}-{start:%Y%m%d-%H%M%S}-{end:%H%M%S}"
        cached = cache.read(key)
        if cached is not None:
            chunks, count = cached
            ctx.state.count("records_sent", n=count)
        else:
            body = streaming.body_chunks(records, on_records=on_records, encode=ctx.dataset.encode_record)
            chunks = cache.write_through(key, body, records=lambda: tally[0])
    if chunks is None:
        chunks = streaming.body_chunks(
            records, mode=mode, on_records=on_records, encode=ctx.dataset.encode_record
        )
    message = "success" if mode == streaming.NORMAL else f"success (fault: {mode})"
    return ctx.finish("cdr", StreamingResponse(chunks, media_type=answers.JSON), message)


def _records(
    ctx: EmulatorContext,
    day: dt.date,
    first: dt.time,
    last: dt.time,
    now: dt.datetime,
    filters: dict[str, str | None],
) -> Iterator[dict[str, Any]]:
    dataset = ctx.dataset
    wanted = filters["ucid"] or filters["monitorUCID"]
    if wanted is not None:
        # A UCID names its minute: look at that minute only, not the whole day.
        found = dataset.find_ucid(wanted)
        if found is None or found["CallDate"] != day.isoformat():
            return
        at = dt.time.fromisoformat(found["StartTime"])
        if not first <= at <= last:
            return
        source: Iterable[dict[str, Any]] = dataset.iter_day(day, at, at, now=now)
    else:
        source = dataset.iter_day(day, first, last, now=now)
    ucid, monitor = filters["ucid"], filters["monitorUCID"]
    campaign = filters["campaignName"]
    call_type = filters["callType"].lower() if filters["callType"] else None
    status = filters["status"].lower() if filters["status"] else None
    for record in source:
        if ucid is not None and str(record["UCID"]) != ucid:
            continue
        # The fetchCDR record carries no monitor UCID; the CallBacks API gives a leg's UCID as its
        # monitorUCID, so the filter matches the UCID.
        if monitor is not None and str(record["UCID"]) != monitor:
            continue
        if campaign is not None and record["CampaignName"] != campaign:
            continue
        if call_type is not None and record["Type"].lower() != call_type:
            continue
        if status is not None and record["Status"].lower() != status:
            continue
        yield record
