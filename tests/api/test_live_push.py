"""Live push over SSE through a real uvicorn server: addressing, resume, auth."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from api.app import create_app
from api.server import ApiServer
from api.state import ApiContext
from community_hub_tools.broker.mosquitto import free_port
from community_hub_tools.demo.seed import DEMO_PASSWORD
from device_adapters.model import Severity
from hub.i18n.catalogs import N_
from hub.i18n.said import duration
from hub.ingest.flows import Parsed, store_parsed
from hub.notifications import (
    LiveNotifier,
    Notification,
    NotificationHub,
    OutboxRelay,
    Recipients,
)
from hub.notifications.service import recipient_languages
from hub.schema.grid import communities
from hub.schema.users import users
from hub.settings import Settings
from hub.storage.db import Database
from hub.tickets.escalation import Why
from hub.users.models import Role
from tests.support.hubdata import open_seeded_db, volunteer_on_duty_for, wristband_event
from tests.support.sse import Stream

SUN = "8800000101"  # seeded wearer in grid 1
GRID_1_VOLUNTEERS = ("vol.li", "vol.chen")


@dataclass
class Live:
    db: Database
    hub: NotificationHub
    relay: OutboxRelay
    url: str
    client: httpx.AsyncClient

    async def token(self, username: str) -> str:
        response = await self.client.post(
            f"{self.url}/api/v1/auth/token",
            data={"username": username, "password": DEMO_PASSWORD},
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    db = await open_seeded_db(tmp_path)
    hub = NotificationHub([LiveNotifier(heartbeat_s=0.3)])
    relay = OutboxRelay(db, hub, name="live-test")
    relaying = asyncio.create_task(relay.run())  # as the hub runs it: the outbox → live push
    port = free_port()
    context = ApiContext(db, Settings(), notifier=hub, outbox=relay)
    server = ApiServer(create_app(context), "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            yield Live(db, hub, relay, f"http://127.0.0.1:{port}", client)
    finally:
        await server.stop()  # streams are closed by now: uvicorn waits for open ones
        await relay.aclose()
        relaying.cancel()
        await asyncio.gather(relaying, return_exceptions=True)
        await hub.aclose()
        await db.close()


async def _open(
    live: Live, username: str, *, header: bool = False, last_event_id: str | None = None
) -> tuple[httpx.Response, Stream]:
    token = await live.token(username)
    headers = {"Authorization": f"Bearer {token}"} if header else {}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    params = {} if header else {"access_token": token}
    request = live.client.build_request(
        "GET", f"{live.url}/api/v1/notifications/stream", headers=headers, params=params
    )
    response = await live.client.send(request, stream=True)
    assert response.status_code == 200, await response.aread()
    assert response.headers["content-type"].startswith("text/event-stream")
    stream = Stream(response)
    assert await stream.next_event() == {"comment": "connected"}  # subscribed from here on
    return response, stream


async def _sos_through_ingest(live: Live) -> int:
    """Open an SOS ticket the way the ingest worker does (notifications into the outbox),
    then run the hub's listener (it pokes the relay)."""
    async with live.db.write() as conn:
        outcome = await store_parsed(
            conn, Parsed(events=[wristband_event(SUN, "wristband.sos")]), datetime.now(UTC)
        )
    await live.relay.after_ingest(outcome)
    [ticket] = outcome.tickets_opened
    return ticket.ticket_id


async def test_the_volunteer_on_duty_hears_about_an_sos_and_the_other_does_not(
    live: Live,
) -> None:
    on_duty = await volunteer_on_duty_for(live.db, SUN, datetime.now(UTC))
    off_duty = next(v for v in GRID_1_VOLUNTEERS if v != on_duty)  # same grid, not on duty
    mine, my_stream = await _open(live, on_duty)  # ?access_token= as EventSource does
    theirs, their_stream = await _open(live, off_duty, header=True)
    try:
        ticket_id = await _sos_through_ingest(live)
        event = await my_stream.next_event()
        assert event["event"] == "ticket.assigned"
        body = json.loads(event["data"])
        assert body["ticket_id"] == ticket_id and body["device_kind"] == "wristband.sos"
        assert body["severity"] == "critical" and "孙丽华" in body["title"]

        # The other volunteer's next event is one addressed to them, not the SOS.
        me = await live.client.get(
            f"{live.url}/api/v1/auth/me",
            headers={"Authorization": f"Bearer {await live.token(off_duty)}"},
        )
        off_duty_id = int(me.json()["id"])
        await live.hub.publish(
            Notification(
                kind="ticket.assigned",
                title="for you",
                recipients=Recipients(user_ids=(off_duty_id,)),
                severity=Severity.LOW,
            )
        )
        theirs_next = await their_stream.next_event()
        assert json.loads(theirs_next["data"])["title"] == "for you"
        # A quiet connection still gets heartbeats.
        await asyncio.sleep(0.4)
        assert await asyncio.wait_for(_heartbeat(my_stream), 2)
    finally:
        await mine.aclose()
        await theirs.aclose()


async def test_each_stream_reads_titles_in_its_person_s_language(live: Live) -> None:
    """The volunteer chose English in their profile; the staff member chose nothing and
    reads their community's default, Simplified Chinese. The webhook-style payload keeps
    every language in ``titles`` for machines."""
    on_duty = await volunteer_on_duty_for(live.db, SUN, datetime.now(UTC))
    async with live.db.write() as conn:
        await conn.execute(users.update().where(users.c.username == on_duty).values(locale="en"))
    assert (await _community_locale(live.db)) == "zh-CN"
    mine, my_stream = await _open(live, on_duty)
    staffs, staff_stream = await _open(live, "staff")
    try:
        await _sos_through_ingest(live)
        mine_first = await my_stream.next_event()
        assert mine_first["event"] == "ticket.assigned"
        body = json.loads(mine_first["data"])
        assert body["title"].startswith("SOS: 孙丽华"), body["title"]
        assert body["titles"]["en"] == body["title"]
        assert body["titles"]["zh-CN"].startswith("一键求助：孙丽华")

        # A critical alarm also reaches the community's staff, in the community's language.
        while (event := await staff_stream.next_event())["event"] != "alert.opened":
            pass
        theirs = json.loads(event["data"])
        assert theirs["title"] == body["titles"]["zh-CN"]
        assert theirs["titles"] == body["titles"]
    finally:
        await mine.aclose()
        await staffs.aclose()

    # Outside channels (an SMS plugin) look each recipient's language up the same way.
    async with live.db.read() as conn:
        ids = {name: await _user_id(conn, name) for name in (on_duty, "staff")}
        languages = await recipient_languages(conn, list(ids.values()))
    assert languages == {ids[on_duty]: "en", ids["staff"]: "zh-CN"}


async def test_each_stream_reads_the_body_in_its_person_s_language(live: Live) -> None:
    """Why someone hears of a ticket now (an escalation's reason) is made in every
    language; each stream gets its person's, the duration in words."""
    async with live.db.write() as conn:
        await conn.execute(users.update().where(users.c.username == "vol.li").values(locale="en"))
        ids = {name: await _user_id(conn, name) for name in ("vol.li", "staff")}
    mine, my_stream = await _open(live, "vol.li")
    staffs, staff_stream = await _open(live, "staff")
    why = Why(N_("no acceptance within %(span)s"), {"span": duration(300)})
    try:
        await live.hub.publish(
            Notification(
                kind="ticket.reminder",
                title="工单",
                titles={"zh-CN": "工单", "en": "Ticket"},
                bodies=why.bodies(),
                recipients=Recipients(user_ids=(ids["vol.li"], ids["staff"])),
            )
        )
        english = json.loads((await my_stream.next_event())["data"])
        chinese = json.loads((await staff_stream.next_event())["data"])
    finally:
        await mine.aclose()
        await staffs.aclose()
    assert (english["title"], english["body"]) == ("Ticket", "no acceptance within 5 minutes")
    assert (chinese["title"], chinese["body"]) == ("工单", "5分钟内无人接单")
    assert (
        english["bodies"]
        == chinese["bodies"]
        == {
            "zh-CN": "5分钟内无人接单",
            "en": "no acceptance within 5 minutes",
        }
    )
    assert str(why) == "no acceptance within 5 minutes"  # the ticket's log keeps English


async def _community_locale(db: Database) -> str:
    async with db.read() as conn:
        return str((await conn.execute(sa.select(communities.c.locale))).scalar_one())


async def _user_id(conn: AsyncConnection, username: str) -> int:
    found = await conn.execute(sa.select(users.c.id).where(users.c.username == username))
    return int(found.scalar_one())


async def _heartbeat(stream: Stream) -> bool:
    async for line in stream._lines:
        if line == ": heartbeat":
            return True
    return False


async def test_resume_with_last_event_id_replays_what_was_missed(live: Live) -> None:
    on_duty = await volunteer_on_duty_for(live.db, SUN, datetime.now(UTC))
    response, stream = await _open(live, on_duty)
    await _sos_through_ingest(live)
    first = await stream.next_event()
    await response.aclose()  # connection drops
    plugin = live.hub.plugin(LiveNotifier)
    assert plugin is not None
    for _ in range(100):  # the server notices and unsubscribes
        if plugin.connections == 0:
            break
        await asyncio.sleep(0.02)
    assert plugin.connections == 0

    # Meanwhile, two notifications for volunteers arrive while they are offline.
    missed = [
        Notification(
            kind="ticket.assigned",
            title=f"missed {i}",
            recipients=Recipients(roles=(Role.VOLUNTEER,)),
        )
        for i in range(2)
    ]
    for note in missed:
        await live.hub.publish(note)

    response, stream = await _open(live, on_duty, header=True, last_event_id=first["id"])
    try:
        replayed = [await stream.next_event(), await stream.next_event()]
        assert [json.loads(e["data"])["title"] for e in replayed] == ["missed 0", "missed 1"]
        assert all(e["id"] > first["id"] for e in replayed)
    finally:
        await response.aclose()

    # An id from an earlier hub run: everything buffered, after a "lagged" event.
    response, stream = await _open(live, on_duty, last_event_id="0000dead-5")
    try:
        lagged = await stream.next_event()
        assert lagged["event"] == "lagged"
        assert json.loads((await stream.next_event())["data"])["kind"] == "ticket.assigned"
    finally:
        await response.aclose()


async def test_the_stream_needs_a_valid_token(live: Live) -> None:
    url = f"{live.url}/api/v1/notifications/stream"
    assert (await live.client.get(url)).status_code == 401
    assert (await live.client.get(url, params={"access_token": "nope"})).status_code == 401


async def test_an_open_stream_does_not_keep_the_server_from_stopping(tmp_path: Path) -> None:
    db = await open_seeded_db(tmp_path)
    hub = NotificationHub([LiveNotifier(heartbeat_s=0.3)])
    port = free_port()
    server = ApiServer(create_app(ApiContext(db, Settings(), notifier=hub)), "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            live = Live(db, hub, OutboxRelay(db, hub), f"http://127.0.0.1:{port}", client)
            response, _stream = await _open(live, "vol.zhao")
            loop = asyncio.get_running_loop()
            started = loop.time()
            # A browser left open must not hang a restart of the hub.
            await asyncio.wait_for(server.stop(), 15)
            assert loop.time() - started < 10
            await response.aclose()
    finally:
        await hub.aclose()
        await db.close()
