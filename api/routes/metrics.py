"""GET /metrics: the hub's figures in Prometheus' text format, for an operator's Prometheus.

Not under /api/v1 and not in the OpenAPI document: it is for a scraper, not for
the people's API. Protection (docs/deployment.md): with HUB_METRICS_TOKEN set,
only ``Authorization: Bearer <token>`` may read it; without a token it is open in
demo mode and refused outside it, so a production hub never exposes it by accident.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import Context
from hub.settings import MetricsSettings

router = APIRouter(tags=["metrics"])


def check_metrics_access(metrics: MetricsSettings, mode: str, authorization: str | None) -> None:
    """Raise the HTTP error that says why this caller may not read /metrics."""
    token = metrics.token
    if token is None:
        if mode == "demo":
            return
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "/metrics is off outside demo mode until HUB_METRICS_TOKEN is set",
        )
    scheme, _, given = (authorization or "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "/metrics needs the header 'Authorization: Bearer <HUB_METRICS_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get("/metrics", include_in_schema=False)
async def metrics(
    request: Request, ctx: Context, authorization: Annotated[str | None, Header()] = None
) -> Response:
    check_metrics_access(ctx.settings.metrics, ctx.settings.mode, authorization)
    if ctx.hub is not None:  # an API worker: the figures are the hub process's
        return await ctx.hub.forward(request)
    if ctx.metrics is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this process collects no metrics")
    return Response(await ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
