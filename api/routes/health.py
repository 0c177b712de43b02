"""Liveness and readiness: is the database reachable, is the hub on the broker."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response, status

from api.deps import Context

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(ctx: Context, response: Response) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "ok"}
    try:
        async with ctx.db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))
        body["database"] = "ok"
    except Exception as exc:  # report, do not crash: this is the health endpoint
        body["database"] = f"error: {type(exc).__name__}"
        body["status"] = "error"
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    for name, probe in ctx.health_probes.items():
        body[name] = probe()
    if body.get("mqtt_connected") is False and body["status"] == "ok":
        body["status"] = "degraded"
    return body
