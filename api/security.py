"""JWT access tokens (OAuth2 password flow) and the current user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from api.deps import Conn, Context
from api.state import ApiContext
from hub.access.scope import Scope, active_user_with_scope
from hub.errors import Forbidden, NotAuthenticated
from hub.i18n.catalogs import N_
from hub.settings import JwtSettings
from hub.users.models import Role, UserPublic
from hub.users.service import get_user
from hub.users.words import role_words, roles_words

_ALGORITHM = "HS256"
# auto_error=False: FastAPI's own refusal ("Not authenticated") is English only; a
# missing token is refused below like a bad one, in the reader's language.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _unauthorized() -> NotAuthenticated:
    # Said in the request's language (its Accept-Language or cookie): nobody is logged in.
    return NotAuthenticated(
        N_("not authenticated: send a valid bearer token from %(path)s"),
        path="/api/v1/auth/token",
    )


def create_access_token(user: UserPublic, jwt_settings: JwtSettings) -> tuple[str, int]:
    lifetime = timedelta(minutes=jwt_settings.access_token_minutes)
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "role": user.role.value, "iat": now, "exp": now + lifetime}
    token = jwt.encode(claims, jwt_settings.secret.get_secret_value(), algorithm=_ALGORITHM)
    return token, int(lifetime.total_seconds())


def _user_id(token: str, jwt_settings: JwtSettings) -> int:
    try:
        claims = jwt.decode(
            token,
            jwt_settings.secret.get_secret_value(),
            algorithms=[_ALGORITHM],
            options={"require": ["sub", "exp"]},
        )
        return int(claims["sub"])
    except (jwt.PyJWTError, ValueError) as exc:
        raise _unauthorized() from exc


async def current_user(token: str, ctx: ApiContext, conn: AsyncConnection) -> UserPublic:
    """The token's active user (for routes that check a token themselves)."""
    user = await get_user(conn, _user_id(token, ctx.settings.jwt))
    if user is None:
        raise _unauthorized()
    return user


async def _authenticated(
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    ctx: Context,
    conn: Conn,
) -> tuple[UserPublic, Scope]:
    # The user and their scope in one query: every request asks for them (FastAPI runs
    # this once per request however many dependencies want either).
    if not token:
        raise _unauthorized()
    found = await active_user_with_scope(conn, _user_id(token, ctx.settings.jwt))
    if found is None:
        raise _unauthorized()
    # Kept for the error handler: a refusal is said in this person's language.
    request.state.auth = found
    return found


Authenticated = Annotated[tuple[UserPublic, Scope], Depends(_authenticated)]


async def _current_user(auth: Authenticated) -> UserPublic:
    return auth[0]


CurrentUser = Annotated[UserPublic, Depends(_current_user)]


async def current_scope(auth: Authenticated) -> Scope:
    return auth[1]


UserScope = Annotated[Scope, Depends(current_scope)]


def require_roles(*roles: Role) -> Callable[[UserPublic], Awaitable[UserPublic]]:
    """A dependency that lets only the given roles through (403 with the reason otherwise)."""

    async def check(user: CurrentUser) -> UserPublic:
        if user.role not in roles:
            raise Forbidden(
                N_("role %(role)s may not do this; needs one of %(roles)s"),
                role=role_words(user.role),
                roles=roles_words(roles),
            )
        return user

    return check


def own_community(scope: Scope, requested: int | None) -> int:
    """The caller's own community, for roles that see one community; 403 when they have
    none or ask for another."""
    if scope.community_id is None:
        raise Forbidden(
            N_("role %(role)s sees its own community only, and your account belongs to none"),
            role=role_words(scope.role),
        )
    if requested is not None and requested != scope.community_id:
        raise Forbidden(
            N_("role %(role)s sees its own community only (%(own)s), not community %(asked)s"),
            role=role_words(scope.role),
            own=scope.community_id,
            asked=requested,
        )
    return scope.community_id
