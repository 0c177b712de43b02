"""A gateway going offline reaches people: one alert for the property managers and
staff, cleared when it is back; the devices behind it are unknown (gateway offline),
not online and not each an alarm of its own. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from device_adapters.model import DeviceAvailability, OutboxReport
from hub.ingest.flows import Parsed, store_batch, store_parsed
from hub.notifications.outbox import OutboxRelay
from hub.storage.db import Database
from tests.api.people import Users
from tests.support.hubdata import RecordingNotifier, wristband_event

SUN, WU = "8800000101", "8800000301"
GATEWAY = "edge-test"  # the gateway tests/support/hubdata's events come through


async def _status(db: Database, online: bool, at: datetime) -> None:
    async with db.write() as conn:
        await store_parsed(conn, Parsed(gateways=[(GATEWAY, online, at)]), at)


async def _device(as_user: Users, who: str, device_id: str) -> dict[str, Any]:
    reader = await as_user(who)
    found = await reader.client.get(
        f"/api/v1/devices/{device_id}", headers=reader.headers | {"Accept-Language": "zh-CN"}
    )
    assert found.status_code == 200, found.text
    return dict(found.json())


async def _outages(as_user: Users, who: str) -> list[dict[str, Any]]:
    reader = await as_user(who)
    found = await reader.client.get(
        "/api/v1/alerts", params={"kind": "gateway.offline"}, headers=reader.headers
    )
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


async def test_a_gateway_offline_is_one_alert_and_its_devices_are_unknown(
    as_user: Users, api_db: Database, notes: RecordingNotifier, outbox: OutboxRelay
) -> None:
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    async with api_db.write() as conn:  # two wristbands heard through the gateway
        events = [wristband_event(n, "wristband.heartbeat", received_at=t0) for n in (SUN, WU)]
        await store_batch(conn, events, [], t0)
        report = DeviceAvailability(
            device_id=f"watch:{SUN}", gateway_id=GATEWAY, online=True, reason="connected", at=t0
        )
        await store_parsed(conn, Parsed(availability=[report], gateways=[(GATEWAY, True, t0)]), t0)
    assert (await _device(as_user, "manager", f"watch:{SUN}"))["online"] is True
    assert await _outages(as_user, "staff") == []

    gone = t0 + timedelta(minutes=1)
    await _status(api_db, False, gone)
    for who in ("manager", "staff"):
        [outage] = await _outages(as_user, who)
        assert outage["status"] == "open" and outage["device_id"] == f"gateway:{GATEWAY}"
    assert outage["titles"] == {
        "zh-CN": f"网关 {GATEWAY} 离线：其下 2 台设备无法联系",
        "en": f"Gateway {GATEWAY} is offline: 2 devices behind it cannot be reached",
    }
    for native in (SUN, WU):
        device = await _device(as_user, "manager", f"watch:{native}")
        assert device["online"] is None, device
        assert device["availability_reason"] == "gateway_offline"
        assert device["availability_reason_label"] == "网关离线，状态未知"
        assert device["online_label"] == "状态未知"
    await outbox.deliver_due()
    told = [n for n in notes.seen if n.device_kind == "gateway.offline"]
    assert [(n.kind, n.alert_id) for n in told] == [("alert.opened", outage["id"])]
    assert {r.value for r in told[0].recipients.roles} == {"property_manager", "community_staff"}
    # Not an alarm per device: no device.offline alert, no ticket for either wristband.
    staff = await as_user("staff")
    alerts = await staff.client.get("/api/v1/alerts", headers=staff.headers)
    assert [a["kind"] for a in alerts.json()["items"]] == ["gateway.offline"]

    # The retained "offline" read again (a hub restarted): nothing new.
    await _status(api_db, False, gone + timedelta(seconds=30))
    assert [a["id"] for a in await _outages(as_user, "staff")] == [outage["id"]]
    await outbox.deliver_due()
    assert len([n for n in notes.seen if n.device_kind == "gateway.offline"]) == 1

    # Back: the alert clears; the devices wait for their own word, which then counts.
    back = gone + timedelta(minutes=5)
    await _status(api_db, True, back)
    [outage] = await _outages(as_user, "staff")
    assert outage["status"] == "cleared"
    device = await _device(as_user, "manager", f"watch:{WU}")
    assert (device["online"], device["availability_reason"]) == (None, "gateway_back")
    assert device["availability_reason_label"] == "网关已恢复，等待设备上报"
    async with api_db.write() as conn:
        report = DeviceAvailability(
            device_id=f"watch:{WU}",
            gateway_id=GATEWAY,
            online=True,
            reason="connected",
            at=back + timedelta(seconds=1),
        )
        await store_parsed(conn, Parsed(availability=[report]), back)
    device = await _device(as_user, "manager", f"watch:{WU}")
    assert (device["online"], device["availability_reason"]) == (True, "connected")


def _report(at: datetime, *, filling: bool) -> OutboxReport:
    return OutboxReport(
        gateway_id=GATEWAY,
        at=at,
        items=120_000,
        alarms=3,
        bytes=200 * 2**20,
        max_bytes=256 * 2**20,
        disk_free_bytes=300 * 2**20,
        oldest_age_s=3600.0,
        filling=filling,
    )


async def test_a_filling_outbox_is_an_alert_until_it_drains(
    as_user: Users, api_db: Database, notes: RecordingNotifier, outbox: OutboxRelay
) -> None:
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    async with api_db.write() as conn:
        await store_batch(conn, [wristband_event(SUN, "wristband.heartbeat")], [], t0)
        await store_parsed(conn, Parsed(outbox_reports=[_report(t0, filling=False)]), t0)
    reader = await as_user("manager")

    async def filling() -> list[dict[str, Any]]:
        found = await reader.client.get(
            "/api/v1/alerts", params={"kind": "gateway.outbox_filling"}, headers=reader.headers
        )
        return list(found.json()["items"])

    assert await filling() == []
    for minutes in (1, 2):  # reported again while filling: one alert
        at = t0 + timedelta(minutes=minutes)
        async with api_db.write() as conn:
            await store_parsed(conn, Parsed(outbox_reports=[_report(at, filling=True)]), at)
    [alert] = await filling()
    assert alert["status"] == "open" and alert["event_count"] == 2
    assert alert["titles"] == {
        "zh-CN": f"网关 {GATEWAY} 缓存积压：120000 条数据待上传，"
        "已占存储上限的 78%，磁盘剩余 300 MB",
        "en": f"Gateway {GATEWAY} is filling up: 120000 items waiting to be sent, 78% of its "
        "store, 300 MB free on its disk",
    }
    await outbox.deliver_due()
    told = [n for n in notes.seen if n.device_kind == "gateway.outbox_filling"]
    assert len(told) == 1
    assert {r.value for r in told[0].recipients.roles} == {"property_manager", "community_staff"}
    at = t0 + timedelta(minutes=3)
    async with api_db.write() as conn:
        await store_parsed(conn, Parsed(outbox_reports=[_report(at, filling=False)]), at)
    assert [a["status"] for a in await filling()] == ["cleared"]
