"""Annotated dependency aliases shared by the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from api.state import ApiContext


def get_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Context = Annotated[ApiContext, Depends(get_context)]


async def get_conn(ctx: Context) -> AsyncIterator[AsyncConnection]:
    async with ctx.db.read() as conn:
        yield conn


Conn = Annotated[AsyncConnection, Depends(get_conn)]

Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
Offset = Annotated[int, Query(ge=0, description="items to skip")]
