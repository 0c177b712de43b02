"""The FastAPI application: /healthz, /api/v1/..., the pages, OpenAPI at /docs when on."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from api import request_limits
from api.errors import complete_error_responses, install_error_handlers
from api.routes import (
    alerts,
    api_docs,
    auth,
    chargers,
    commands,
    dashboard,
    dead_letters,
    devices,
    duty,
    gateways,
    grid,
    health,
    metrics,
    notifications,
    pages,
    points,
    preferences,
    push,
    pwa,
    report_form,
    reports,
    residents,
    rules,
    telemetry,
    ticket_deliveries,
    tickets,
    wearer,
)
from api.routes import internal as internal_routes
from api.security_headers import SecurityHeaders
from api.state import ApiContext


class _HubApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outermost, around Starlette's error middleware: a 500 carries the headers too.
        return SecurityHeaders(super().build_middleware_stack())


def create_app(ctx: ApiContext, *, internal: bool = False) -> FastAPI:
    """The hub's app; ``internal``: with the routes for API workers (api/routes/internal.py),
    only ever served on the hub's local socket."""
    docs = api_docs.docs_enabled(ctx.settings.api, ctx.settings.mode)
    app = _HubApp(
        title="Community Hub",
        version="0.1.0",
        description=(
            "Device events from a residential community's gates, locks, wristbands and "
            "charging piles become alerts and service tickets. Log in at "
            "`/api/v1/auth/token` (OAuth2 password flow) and use the bearer token."
        ),
        # FastAPI's own pages load from a CDN and run inline scripts: api/routes/api_docs.py.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url=api_docs.OPENAPI_URL if docs else None,
    )
    app.state.ctx = ctx
    for module in (
        health,
        metrics,
        auth,
        preferences,
        devices,
        telemetry,
        dashboard,
        commands,
        chargers,
        gateways,
        alerts,
        tickets,
        wearer,
        ticket_deliveries,
        dead_letters,
        notifications,
        push,
        reports,
        points,
        report_form,
        rules,
        grid,
        residents,
        duty,
        pages,
        pwa,
    ):
        app.include_router(module.router)
    if docs:
        api_docs.mount(app)
    if internal:
        app.include_router(internal_routes.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    complete_error_responses(app)
    install_error_handlers(app)
    request_limits.install(
        app,
        max_body_bytes=ctx.settings.api.max_body_bytes,
        body_timeout_s=ctx.settings.api.body_timeout_s,
    )

    # The demo shows its API first; a deployment's visitors are people, who log in.
    home = "/docs" if docs and ctx.settings.mode == "demo" else "/login"

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(home)

    return app
