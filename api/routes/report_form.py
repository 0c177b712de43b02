"""Reporting a problem without a login: each grid's QR code opens a small form.

* ``GET /api/v1/grids/{grid_id}/report-qr.svg``: the grid's QR code to print (staff,
  property managers and admins of the grid's community);
* ``GET /report/{token}``: the form it opens, a page sized for phones;
* ``POST /api/v1/problem-reports/{token}``: the form's answer (a form post, or JSON), which
  opens a ticket in that grid with source ``resident``.

The token names the grid and is signed with the hub's secret, so a forged or
altered code is a 404. Posts are rate-limited per client address.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from api.deps import Conn, Context
from api.reader import LANGUAGE_COOKIE, CurrentReader, Reader, VisitorReader, visitor_reader
from api.security import UserScope, require_roles
from api.state import ApiContext
from hub.i18n.catalogs import N_
from hub.i18n.locales import supported
from hub.notifications import outbox
from hub.pages import LanguageLink, language_links, render
from hub.policy.document import Category
from hub.policy.service import rules_for
from hub.tickets import intake
from hub.tickets.models import ReportForm
from hub.tickets.service import InvalidTicketInput
from hub.users.models import Role, UserPublic

router = APIRouter(tags=["resident reports"])

Supervisor = Annotated[
    UserPublic, Depends(require_roles(Role.ADMIN, Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER))
]

# Posts a client address may make in a window (a person reports a few problems at most).
RATE_LIMIT, RATE_WINDOW_S = 10, 600.0


class SlidingWindowLimiter:
    """At most ``limit`` hits per key within ``window_s`` seconds, in this process."""

    def __init__(self, limit: int, window_s: float, *, max_keys: int = 10_000) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float | None = None) -> int:
        """Count a hit; 0 if allowed, else the seconds until the next one would be."""
        now = time.monotonic() if now is None else now
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._forget_idle(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, math.ceil(hits[0] + self.window_s - now))
        hits.append(now)
        return 0

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window_s]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:  # all busy: drop the oldest half
            for key in sorted(self._hits, key=lambda k: self._hits[k][-1])[: self.max_keys // 2]:
                del self._hits[key]


def _limiter(request: Request) -> SlidingWindowLimiter:
    """One limiter per app (so each test app, and each API process, counts on its own)."""
    state = request.app.state
    limiter: SlidingWindowLimiter | None = getattr(state, "report_limiter", None)
    if limiter is None:
        limiter = SlidingWindowLimiter(RATE_LIMIT, RATE_WINDOW_S)
        state.report_limiter = limiter
    return limiter


def _secret(ctx: ApiContext) -> str:
    """The key new QR codes are signed with (HUB_QR_SECRET, else the JWT secret)."""
    return ctx.settings.qr_signing_secret()


# --- The QR code.


@router.get(
    "/api/v1/grids/{grid_id}/report-qr.svg",
    tags=["grids"],
    response_class=Response,
    responses={
        200: {
            "content": {"image/svg+xml": {}},
            "description": "the QR code; the `X-Report-Url` header is the address it encodes",
        },
        404: {"description": "no such grid in the caller's community"},
    },
)
async def grid_report_qr(
    grid_id: int,
    request: Request,
    user: Supervisor,
    scope: UserScope,
    conn: Conn,
    ctx: Context,
    reader: CurrentReader,
    base_url: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
            description="the hub's public address, if residents reach it by another "
            "(default: the address of this request)",
        ),
    ] = None,
) -> Response:
    """The grid's QR code, to print and put up in the grid: it opens the report form."""
    grid = await intake.grid_info(conn, grid_id)
    if grid is None or (not scope.sees_everything and grid.community_id != scope.community_id):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            reader.text(N_("no grid %(id)s in your community"), id=grid_id),
        )
    base = (base_url or str(request.base_url)).rstrip("/")
    url = f"{base}/report/{intake.grid_report_token(grid.id, _secret(ctx))}"
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out,
        kind="svg",
        scale=8,
        border=4,
        # The poster's words: 扫码报事 (scan to report).
        title=reader.text(N_("Scan to report a problem: %(grid)s"), grid=grid.name),
    )
    return Response(
        out.getvalue(),
        media_type="image/svg+xml",
        headers={
            "X-Report-Url": url,
            "Content-Disposition": f'inline; filename="grid-{grid.id}-report-qr.svg"',
        },
    )


# --- The form page (hub/pages/templates/report_form/).

# From the pages' addresses to the app's root, where the stylesheet is: the form is
# /report/{token}, its answer /api/v1/problem-reports/{token}.
FORM_ROOT, ANSWER_ROOT = "../", "../../../"


def _form_page(
    action: str,
    grid: intake.GridInfo,
    categories: dict[str, Category],
    *,
    language: str,
    static_root: str,
    values: dict[str, str] | None = None,
    errors: list[tuple[str, str]] | None = None,
    done: str | None = None,
    links: Sequence[LanguageLink] = (),
) -> str:
    values = values or {}
    # A category's label may be written per language: the form shows the page's one.
    labelled = {
        name: category.model_copy(update={"label": category.label_in(language)})
        for name, category in categories.items()
    }
    return render(
        "report_form/form.html",
        language=language,
        language_links=links,
        static_root=static_root,
        action=action,
        grid=grid,
        categories=labelled,
        chosen=values.get("category", intake.RESIDENT_DEFAULT_CATEGORY),
        values=values,
        errors=errors or [],
        done=done,
    )


def _message_page(static_root: str, reason: str, reader: Reader, wait: str = "") -> str:
    return render(
        "report_form/message.html",
        language=reader.language,
        static_root=static_root,
        reason=reason,
        wait=wait,
    )


def _wait(reader: Reader, retry_after: int) -> str:
    """When to try again: the local time and how long from now."""
    now = datetime.now(UTC)
    delta = timedelta(seconds=retry_after)
    return reader.text(
        N_("too many reports from your address; try again at %(time)s (%(wait)s)"),
        time=reader.time_in_sentence(now + delta, now=now),
        wait=reader.relative(delta),
    )


async def _grid_and_categories(
    conn: AsyncConnection, token: str, secrets: list[str]
) -> tuple[intake.GridInfo, dict[str, Category]] | None:
    grid_id = intake.grid_from_token(token, *secrets)
    grid = await intake.grid_info(conn, grid_id) if grid_id is not None else None
    if grid is None:
        return None
    return grid, intake.resident_categories(await rules_for(conn, grid.community_id))


@router.get(
    "/report/{token}",
    response_class=HTMLResponse,
    include_in_schema=False,
)
async def report_form(
    token: str, conn: Conn, ctx: Context, reader: VisitorReader, request: Request
) -> HTMLResponse:
    found = await _grid_and_categories(conn, token, ctx.settings.qr_accepted_secrets())
    if found is None:
        page = _message_page(FORM_ROOT, "not_found", reader)
        return HTMLResponse(page, status.HTTP_404_NOT_FOUND)
    grid, categories = found
    # Relative, so the page works wherever the hub is mounted (…/report/T → …/problem-reports/T).
    page = _form_page(
        f"../api/v1/problem-reports/{token}",
        grid,
        categories,
        language=reader.language,
        static_root=FORM_ROOT,
        links=language_links(reader.language, request.query_params),
    )
    answer = HTMLResponse(page)
    if supported(request.query_params.get("lang")) is not None:
        # Chosen by the switch: the form's answer (a POST, no ?lang=) keeps it.
        answer.set_cookie(LANGUAGE_COOKIE, reader.language, max_age=365 * 86400, samesite="lax")
    return answer


# --- The form's answer.


class ReportReceipt(BaseModel):
    ticket_id: int
    grid_id: int
    message: str


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in ("application/x-www-form-urlencoded", "multipart/form-data")


async def _body(request: Request) -> dict[str, Any]:
    if _is_form(request):
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        body = json.loads(await request.body() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _Invalid([("body", N_("not valid JSON"))]) from None
    if not isinstance(body, dict):
        raise _Invalid([("body", N_("send a JSON object or a form"))])
    return body


class _Invalid(Exception):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


def _problems(exc: ValidationError, reader: Reader) -> list[tuple[str, str]]:
    found = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "body"
        found.append((field, _field_message(error, reader)))
    return found


def _field_message(error: Any, reader: Reader) -> str:
    """A field's problem in the reader's language, by the kind of problem pydantic found
    (its own English otherwise); a validator's message is itself a catalog message id."""
    kind, limits = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return reader.text(N_("required"))
    if kind == "string_too_short":
        if limits.get("min_length") == 1:
            return reader.text(N_("must not be empty"))
        return reader.text(N_("at least %(n)s characters"), n=limits.get("min_length"))
    if kind == "string_too_long":
        return reader.text(N_("at most %(n)s characters"), n=limits.get("max_length"))
    if kind in ("string_type", "string_pattern_mismatch"):
        return reader.text(N_("not in the expected form"))
    if kind == "extra_forbidden":
        return reader.text(N_("not a field of this form"))
    message = str(error["msg"]).removeprefix("Value error, ")
    return reader.text(message)


_FORM_SCHEMA = ReportForm.model_json_schema()


@router.post(
    "/api/v1/problem-reports/{token}",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportReceipt,
    responses={
        201: {"content": {"text/html": {}}, "description": "for a form post: a page that says so"},
        # A form post gets each error as a page too.
        404: {
            "description": "the code is not valid (forged, altered, or its grid is gone)",
            "content": {"application/json": {}, "text/html": {}},
        },
        422: {
            "description": "a field is missing or invalid; the detail says which and why",
            "content": {"application/json": {}, "text/html": {}},
        },
        429: {
            "description": "too many reports from this address; see Retry-After",
            "content": {"application/json": {}, "text/html": {}},
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _FORM_SCHEMA},
                "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA},
            },
        }
    },
)
async def submit_report(token: str, request: Request, ctx: Context) -> Response:
    """Open a ticket (source `resident`) in the QR code's grid, from `reporter_name`,
    `reporter_phone`, `category` (a resident-facing one; default `resident_report`) and
    `description` (1-2000 characters). A form post gets an HTML page back, JSON gets JSON."""
    as_html = _is_form(request)
    # No connection held meanwhile: the report is written in one of its own.
    reader = await visitor_reader(request, ctx.db)
    retry_after = _limiter(request).hit(request.client.host if request.client else "unknown")
    if retry_after:
        message = _wait(reader, retry_after)
        headers = {"Retry-After": str(retry_after)}
        if as_html:
            page = _message_page(ANSWER_ROOT, "wait", reader, message)
            return HTMLResponse(page, status.HTTP_429_TOO_MANY_REQUESTS, headers)
        return JSONResponse({"detail": message}, status.HTTP_429_TOO_MANY_REQUESTS, headers)

    async with ctx.db.read() as conn:
        found = await _grid_and_categories(conn, token, ctx.settings.qr_accepted_secrets())
    if found is None:
        if as_html:
            page = _message_page(ANSWER_ROOT, "not_found", reader)
            return HTMLResponse(page, status.HTTP_404_NOT_FOUND)
        unknown = reader.text(N_("no such report code"))
        return JSONResponse({"detail": unknown}, status.HTTP_404_NOT_FOUND)
    grid, categories = found

    values: dict[str, Any] = {}
    try:
        values = await _body(request)
        try:
            form = ReportForm.model_validate(values)
        except ValidationError as exc:
            raise _Invalid(_problems(exc, reader)) from None
        async with ctx.db.write() as conn:
            try:
                opened = await intake.open_from_report(conn, grid, form, datetime.now(UTC))
            except InvalidTicketInput as exc:
                why = exc.for_reader(reader.language, reader.zone)
                raise _Invalid([(exc.field, why)]) from None
            await outbox.enqueue(conn, opened.notifications)
    except _Invalid as exc:
        problems = [(field, reader.text(message)) for field, message in exc.problems]
        if as_html:
            shown = {k: str(v) for k, v in values.items() if isinstance(v, str | int)}
            page = _form_page(
                token,
                grid,
                categories,
                language=reader.language,
                static_root=ANSWER_ROOT,
                values=shown,
                errors=problems,
            )
            return HTMLResponse(page, 422)
        detail = [
            {"type": "value_error", "loc": ["body", *field.split(".")], "msg": message}
            for field, message in problems
        ]
        return JSONResponse({"detail": detail}, 422)

    if ctx.outbox is not None:
        ctx.outbox.poke()  # committed: deliver the notifications now
    message = reader.text(
        N_(
            "Thank you, %(name)s: your report was received as ticket %(id)s. "
            "Staff of %(grid)s will follow it up and may call you."
        ),
        name=form.reporter_name,
        id=opened.ticket_id,
        grid=grid.name,
    )
    if as_html:
        # Its form posts to …/problem-reports/T again.
        page = _form_page(
            token,
            grid,
            categories,
            language=reader.language,
            static_root=ANSWER_ROOT,
            done=message,
        )
        return HTMLResponse(page, status.HTTP_201_CREATED)
    receipt = ReportReceipt(ticket_id=opened.ticket_id, grid_id=grid.id, message=message)
    return JSONResponse(receipt.model_dump(mode="json"), status.HTTP_201_CREATED)
