"""An API client on a seeded SQLite database, with a helper to log in as any demo account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.state import ApiContext
from hub.demo.seed import DEMO_PASSWORD
from hub.settings import Settings
from hub.storage.db import Database
from tests.support.hubdata import open_seeded_db

Login = Callable[[str], Awaitable[dict[str, str]]]


@pytest.fixture
async def api_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = await open_seeded_db(tmp_path)
    yield db
    await db.close()


@pytest.fixture
async def client(api_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ApiContext(db=api_db, settings=Settings()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as c:
        yield c


@pytest.fixture
def login(client: httpx.AsyncClient) -> Login:
    async def _login(username: str) -> dict[str, str]:
        response = await client.post(
            "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return _login
