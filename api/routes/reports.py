"""Community reports: the daily digest and the weekly bulletin, as HTML or JSON.

For admins (any community), community staff and property managers (their own
community). The reports include silent alarms and confidential tickets, so
volunteers and residents may not have them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from api.deps import Conn
from api.errors import invalid_input
from api.reader import CurrentReader
from api.security import UserScope, own_community, require_roles
from hub.access.scope import Scope, sees_care
from hub.pages import language_links
from hub.reports.models import DailyDigest, WeeklyBulletin
from hub.reports.periods import BadReportInput, parse_date, parse_week
from hub.reports.render import render_daily, render_weekly
from hub.reports.service import build_daily, build_weekly
from hub.users.models import Role

_READERS = (Role.ADMIN, Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER)

router = APIRouter(
    prefix="/api/v1/reports",
    tags=["reports"],
    dependencies=[Depends(require_roles(*_READERS))],
)


class ReportFormat(StrEnum):
    HTML = "html"
    JSON = "json"


_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "the caller's role, or another community than the caller's"},
    404: {"description": "no such community"},
    422: {"description": "a malformed or future date or week"},
}


def _responses(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "model": model,
            "description": "the report: an HTML page, or with `format=json` its data",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        **_ERRORS,
    }


CommunityId = Annotated[
    int | None,
    Query(gt=0, description="the community; staff and managers may leave it out (their own)"),
]
Format = Annotated[ReportFormat, Query(alias="format", description="html (default) or json")]


def _invalid(field: str, message: str) -> HTTPException:
    return invalid_input("query", field, message)


def _community_for(scope: Scope, requested: int | None) -> int:
    """The community whose report the caller may read; 403 or 422 with the reason."""
    if scope.sees_everything:
        if requested is None:
            raise _invalid("community_id", "required: admins must say which community")
        return requested
    return own_community(scope, requested)


def _answer(report: BaseModel, html: str | None) -> Response:
    if html is None:
        return JSONResponse(report.model_dump(mode="json"))
    return HTMLResponse(html)


@router.get("/daily", response_model=None, responses=_responses(DailyDigest))
async def daily_digest(
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    request: Request,
    community_id: CommunityId = None,
    date: Annotated[
        str | None,
        Query(
            max_length=32,
            description="local date, YYYY-MM-DD (default: today so far)",
            examples=["2026-11-16"],
        ),
    ] = None,
    format_: Format = ReportFormat.HTML,
) -> Response:
    """A community's day: alerts by kind and severity, tickets registered, closed and
    open by state, late tickets with who has them, tickets raised to the community,
    time to close. `?format=json` gives the same figures as data."""
    try:
        day = parse_date(date) if date is not None else None
    except BadReportInput as exc:
        raise _invalid(exc.field, exc.for_reader(reader.language, reader.zone)) from None
    community = _community_for(scope, community_id)
    try:
        report: DailyDigest = await build_daily(
            conn, community, day, datetime.now(UTC), property_only=not sees_care(scope)
        )
    except BadReportInput as exc:
        raise _invalid(exc.field, exc.for_reader(reader.language, reader.zone)) from None
    return _answer(
        report,
        render_daily(
            report,
            language=reader.language,
            language_links=language_links(reader.language, request.query_params),
        )
        if format_ is ReportFormat.HTML
        else None,
    )


@router.get("/weekly", response_model=None, responses=_responses(WeeklyBulletin))
async def weekly_bulletin(
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    request: Request,
    community_id: CommunityId = None,
    week: Annotated[
        str | None,
        Query(
            max_length=16,
            description="ISO week, YYYY-Www (default: this week so far)",
            examples=["2026-W47"],
        ),
    ] = None,
    format_: Format = ReportFormat.HTML,
) -> Response:
    """A community's ISO week (Monday to Sunday, local time): alerts and tickets per day,
    closure and on-time rates, time to accept and to close, a table per grid, the
    volunteers' points and the residents' rating. `?format=json` gives the data."""
    try:
        iso_week = parse_week(week) if week is not None else None
    except BadReportInput as exc:
        raise _invalid(exc.field, exc.for_reader(reader.language, reader.zone)) from None
    community = _community_for(scope, community_id)
    try:
        report: WeeklyBulletin = await build_weekly(
            conn, community, iso_week, datetime.now(UTC), property_only=not sees_care(scope)
        )
    except BadReportInput as exc:
        raise _invalid(exc.field, exc.for_reader(reader.language, reader.zone)) from None
    html = (
        render_weekly(
            report,
            language=reader.language,
            language_links=language_links(reader.language, request.query_params),
        )
        if format_ is ReportFormat.HTML
        else None
    )
    return _answer(report, html)
