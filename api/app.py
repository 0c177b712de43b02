"""The FastAPI application: /healthz, /api/v1/..., OpenAPI at /docs."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import request_limits
from api.errors import complete_error_responses
from api.routes import (
    alerts,
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
    report_form,
    reports,
    residents,
    rules,
    telemetry,
    tickets,
)
from api.state import ApiContext


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="Community Hub",
        version="0.1.0",
        description=(
            "Device events from a residential community's gates, locks, wristbands and "
            "charging piles become alerts and service tickets. Log in at "
            "`/api/v1/auth/token` (OAuth2 password flow) and use the bearer token."
        ),
    )
    app.state.ctx = ctx
    for module in (
        health,
        metrics,
        auth,
        devices,
        telemetry,
        dashboard,
        commands,
        chargers,
        gateways,
        alerts,
        tickets,
        dead_letters,
        notifications,
        reports,
        points,
        report_form,
        rules,
        grid,
        residents,
        duty,
        pages,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    complete_error_responses(app)
    request_limits.install(
        app,
        max_body_bytes=ctx.settings.api_max_body_bytes,
        body_timeout_s=ctx.settings.api_body_timeout_s,
    )

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
