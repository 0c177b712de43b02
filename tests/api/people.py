"""Logged-in people for the API tests: a demo account, or a family member of a household."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import sqlalchemy as sa

from community_hub_tools.demo.seed import DEMO_PASSWORD
from hub.schema.residents import residents
from hub.storage.db import Database
from hub.users.models import Role
from hub.users.service import create_user

Login = Callable[[str], Awaitable[dict[str, str]]]
Json = dict[str, Any]


class Actor:
    """One logged-in demo account."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    async def id(self) -> int:
        me = await self.client.get("/api/v1/auth/me", headers=self.headers)
        assert me.status_code == 200
        return int(me.json()["id"])

    async def get(self, ticket_id: int) -> httpx.Response:
        return await self.client.get(f"/api/v1/tickets/{ticket_id}", headers=self.headers)

    async def do(self, ticket_id: int, action: str, **inputs: Any) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/tickets/{ticket_id}/transitions",
            headers=self.headers,
            json={"action": action, **inputs},
        )

    async def ok(self, ticket_id: int, action: str, **inputs: Any) -> Json:
        response = await self.do(ticket_id, action, **inputs)
        assert response.status_code == 200, response.text
        body: Json = response.json()
        return body


class Users:
    """Logs in as demo accounts, or as a family member added to a seeded household."""

    def __init__(self, client: httpx.AsyncClient, login: Login, db: Database) -> None:
        self.client, self.login, self.db = client, login, db

    async def __call__(self, username: str) -> Actor:
        return Actor(self.client, await self.login(username))

    async def family_of(self, resident_name: str, username: str) -> Actor:
        async with self.db.write() as conn:
            resident_id = (
                await conn.execute(
                    sa.select(residents.c.id).where(residents.c.full_name == resident_name)
                )
            ).scalar_one()
            await create_user(
                conn,
                username=username,
                password=DEMO_PASSWORD,
                full_name=f"{resident_name}家属",
                role=Role.RESIDENT,
                resident_id=resident_id,
            )
        return await self(username)
