"""An API client on a seeded SQLite database, with a helper to log in as any demo account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from api.state import ApiContext
from community_hub_tools.demo.seed import DEMO_PASSWORD
from hub.ingest.flows import store_batch
from hub.notifications.base import NotificationHub
from hub.notifications.outbox import OutboxRelay
from hub.schema.tickets import tickets
from hub.settings import Settings
from hub.storage.db import Database
from tests.api.people import Login, Users
from tests.support.hubdata import (
    RecordingNotifier,
    open_seeded_db,
    volunteer_on_duty_for,
    wristband_event,
)
from tests.support.postgres import PostgresServer

SUN = "8800000101"  # 孙丽华's wristband: her household is in grid 1


@pytest.fixture(params=["sqlite", "postgresql"])
async def api_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The seeded store, once on SQLite and once on PostgreSQL (the same code path)."""
    if request.param == "sqlite":
        db = await open_seeded_db(tmp_path)
        yield db
        await db.close()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    # A copy of a database migrated and seeded once per session: much faster.
    with server.fresh_database(template=server.seeded_template()) as url:
        db = Database.open(url)
        yield db
        await db.close()


@pytest.fixture
def notes() -> RecordingNotifier:
    """Every notification the app publishes during a test."""
    return RecordingNotifier()


@pytest.fixture
async def notifier(notes: RecordingNotifier) -> AsyncIterator[NotificationHub]:
    hub = NotificationHub([notes])
    yield hub
    await hub.aclose()


@pytest.fixture
async def outbox(api_db: Database, notifier: NotificationHub) -> AsyncIterator[OutboxRelay]:
    """The routes' notifications wait in the outbox; ``await outbox.deliver_due()`` sends them."""
    relay = OutboxRelay(api_db, notifier, name="api-test")
    yield relay
    await relay.aclose()


@pytest.fixture
async def client(
    api_db: Database, notifier: NotificationHub, outbox: OutboxRelay
) -> AsyncIterator[httpx.AsyncClient]:
    context = ApiContext(db=api_db, settings=Settings(), notifier=notifier, outbox=outbox)
    app = create_app(context)
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


@pytest.fixture
def as_user(client: httpx.AsyncClient, login: Login, api_db: Database) -> Users:
    return Users(client, login, api_db)


@pytest.fixture
async def sos(api_db: Database) -> tuple[int, str]:
    """An SOS from 孙丽华's wristband; returns its ticket and the volunteer it went to."""
    now = datetime.now(UTC)
    async with api_db.write() as conn:
        await store_batch(conn, [wristband_event(SUN, "wristband.sos")], [], now)
        ticket_id = (await conn.execute(sa.select(sa.func.max(tickets.c.id)))).scalar_one()
    return int(ticket_id), await volunteer_on_duty_for(api_db, SUN, now)
