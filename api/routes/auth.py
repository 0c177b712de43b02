"""OAuth2 password flow: username and password in, a short-lived bearer token and a
long-lived, single-use refresh token out.

* ``POST /api/v1/auth/token``: log in (form fields ``username``, ``password``); failed
  logins are slowed per username and client address, and limited per address and, as a
  last resort, per username (hub/users/login_limits.py);
* ``POST /api/v1/auth/refresh``: trade a refresh token for a new access and refresh token;
* ``POST /api/v1/auth/logout``: revoke the refresh token and every token of its login.

See docs/auth.md for lifetimes and the rotation rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field, field_validator

from api.deps import Context
from api.errors import ErrorBody
from api.login_limit import Refusal, client_ip, login_limiter, refusal_detail
from api.reader import CurrentReader, Reader, reader_for, visitor_reader
from api.security import Authenticated, CurrentUser, create_access_token
from hub.errors import NotAuthenticated
from hub.i18n.catalogs import N_
from hub.i18n.locales import check as check_locale
from hub.settings import JwtSettings
from hub.users import refresh as refresh_tokens
from hub.users.models import Role, UserPublic
from hub.users.service import authenticate, set_locale

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str = Field(
        description="single use: send it to /api/v1/auth/refresh for a new pair"
    )
    refresh_expires_in: int = Field(description="seconds the refresh token is valid")
    role: Role


class RefreshRequest(BaseModel):
    refresh_token: str = Field(
        min_length=1,
        max_length=refresh_tokens.MAX_TOKEN_LENGTH,
        description="the refresh_token of the last /token or /refresh answer",
    )


_REFUSED = {
    refresh_tokens.Refused.UNKNOWN: N_("refresh token not recognised; log in again"),
    refresh_tokens.Refused.EXPIRED: N_("refresh token expired; log in again"),
    refresh_tokens.Refused.REVOKED: N_(
        "refresh token revoked (logged out, or its login was revoked); log in again"
    ),
    refresh_tokens.Refused.REPLAYED: N_(
        "refresh token was already used; every token of that login is now revoked, log in again"
    ),
    refresh_tokens.Refused.INACTIVE: N_("the account is deactivated"),
}


def _refresh_lifetime(jwt_settings: JwtSettings) -> timedelta:
    return timedelta(days=jwt_settings.refresh_token_days)


def _pair(
    user: UserPublic, refresh: refresh_tokens.IssuedToken, jwt_settings: JwtSettings, now: datetime
) -> Token:
    access, expires_in = create_access_token(user, jwt_settings)
    return Token(
        access_token=access,
        expires_in=expires_in,
        refresh_token=refresh.token,
        refresh_expires_in=int((refresh.expires_at - now).total_seconds()),
        role=user.role,
    )


@router.post(
    "/token",
    responses={
        401: {"model": ErrorBody, "description": "wrong username or password"},
        429: {
            "model": ErrorBody,
            "description": "too many failed logins for the username from this address, "
            "from this address, or for the username from many addresses; see Retry-After",
        },
    },
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    ctx: Context,
) -> Token:
    """Log in: an access token (short-lived) and a refresh token (long-lived, single use)."""
    limiter = login_limiter(request)
    attempt = await limiter.attempt(ctx.db, form.username, client_ip(request))
    if isinstance(attempt, Refusal):  # the password is not even checked
        reader = await visitor_reader(request, ctx.db)  # only a refusal needs words
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=refusal_detail(attempt, reader, limiter.clock()),
            headers={"Retry-After": str(attempt.retry_after)},
        )
    user = await authenticate(ctx.db, form.username, form.password)
    if user is None:
        reader = await visitor_reader(request, ctx.db)
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=reader.text(N_("wrong username or password")),
            headers={"WWW-Authenticate": "Bearer"},
        )
    now = datetime.now(UTC)
    async with ctx.db.write() as wconn:
        await limiter.succeeded(wconn, attempt)
        issued = await refresh_tokens.issue(
            wconn, user.id, now, _refresh_lifetime(ctx.settings.jwt)
        )
    return _pair(user, issued, ctx.settings.jwt, now)


@router.post(
    "/refresh",
    responses={
        401: {
            "model": ErrorBody,
            "description": "the refresh token is unknown, expired, revoked or was already "
            "used (which revokes its whole login), or the account is deactivated",
        }
    },
)
async def refresh(body: RefreshRequest, ctx: Context) -> Token:
    """A new access token and a new refresh token; the one sent is used up."""
    now = datetime.now(UTC)
    # Committed whatever the outcome: a replay's revocation must stick.
    async with ctx.db.write() as conn:
        result = await refresh_tokens.try_rotate(
            conn, body.refresh_token, now, lifetime=_refresh_lifetime(ctx.settings.jwt)
        )
    if isinstance(result, refresh_tokens.Refused):
        # Nobody is logged in: said in the request's language (Accept-Language, cookie).
        raise NotAuthenticated(_REFUSED[result])
    return _pair(result.user, result.refresh, ctx.settings.jwt, now)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, ctx: Context) -> None:
    """Revoke the refresh token and every token of its login. Answers 204 also for a token
    that is unknown: either way it cannot be used. Access tokens already handed out stay
    valid until they expire (``expires_in``)."""
    async with ctx.db.write() as conn:
        await refresh_tokens.revoke_family_of(conn, body.refresh_token, datetime.now(UTC))


class Me(UserPublic):
    language: str = Field(
        description="the language this person reads: their own choice (`locale`), else "
        "their browser's, else their community's"
    )
    timezone: str = Field(description="their community's time zone, for times shown to them")


class LanguageChoice(BaseModel):
    locale: str | None = Field(
        description="a supported language (zh-CN, en), or null to follow the browser "
        "and the community"
    )

    @field_validator("locale")
    @classmethod
    def _supported(cls, locale: str | None) -> str | None:
        return None if locale is None else check_locale(locale)


def _me(user: UserPublic, reader: Reader) -> Me:
    return Me(**user.model_dump(), language=reader.language, timezone=reader.zone.key)


@router.get("/me")
async def me(user: CurrentUser, reader: CurrentReader) -> Me:
    return _me(user, reader)


@router.patch("/me", responses={422: {"model": ErrorBody}})
async def choose_language(
    body: LanguageChoice, auth: Authenticated, request: Request, ctx: Context
) -> Me:
    """Set the language this person reads everywhere (pages, notifications, reports)."""
    user, scope = auth
    async with ctx.db.write() as conn:
        await set_locale(conn, user.id, body.locale)
    chosen = user.model_copy(update={"locale": body.locale})
    return _me(chosen, reader_for(chosen, scope, request))
