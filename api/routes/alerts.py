"""Alerts, as far as the caller may see."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from api import labels
from api.deps import Conn, Context, Limit, Offset
from api.pagination import Page
from api.reader import CurrentReader
from api.security import UserScope
from hub.alerts import service
from hub.alerts.models import AlertPublic
from hub.alerts.service import get_alert, list_alerts
from hub.errors import Forbidden, InvalidInput
from hub.i18n.catalogs import N_
from hub.schema.alerts import AlertStatus
from hub.users.models import Role
from hub.users.words import role_words

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("")
async def alerts(
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    status_: Annotated[AlertStatus | None, Query(alias="status")] = None,
    kind: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$")] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="opened at or after (ISO 8601 with offset)")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="opened before (ISO 8601 with offset)")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AlertPublic]:
    """The alerts the caller may see, newest first, by status, kind and opening time.

    `summary` is in the reader's language; `titles` has it in every language (alerts
    raised before titles were kept per language have their stored summary only)."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until", N_("must be after since"), where="query")
    items, total = await list_alerts(
        conn,
        scope,
        status=status_,
        kind=kind,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    items = [labels.alert(a.for_reader(reader.language), reader.language) for a in items]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/{alert_id}")
async def alert(scope: UserScope, conn: Conn, reader: CurrentReader, alert_id: int) -> AlertPublic:
    found = await get_alert(conn, scope, alert_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            reader.text(N_("no alert %(id)s visible to you"), id=alert_id),
        )
    return labels.alert(found.for_reader(reader.language), reader.language)


class ClearRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


_ACK_ROLES = (Role.ADMIN, Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER, Role.VOLUNTEER)
_CLEAR_ROLES = (Role.ADMIN, Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER)


@router.post(
    "/{alert_id}/acknowledge",
    responses={403: {"description": "residents cannot"}, 409: {"description": "not open"}},
)
async def acknowledge_alert(
    scope: UserScope, ctx: Context, reader: CurrentReader, alert_id: int
) -> AlertPublic:
    """I have it in hand: stops the alarm's escalation chain at its next step."""
    if scope.role not in _ACK_ROLES:
        raise Forbidden(N_("role %(role)s cannot acknowledge alerts"), role=role_words(scope.role))
    async with ctx.db.write() as conn:
        done = await service.acknowledge(conn, scope, alert_id, datetime.now(UTC))
    return labels.alert(done.for_reader(reader.language), reader.language)


@router.post(
    "/{alert_id}/clear",
    responses={403: {"description": "only staff"}, 409: {"description": "already cleared"}},
)
async def clear_alert(
    scope: UserScope, ctx: Context, reader: CurrentReader, alert_id: int, request: ClearRequest
) -> AlertPublic:
    """Clear an alarm the device cannot clear by itself (with the reason, for the record)."""
    if scope.role not in _CLEAR_ROLES:
        raise Forbidden(N_("role %(role)s cannot clear alerts"), role=role_words(scope.role))
    async with ctx.db.write() as conn:
        done = await service.clear(conn, scope, alert_id, request.reason, datetime.now(UTC))
    return labels.alert(done.for_reader(reader.language), reader.language)
