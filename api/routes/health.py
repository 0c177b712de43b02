"""Liveness (/healthz) and readiness (/readyz): ok, degraded or failing, with the reasons.

Both answer with the same verdict (hub/health.py); they differ in the HTTP
status, which is what an orchestrator acts on (docs/deployment.md):

- /readyz: 503 when failing (the hub cannot do its job: take it out of the load
  balancer, page someone), 200 when ok or degraded.
- /healthz: 503 only when restarting the process is the cure (ingest stalled
  for long while the database answers); 200 otherwise, the body still saying
  failing or degraded. A restart does not mend a database that is down.

Anyone gets the state alone. The reasons and the figures behind them (ingest,
timers, notifications, dead letters) go to whoever may read /metrics (demo mode
without a token, or the metrics token) and to admins.
"""

from __future__ import annotations

from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Header, HTTPException, Request, Response, status

from api.deps import Context
from api.routes.metrics import check_metrics_access
from api.state import ApiContext
from hub.health import DATABASE_UNREACHABLE, HealthMonitor, State, Thresholds, Verdict
from hub.users.models import Role

router = APIRouter(tags=["health"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"description": "the hub is not well (the body says why)"},
}
_JWT_ALGORITHM = "HS256"  # api/security.py's


def monitor(ctx: ApiContext) -> HealthMonitor:
    """The hub's monitor; where none is wired (an API alone), one that asks the database."""
    if ctx.health is None:
        ctx.health = HealthMonitor(
            ctx.db,
            Thresholds.from_settings(ctx.settings.health),
            database_timeout_s=ctx.settings.health.database_timeout_s,
        )
    return ctx.health


def _may_see_figures(ctx: ApiContext, authorization: str | None) -> bool:
    try:
        check_metrics_access(ctx.settings.metrics, ctx.settings.mode, authorization)
        return True
    except HTTPException:
        pass
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    # The token is checked without the database: it may be what is down.
    try:
        claims = jwt.decode(
            token.strip(),
            ctx.settings.jwt.secret.get_secret_value(),
            algorithms=[_JWT_ALGORITHM],
            options={"require": ["sub", "exp"]},
        )
    except jwt.PyJWTError:
        return False
    return claims.get("role") == Role.ADMIN.value


def _body(ctx: ApiContext, verdict: Verdict, authorization: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": verdict.state.label}
    if not _may_see_figures(ctx, authorization):
        return body  # anyone: the state alone; why is for operators
    body["reasons"] = verdict.codes
    body["checks"] = {
        reason.code: {"state": reason.state.label, "detail": reason.detail}
        for reason in verdict.reasons
    }
    unreachable = next((r for r in verdict.reasons if r.code == DATABASE_UNREACHABLE), None)
    body["database"] = "ok" if unreachable is None else f"error: {unreachable.detail}"
    body["restart"] = verdict.restart
    for name, probe in ctx.health_probes.items():
        body[name] = probe()
    return body


@router.get("/healthz", responses=_RESPONSES)
async def healthz(
    request: Request,
    ctx: Context,
    response: Response,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """Liveness: 503 only when a restart of this process is the cure."""
    if ctx.hub is not None:  # an API worker: the hub process judges
        return await ctx.hub.forward(request)
    verdict = await monitor(ctx).check()
    if verdict.restart:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return _body(ctx, verdict, authorization)


@router.get("/readyz", responses=_RESPONSES)
async def readyz(
    request: Request,
    ctx: Context,
    response: Response,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """Readiness: 503 while failing, 200 when ok or degraded."""
    if ctx.hub is not None:
        return await ctx.hub.forward(request)
    verdict = await monitor(ctx).check()
    if verdict.state is State.FAILING:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return _body(ctx, verdict, authorization)
