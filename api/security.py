"""JWT access tokens (OAuth2 password flow) and the current user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from api.deps import Conn, Context
from api.state import ApiContext
from hub.access.scope import Scope, active_user_with_scope
from hub.settings import JwtSettings
from hub.users.models import Role, UserPublic
from hub.users.service import get_user

_ALGORITHM = "HS256"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token")

_UNAUTHORIZED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="not authenticated: send a valid bearer token from /api/v1/auth/token",
    headers={"WWW-Authenticate": "Bearer"},
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
        raise _UNAUTHORIZED from exc


async def current_user(token: str, ctx: ApiContext, conn: AsyncConnection) -> UserPublic:
    """The token's active user (for routes that check a token themselves)."""
    user = await get_user(conn, _user_id(token, ctx.settings.jwt))
    if user is None:
        raise _UNAUTHORIZED
    return user


async def _authenticated(
    request: Request, token: Annotated[str, Depends(oauth2_scheme)], ctx: Context, conn: Conn
) -> tuple[UserPublic, Scope]:
    # The user and their scope in one query: every request asks for them (FastAPI runs
    # this once per request however many dependencies want either).
    found = await active_user_with_scope(conn, _user_id(token, ctx.settings.jwt))
    if found is None:
        raise _UNAUTHORIZED
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
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"role {user.role.value} may not do this; needs one of "
                + ", ".join(r.value for r in roles),
            )
        return user

    return check


def own_community(scope: Scope, requested: int | None, may: str) -> int:
    """The caller's own community, for roles that see one community; 403 when they have
    none or ask for another. ``may`` completes "role X ..." in the reason."""
    if scope.community_id is None:
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"role {scope.role.value} {may}, and your account belongs to none",
        )
    if requested is not None and requested != scope.community_id:
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"role {scope.role.value} {may} "
            f"(community {scope.community_id}), not community {requested}",
        )
    return scope.community_id
