"""Emulator-only control routes under ``/_emulator/`` (no vendor has them; no auth).

* ``GET /_emulator/state``: counters, faults, clocks (``?log=1`` adds the request log).
  Never the API key nor the token itself (only its sequence number).
* ``POST /_emulator/faults``: JSON object of fault settings, e.g.
  ``{"drop": 1}``, ``{"slow": 1.5, "slow_count": 2}``, ``{"5xx": -1, "error_5xx_endpoints": ["token"]}``;
  ``{"clear": true}`` switches every fault off first.
* ``POST /_emulator/clock``: ``{"now": "2026-11-20T02:59"}`` pins the data clock
  (``null`` follows real time); ``{"advance_minutes": 1}`` moves the window clock.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_provider_ozonetel.emulator import answers

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from airflow_provider_ozonetel.emulator.context import EmulatorContext

ADMIN_PREFIX = "/_emulator"


def describe(ctx: EmulatorContext, *, log: bool = False) -> dict[str, Any]:
    config = ctx.config
    data = ctx.snapshot().as_dict(log=log)
    data["clock"] = clock_state(ctx)
    data["config"] = {
        "user": config.user,
        "auth_mode": config.auth_mode,
        "seed": config.seed,
        "calls_per_day": config.calls_per_day,
        "minute_seconds": config.minute_seconds,
        "currentday": config.currentday,
    }
    return data


def clock_state(ctx: EmulatorContext) -> dict[str, Any]:
    return {
        "now": ctx.clock.now().isoformat(),
        "pinned": ctx.clock.pinned is not None,
        "minute_seconds": ctx.clock.minute_seconds,
    }


async def state(request: Request) -> Response:
    ctx: EmulatorContext = request.app.state.ctx
    log = request.query_params.get("log", "") not in ("", "0", "false")
    return answers.json_answer(describe(ctx, log=log))


async def faults(request: Request) -> Response:
    ctx: EmulatorContext = request.app.state.ctx
    body = await _body(request)
    if body is None:
        return _bad("expected a JSON object of fault settings")
    changes = dict(body)
    clear = changes.pop("clear", False)
    try:
        if clear:
            ctx.faults.clear()
        ctx.faults.set(**changes)
    except ValueError as exc:
        return _bad(str(exc))
    return answers.json_answer(ctx.faults.snapshot())


async def clock(request: Request) -> Response:
    ctx: EmulatorContext = request.app.state.ctx
    body = await _body(request)
    if body is None:
        return _bad("expected a JSON object: now, advance_minutes, advance_seconds")
    unknown = set(body) - {"now", "advance_minutes", "advance_seconds"}
    if unknown:
        return _bad(f"unknown keys {sorted(unknown)}")
    try:
        if "now" in body:
            ctx.clock.set_now(body["now"])
        ctx.clock.advance(
            minutes=float(body.get("advance_minutes", 0)), seconds=float(body.get("advance_seconds", 0))
        )
    except (TypeError, ValueError) as exc:
        return _bad(str(exc))
    return answers.json_answer(clock_state(ctx))


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _bad(message: str) -> Response:
    return answers.json_answer({"status": "error", "message": message}, 400)
