"""OAuth2 password flow: username and password in, a short-lived bearer token out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.deps import Conn, Context
from api.security import CurrentUser, create_access_token
from hub.users.models import Role, UserPublic
from hub.users.service import authenticate

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: Role


@router.post("/token")
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], ctx: Context, conn: Conn
) -> Token:
    user = await authenticate(conn, form.username, form.password)
    if user is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token, expires_in = create_access_token(user, ctx.settings)
    return Token(access_token=token, expires_in=expires_in, role=user.role)


@router.get("/me")
async def me(user: CurrentUser) -> UserPublic:
    return user
