"""The Starlette application: the vendor's three endpoints and the emulator's admin routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from airflow_provider_ozonetel.emulator import admin_api
from airflow_provider_ozonetel.emulator.callbacks_api import CALLBACKS_PATH, callbacks
from airflow_provider_ozonetel.emulator.cdr_api import CDR_PATH, TOKEN_PATH, fetch_cdr_details, generate_token

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp, Receive, Scope, Send

    from airflow_provider_ozonetel.emulator.context import EmulatorContext

_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class _CaseInsensitivePaths:
    """Route any casing of the CallBacks path (the vendor's casing is not confirmed)."""

    def __init__(self, app: ASGIApp, paths: tuple[str, ...]) -> None:
        self.app = app
        self.paths = {path.lower(): path for path in paths}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            canonical = self.paths.get(scope["path"].lower())
            if canonical is not None and canonical != scope["path"]:
                scope = {**scope, "path": canonical, "raw_path": canonical.encode()}
        await self.app(scope, receive, send)


async def _not_found(request: Request) -> Response:
    ctx: EmulatorContext = request.app.state.ctx
    return ctx.finish("other", PlainTextResponse("Not Found", status_code=404), "not found")


def create_app(ctx: EmulatorContext) -> ASGIApp:
    """The ASGI app of one run, its handlers sharing ``ctx``."""
    routes = [
        Route(TOKEN_PATH, generate_token, methods=_ANY_METHOD),
        Route(CDR_PATH, fetch_cdr_details, methods=_ANY_METHOD),
        Route(CALLBACKS_PATH, callbacks, methods=_ANY_METHOD),
        Route(f"{admin_api.ADMIN_PREFIX}/state", admin_api.state, methods=["GET"]),
        Route(f"{admin_api.ADMIN_PREFIX}/faults", admin_api.faults, methods=["POST"]),
        Route(f"{admin_api.ADMIN_PREFIX}/clock", admin_api.clock, methods=["POST"]),
        Route("/{path:path}", _not_found, methods=_ANY_METHOD),
    ]
    app = Starlette(routes=routes)
    app.state.ctx = ctx
    return _CaseInsensitivePaths(app, (CALLBACKS_PATH,))
