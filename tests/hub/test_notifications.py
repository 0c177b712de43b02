"""Notification fan-out, the silent-alarm guard, routing from ingest outcomes, webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request, Response

from api.server import ApiServer
from community_hub_tools.broker.mosquitto import free_port
from device_adapters.model import DeviceFamily, Severity
from hub.ingest.flows import Parsed, store_batch, store_parsed
from hub.notifications import (
    LiveNotifier,
    Notification,
    NotificationHub,
    OutboxRelay,
    Recipients,
    WebhookNotifier,
    residents_in,
    sign,
)
from hub.notifications.webhook import SIGNATURE_HEADER, WebhookError
from hub.schema.users import users
from hub.storage.db import Database
from hub.users.models import Role, UserPublic
from tests.support.hubdata import device_event, open_seeded_db, wristband_event

SUN = "8800000101"


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Notification] = []

    async def notify(self, notification: Notification) -> None:
        self.seen.append(notification)


class Broken:
    async def notify(self, notification: Notification) -> None:
        raise RuntimeError("provider down")


class Hangs:
    async def notify(self, notification: Notification) -> None:
        await asyncio.Event().wait()


def _note(**recipients: object) -> Notification:
    return Notification(
        kind="ticket.assigned",
        title="SOS",
        recipients=Recipients.model_validate(recipients),
        severity=Severity.CRITICAL,
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded_db(tmp_path)
    yield database
    await database.close()


async def _user_ids(db: Database) -> dict[str, int]:
    async with db.read() as conn:
        rows = await conn.execute(sa.select(users.c.username, users.c.id))
        return {row.username: row.id for row in rows}


async def test_a_failing_plugin_does_not_stop_the_others() -> None:
    before, after = Recorder(), Recorder()
    hub = NotificationHub([before, Broken(), after])
    note = _note(user_ids=(7,))
    await hub.publish(note)
    assert before.seen == [note] and after.seen == [note]
    assert hub.failures == 1

    # The outbox's path: outside channels only, and who failed is reported, not raised.
    delivery = await hub.deliver(_note(user_ids=(8,)))
    assert len(after.seen) == 2 and hub.failures == 2
    assert delivery.delivered_to == ("Recorder", "Recorder#2")
    assert set(delivery.failed) == {"Broken"} and "provider down" in delivery.failed["Broken"]
    # A retry skips the channels that already took it.
    again = await hub.deliver(_note(user_ids=(8,)), done=delivery.delivered_to)
    assert again.delivered_to == () and len(after.seen) == 2


async def test_a_hanging_plugin_is_cut_off_and_does_not_stop_the_others() -> None:
    other = Recorder()
    hub = NotificationHub([Hangs(), other], plugin_timeout_s=0.2)
    note = _note(user_ids=(8,))
    delivery = await hub.deliver(note)
    assert other.seen == [note] and delivery.delivered_to == ("Recorder",)
    # Reported as failed, so the outbox retries that channel alone later.
    assert set(delivery.failed) == {"Hangs"} and "TimeoutError" in delivery.failed["Hangs"]


async def test_silent_notifications_never_reach_residents(db: Database) -> None:
    ids = await _user_ids(db)
    seen = Recorder()
    hub = NotificationHub([seen], residents=residents_in(db))
    await hub.publish(
        _note(user_ids=(ids["resident.sun"], ids["staff"]), roles=(Role.RESIDENT,)).model_copy(
            update={"silent": True}
        )
    )
    [delivered] = seen.seen
    assert delivered.recipients.user_ids == (ids["staff"],)
    assert delivered.recipients.roles == ()

    # Only residents asked for: nothing is sent at all.
    await hub.publish(_note(roles=(Role.RESIDENT,)).model_copy(update={"silent": True}))
    assert len(seen.seen) == 1
    # And a live stream of a resident ignores a silent one even if addressed by id.
    resident = UserPublic(id=1, username="r", full_name="R", role=Role.RESIDENT)
    assert (
        not _note(user_ids=(1,))
        .model_copy(update={"silent": True})
        .addressed_to(resident.id, resident.role, None)
    )


async def test_an_sos_ticket_notifies_its_assignee_and_critical_alarms_the_supervisors(
    db: Database,
) -> None:
    now = datetime.now(UTC)
    async with db.write() as conn:  # as the ingest worker stores a batch: with its notifications
        outcome = await store_parsed(
            conn, Parsed(events=[wristband_event(SUN, "wristband.sos")]), now
        )
    seen = Recorder()
    hub = NotificationHub([seen])
    assert await OutboxRelay(db, hub).deliver_due() == len(outcome.notifications) == 2
    assert [n.id for n in seen.seen] == [n.id for n in outcome.notifications]

    [opened] = outcome.tickets_opened
    by_kind = {n.kind: n for n in seen.seen}
    assert set(by_kind) == {"ticket.assigned", "alert.opened"}
    assigned = by_kind["ticket.assigned"]
    assert assigned.recipients == Recipients(user_ids=(opened.assignee_id,))
    assert assigned.ticket_id == opened.ticket_id and assigned.device_kind == "wristband.sos"
    alarm = by_kind["alert.opened"]
    # Elderly care is not the property's: the manager, who may not open it, is not told.
    assert set(alarm.recipients.roles) == {Role.COMMUNITY_STAFF}
    assert alarm.recipients.community_id is not None and not alarm.silent


async def test_a_duress_alarm_goes_to_staff_only_and_is_flagged_silent(db: Database) -> None:
    async with db.write() as conn:
        outcome = await store_batch(
            conn,
            [device_event("z2m:b1_101_front_door", DeviceFamily.LOCK, "lock.duress")],
            [],
            datetime.now(UTC),
        )
    [ticket] = outcome.tickets_opened
    assert ticket.assignee_id is None  # a staff category: never dispatched to a volunteer
    notes = outcome.notifications
    assert notes and all(n.silent for n in notes)
    ids = await _user_ids(db)
    async with db.read() as conn:
        staff_community = (
            await conn.execute(sa.select(users.c.community_id).where(users.c.id == ids["staff"]))
        ).scalar_one()
    escalated = next(n for n in notes if n.kind == "ticket.escalated")
    assert escalated.recipients.roles == (Role.COMMUNITY_STAFF,)
    assert escalated.recipients.community_id == staff_community
    assert escalated.addressed_to(ids["staff"], Role.COMMUNITY_STAFF, staff_community)
    assert not escalated.addressed_to(ids["staff"], Role.COMMUNITY_STAFF, staff_community + 1)
    for note in notes:
        assert Role.RESIDENT not in note.recipients.roles
        assert not note.addressed_to(ids["resident.sun"], Role.RESIDENT, staff_community)


async def test_live_queue_drops_the_oldest_and_reports_lag() -> None:
    live = LiveNotifier(queue_size=2)
    user = UserPublic(id=5, username="v", full_name="V", role=Role.VOLUNTEER)
    sub = live.subscribe(user)
    for _ in range(3):
        await live.notify(_note(user_ids=(5,)))
    await live.notify(_note(user_ids=(6,)))  # someone else's
    frames = sub.take()
    assert frames[0].startswith("event: lagged\n")
    assert json.loads(frames[0].split("data: ")[1]) == {"reason": "queue_full", "dropped": 1}
    assert [f.split("\n")[0] for f in frames[1:]] == [f"id: {live.epoch}-2", f"id: {live.epoch}-3"]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    got: list[tuple[dict[str, str], bytes]] = []
    app = FastAPI()
    fail_first = {"left": 1}

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        got.append((dict(request.headers), await request.body()))
        if fail_first["left"]:
            fail_first["left"] -= 1
            return Response(status_code=503)
        return Response(status_code=204)

    @app.post("/gone")
    async def gone() -> Response:
        return Response(status_code=410)

    port = free_port()
    server = ApiServer(app, "127.0.0.1", port)
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}", got
    finally:
        await server.stop()


async def test_webhook_posts_signed_json_and_retries(
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    base, got = receiver
    hook = WebhookNotifier([f"{base}/hook"], secret="s3cret", backoff_s=0.01)
    titles = {"zh-CN": "一键求助：孙丽华，1号楼 · 101", "en": "SOS: 孙丽华 at 1-101"}
    note = _note(user_ids=(3,)).model_copy(update={"title": titles["zh-CN"], "titles": titles})
    try:
        await hook.notify(note)
    finally:
        await hook.aclose()
    assert len(got) == 2  # a 503, then delivered
    headers, body = got[-1]
    assert headers[SIGNATURE_HEADER.lower()] == sign("s3cret", body)
    assert headers["x-hub-event"] == "ticket.assigned" and headers["x-hub-delivery"] == note.id
    sent = json.loads(body)
    assert sent["id"] == note.id and sent["kind"] == "ticket.assigned"
    assert sent["recipients"]["user_ids"] == [3] and sent["severity"] == "critical"
    # Machines get the community's title and every language's, whoever reads them.
    assert (sent["title"], sent["titles"]) == (titles["zh-CN"], titles)
    assert Notification.model_validate(sent) == note


def test_a_stream_titles_a_notification_in_its_reader_s_language() -> None:
    live = LiveNotifier()
    titles = {"zh-CN": "跌倒报警：周国强", "en": "Fall detected: 周国强"}
    note = _note(user_ids=(5, 6, 7)).model_copy(update={"title": titles["zh-CN"], "titles": titles})
    old = _note(user_ids=(5, 6, 7))  # stored before titles were kept per language
    subs = {
        language: live.subscribe(
            UserPublic(id=uid, username=f"v{uid}", full_name="V", role=Role.VOLUNTEER),
            language=language,
        )
        for uid, language in ((5, "en"), (6, "zh-CN"), (7, None))
    }
    for sub in subs.values():
        sub.put("e-1", note)
        sub.put("e-2", old)
    for language, sub in subs.items():
        got = [json.loads(frame.split("data: ")[1]) for frame in sub.take()]
        assert got[0]["title"] == titles[language or "zh-CN"] and got[0]["titles"] == titles
        assert got[1]["title"] == "SOS"


async def test_webhook_refused_is_not_retried_and_fails_the_plugin_only(
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    base, _ = receiver
    hook = WebhookNotifier([f"{base}/gone"], attempts=5, backoff_s=0.01)
    try:
        with pytest.raises(WebhookError, match="410"):
            await hook.notify(_note(user_ids=(3,)))
        seen = Recorder()
        hub = NotificationHub([hook, seen])
        await hub.publish(_note(user_ids=(3,)))
        assert len(seen.seen) == 1 and hub.failures == 1
    finally:
        await hook.aclose()


async def test_webhook_unreachable_gives_up_after_its_attempts() -> None:
    hook = WebhookNotifier([f"http://127.0.0.1:{free_port()}/x"], attempts=2, backoff_s=0.01)
    try:
        with pytest.raises(WebhookError, match="after 2 attempts"):
            await hook.notify(_note(user_ids=(3,)))
    finally:
        await hook.aclose()
