"""Web Push through a local push service (tests/support/pushservice.py): a wristband SOS
stored by the hub reaches the volunteer's phone with the inbox closed, encrypted for that
phone (RFC 8291) and signed with the key the hub serves (RFC 8292); a push service that
says the subscription is gone (410) makes the hub forget it.

The page's side is played by the test as a browser would: it logs in, asks the hub for
its VAPID key, makes the subscription's keys and hands them over through the API.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from api.state import ApiContext
from community_hub_tools.demo.seed import DEMO_PASSWORD
from device_adapters.model import Severity
from hub.ingest.flows import store_batch
from hub.notifications.base import Notification, NotificationHub, Recipients
from hub.notifications.channels.outcomes import outcomes_of
from hub.notifications.outbox import OutboxRelay, enqueue
from hub.notifications.push.keys import load_or_create
from hub.notifications.push.notifier import WebPushNotifier
from hub.schema.notifications import notification_outbox, push_subscriptions
from hub.settings import PushSettings, Settings
from hub.storage.db import Database
from tests.support.hubdata import (
    open_seeded_db,
    user_id_of,
    volunteer_on_duty_for,
    wristband_event,
)
from tests.support.pushservice import BrowserKeys, PushService, push_service

SUN = "8800000101"  # 孙丽华's wristband, grid 1


@dataclass
class Hub:
    db: Database
    api: httpx.AsyncClient
    outbox: OutboxRelay
    volunteer: str

    async def log_in(self, username: str) -> dict[str, str]:
        answer = await self.api.post(
            "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    async def phone_subscribes(self, service: PushService, device: str) -> BrowserKeys:
        """What push.js does on the volunteer's phone."""
        headers = await self.log_in(self.volunteer)
        served = (await self.api.get("/api/v1/push/key")).json()["public_key"]
        assert served == service.vapid_public_key
        keys = service.devices[device] = BrowserKeys()
        answer = await self.api.post(
            "/api/v1/push/subscriptions",
            json=keys.subscription(service.endpoint(device)),
            headers=headers,
        )
        assert answer.status_code == 204, answer.text
        return keys


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    settings = Settings.model_validate(
        {"data_dir": tmp_path, "push": {"allow_loopback_http": True}}
    )
    db = await open_seeded_db(tmp_path)
    channel = WebPushNotifier(
        db, load_or_create(settings.push, tmp_path), subject=settings.push.vapid_subject
    )
    notifier = NotificationHub([channel])
    relay = OutboxRelay(db, notifier, name="push-test")
    app = create_app(ApiContext(db=db, settings=settings, notifier=notifier, outbox=relay))
    volunteer = await volunteer_on_duty_for(db, SUN, datetime.now(UTC))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub.test"
    ) as api:
        yield Hub(db, api, relay, volunteer)
    await relay.aclose()
    await notifier.aclose()
    await db.close()


async def _sos(db: Database) -> None:
    async with db.write() as conn:
        # As the ingest stores a batch (hub/ingest/flows.py store_parsed): its
        # notifications go into the outbox in the same transaction.
        stored = await store_batch(
            conn, [wristband_event(SUN, "wristband.sos")], [], datetime.now(UTC)
        )
        await enqueue(conn, stored.notifications)


async def test_an_sos_reaches_the_closed_inbox_as_a_push_in_chinese(hub: Hub) -> None:
    served = (await hub.api.get("/api/v1/push/key")).json()["public_key"]
    async with push_service(served) as service:
        await hub.phone_subscribes(service, "phone-1")
        # The page is closed: nothing but the push service can reach the phone.
        await _sos(hub.db)
        await hub.outbox.deliver_due()

    assert service.refused == []
    assigned = [p for p in service.received if p["kind"] == "ticket.assigned"]
    assert len(assigned) == 1, service.received
    push = assigned[0]
    async with hub.db.read() as conn:
        stored = (
            await conn.execute(
                sa.select(notification_outbox.c.payload).where(
                    notification_outbox.c.notification_id == push["id"]
                )
            )
        ).scalar_one()
    assert push["title"] == stored["titles"]["zh-CN"]  # the volunteer reads Chinese
    assert "孙丽华" in push["title"] and "求助" in push["title"]
    assert push["severity"] == "critical"
    assert isinstance(push["ticket_id"], int) and push["ticket_id"] == stored["ticket_id"]
    assert service.headers[0]["Urgency"] == "high"
    outcomes = await outcomes_of(hub.db, push["id"])
    assert [(o["channel"], o["outcome"]) for o in outcomes] == [("webpush", "sent")]


async def test_a_subscription_the_push_service_says_is_gone_is_forgotten(hub: Hub) -> None:
    served = (await hub.api.get("/api/v1/push/key")).json()["public_key"]
    async with push_service(served) as service:
        await hub.phone_subscribes(service, "phone-1")
        service.answers.extend([410] * 10)  # the volunteer took the permission back
        await _sos(hub.db)
        await hub.outbox.deliver_due()
        tried = len(service.received)
        assert tried >= 1
        async with hub.db.read() as conn:
            left = await conn.execute(sa.select(sa.func.count()).select_from(push_subscriptions))
            assert left.scalar_one() == 0
        await _sos(hub.db)  # repeats attach to the open alert; nothing more is pushed
        await hub.outbox.deliver_due()
        assert len(service.received) == tried


async def test_a_duress_alarm_is_never_pushed_to_a_resident(hub: Hub) -> None:
    served = (await hub.api.get("/api/v1/push/key")).json()["public_key"]
    async with push_service(served) as service:
        await hub.phone_subscribes(service, "volunteer-phone")
        resident_keys = service.devices["resident-phone"] = BrowserKeys()
        answer = await hub.api.post(
            "/api/v1/push/subscriptions",
            json=resident_keys.subscription(service.endpoint("resident-phone")),
            headers=await hub.log_in("resident.sun"),
        )
        assert answer.status_code == 204, answer.text
        resident = await user_id_of(hub.db, "resident.sun")
        volunteer = await user_id_of(hub.db, hub.volunteer)
        silent = Notification(
            kind="alert.opened",
            title="胁迫报警",
            recipients=Recipients(user_ids=(resident, volunteer)),
            severity=Severity.CRITICAL,
            silent=True,
        )
        # Straight to the channel too, past the hub's own guard: it keeps residents out itself.
        channel = hub.outbox.hub.plugin(WebPushNotifier)
        assert channel is not None
        await channel.notify(silent)
    assert [p["title"] for p in service.received] == ["胁迫报警"]
    assert service.reached == ["volunteer-phone"] and service.refused == []


async def test_a_volunteer_who_switched_push_off_still_gets_an_sos(hub: Hub) -> None:
    served = (await hub.api.get("/api/v1/push/key")).json()["public_key"]
    async with push_service(served) as service:
        await hub.phone_subscribes(service, "volunteer-phone")
        volunteer = await user_id_of(hub.db, hub.volunteer)
        headers = await hub.log_in(hub.volunteer)
        chosen = await hub.api.put(
            "/api/v1/auth/me/notifications", json={"channels_off": ["webpush"]}, headers=headers
        )
        assert chosen.status_code == 200, chosen.text
        channel = hub.outbox.hub.plugin(WebPushNotifier)
        assert channel is not None

        def note(title: str, severity: Severity) -> Notification:
            return Notification(
                kind="alert.opened",
                title=title,
                recipients=Recipients(user_ids=(volunteer,)),
                severity=severity,
            )

        await channel.notify(note("门禁被撬", Severity.HIGH))  # held back: their choice
        await channel.notify(note("一键求助：孙丽华", Severity.CRITICAL))  # never held back
    assert [p["title"] for p in service.received] == ["一键求助：孙丽华"]


def test_the_vapid_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    made = load_or_create(PushSettings(), tmp_path)
    assert (tmp_path / "vapid_private.pem").stat().st_mode & 0o077 == 0
    assert load_or_create(PushSettings(), tmp_path).public_key == made.public_key
    # A deployment's key from the settings, raw base64url as .env.example makes it.
    raw = base64.urlsafe_b64encode(bytes(range(1, 33))).rstrip(b"=").decode()
    given = load_or_create(PushSettings(vapid_private_key=raw), tmp_path / "other")  # type: ignore[arg-type]
    assert given.public_key != made.public_key
    assert not (tmp_path / "other").exists()
    again = load_or_create(PushSettings(vapid_private_key=given.private_pem.decode()), tmp_path)  # type: ignore[arg-type]
    assert again.public_key == given.public_key
