"""What one API request costs the database and the process: the caller in one query, a
ticket page and its total in one more, charger availability built once per change of a
charger's state rather than on every request, and answers the same as before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import TypeAdapter

from device_adapters.model import DeviceFamily
from hub.access.scope import active_user_with_scope, scope_for
from hub.chargers import service as chargers
from hub.chargers.models import ChargerAvailability
from hub.ingest.flows import store_batch
from hub.schema.tickets import tickets
from hub.schema.users import users
from hub.storage.db import Database
from hub.users.service import get_user
from tests.api.people import Login
from tests.support.hubdata import device_event

PILE = "ebike:EB-B1-01"  # 1号楼 of the demo community


@contextmanager
def _selects(db: Database) -> Iterator[list[str]]:
    """The SELECT statements sent to the database (reads) inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2])
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def _ports(db: Database, availability: dict[int, str], at: datetime) -> None:
    batch = [
        device_event(
            PILE,
            DeviceFamily.CHARGER,
            "charger.port_status",
            {"port": port, "status": state, "availability": state},
            received_at=at,
        )
        for port, state in availability.items()
    ]
    async with db.write() as conn:
        await store_batch(conn, batch, [], at)


@pytest.mark.parametrize("username", ["resident.sun", "staff"])
async def test_a_ticket_list_asks_once_for_the_caller_and_once_for_the_page(
    client: httpx.AsyncClient, login: Login, api_db: Database, username: str
) -> None:
    headers = await login(username)
    with _selects(api_db) as selects:
        response = await client.get("/api/v1/tickets", headers=headers)
    assert response.status_code == 200, response.text
    # The user with their household and community; then the page with its total.
    assert len(selects) == 2, selects


async def test_charger_availability_asks_once_for_the_caller_and_once_for_the_chargers(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    headers = await login("resident.sun")
    with _selects(api_db) as selects:
        response = await client.get("/api/v1/chargers/availability", headers=headers)
    assert response.status_code == 200, response.text
    assert len(selects) == 2, selects


async def test_the_caller_and_their_scope_come_as_separate_lookups_have_them(
    api_db: Database,
) -> None:
    async with api_db.read() as conn:
        ids = list((await conn.execute(sa.select(users.c.id))).scalars())
        assert ids
        for user_id in ids:
            user = await get_user(conn, user_id)
            assert user is not None
            assert await active_user_with_scope(conn, user_id) == (
                user,
                await scope_for(conn, user),
            )
    async with api_db.write() as conn:
        await conn.execute(users.update().where(users.c.id == ids[0]).values(is_active=False))
    async with api_db.read() as conn:
        assert await active_user_with_scope(conn, ids[0]) is None


async def test_a_page_past_the_end_still_says_the_total(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    async with api_db.read() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(tickets))).scalar_one()
    headers = await login("admin")
    first = (await client.get("/api/v1/tickets", headers=headers, params={"limit": 1})).json()
    assert first["total"] == count and len(first["items"]) == min(count, 1)
    past = (
        await client.get("/api/v1/tickets", headers=headers, params={"offset": count + 10})
    ).json()
    assert past == {"items": [], "total": count, "limit": 50, "offset": count + 10}


async def test_charger_availability_is_built_once_per_change_of_a_charger(
    client: httpx.AsyncClient, login: Login, api_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    await _ports(api_db, {1: "available", 2: "charging"}, at)
    built: list[str] = []
    build = chargers.availability_of

    def counted(row: Any) -> ChargerAvailability:
        built.append(row.id)
        return build(row)

    monkeypatch.setattr(chargers, "availability_of", counted)
    headers = await login("manager")
    url = "/api/v1/chargers/availability"
    first = await client.get(url, headers=headers)
    assert first.status_code == 200, first.text
    built.clear()
    again = await client.get(url, headers=headers)
    assert again.content == first.content
    assert built == [], "nothing changed, yet chargers were built again"

    await _ports(api_db, {2: "available"}, at + timedelta(minutes=1))
    changed = await client.get(url, headers=headers)
    assert built == [PILE]
    pile = next(c for c in changed.json() if c["device_id"] == PILE)
    assert [(p["port"], p["availability"]) for p in pile["ports"]] == [
        (1, "available"),
        (2, "available"),
    ]
    assert pile["summary"]["available"] == 2 and pile["summary"]["charging"] == 0


async def test_the_kept_availability_answer_is_the_models_answer(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    """With a reservation held (built per caller) and without (kept), for the owner and
    for someone else: the bytes are what serialising the models gives."""
    await _ports(api_db, {1: "available", 2: "available", 3: "charging"}, datetime.now(UTC))
    sun = await login("resident.sun")
    made = await client.post(
        f"/api/v1/chargers/{PILE}/ports/1/reservations", headers=sun, json={"minutes": 30}
    )
    assert made.status_code == 201, made.text
    as_json = TypeAdapter(list[ChargerAvailability])
    for username in ("resident.sun", "staff", "admin"):
        response = await client.get("/api/v1/chargers/availability", headers=await login(username))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        async with api_db.read() as conn:
            user_id = (
                await conn.execute(sa.select(users.c.id).where(users.c.username == username))
            ).scalar_one()
            found = await active_user_with_scope(conn, user_id)
            assert found is not None
            models = await chargers.list_availability(conn, found[1])
        assert response.content == as_json.dump_json(models), username
        port = next(c for c in response.json() if c["device_id"] == PILE)["ports"][0]
        assert port["availability"] == "reserved"
        assert port["reserved_by_me"] is (True if username == "resident.sun" else None)
