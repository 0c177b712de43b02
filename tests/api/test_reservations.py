"""Residents reserve a charging port through the API: who may, which port, for how long,
what everyone else sees meanwhile, and how a reservation ends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from device_adapters.model import DeviceFamily
from hub.ingest.flows import store_batch
from hub.schema.chargers import charger_reservations
from hub.schema.devices import devices
from hub.schema.grid import buildings, communities, grids
from hub.schema.timers import timers
from hub.storage.db import Database
from tests.api.people import Actor, Users
from tests.support.hubdata import device_event

PILE = "ebike:EB-B1-01"  # 1号楼 of the demo community
ELSEWHERE = "ebike:OTHER-01"  # a pile of another community
# Port 1 and 4 free, 2 charging, 3 faulted.
PORTS = {1: "available", 2: "charging", 4: "available"}
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the demo community's zone


@pytest.fixture(autouse=True)
async def chargers(api_db: Database) -> None:
    now = datetime.now(UTC) - timedelta(minutes=5)
    batch = [
        device_event(
            PILE,
            DeviceFamily.CHARGER,
            "charger.port_status",
            {"port": port, "status": availability, "availability": availability},
            received_at=now,
        )
        for port, availability in PORTS.items()
    ] + [device_event(PILE, DeviceFamily.CHARGER, "charger.fault", {"port": 3}, received_at=now)]
    async with api_db.write() as conn:
        await store_batch(conn, batch, [], now)
        street_id = (await conn.execute(sa.select(communities.c.street_id))).scalars().first()
        community = await conn.execute(
            communities.insert().values(street_id=street_id, name="Another community")
        )
        grid = await conn.execute(
            grids.insert().values(community_id=community.inserted_primary_key[0], name="Grid X")
        )
        building = await conn.execute(
            buildings.insert().values(grid_id=grid.inserted_primary_key[0], name="Building X")
        )
        await conn.execute(
            devices.insert().values(
                id=ELSEWHERE,
                family=DeviceFamily.CHARGER.value,
                protocol="ebike",
                name="Pile of another community",
                registered=True,
                building_id=building.inserted_primary_key[0],
                state={"ports": {"1": {"availability": "available"}}},
            )
        )


@pytest.fixture
async def sun(as_user: Users) -> Actor:
    return await as_user("resident.sun")


@pytest.fixture
async def wu(as_user: Users) -> Actor:
    return await as_user.family_of("吴美芳", "wu.family")


async def _reserve(
    actor: Actor, port: int, minutes: Any = 30, device_id: str = PILE
) -> httpx.Response:
    return await actor.client.post(
        f"/api/v1/chargers/{device_id}/ports/{port}/reservations",
        headers=actor.headers,
        json={"minutes": minutes},
    )


async def _reserved(actor: Actor, port: int, minutes: int = 30) -> dict[str, Any]:
    response = await _reserve(actor, port, minutes)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _cancel(actor: Actor, reservation_id: int) -> httpx.Response:
    return await actor.client.post(
        f"/api/v1/reservations/{reservation_id}/cancel", headers=actor.headers
    )


async def _port(actor: Actor, port: int) -> dict[str, Any]:
    response = await actor.client.get("/api/v1/chargers/availability", headers=actor.headers)
    assert response.status_code == 200, response.text
    pile = next(c for c in response.json() if c["device_id"] == PILE)
    found: dict[str, Any] = next(p for p in pile["ports"] if p["port"] == port)
    found["summary"] = pile["summary"]
    return found


async def _mine(actor: Actor, **params: int) -> dict[str, Any]:
    response = await actor.client.get(
        "/api/v1/reservations/mine", headers=actor.headers, params=params
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_reserved_port_is_reserved_for_others_and_mine_for_its_owner(
    sun: Actor, wu: Actor, as_user: Users, api_db: Database
) -> None:
    made = await _reserved(sun, 1, 30)
    assert made["device_id"] == PILE and made["port"] == 1 and made["status"] == "active"
    assert made["charger_name"] == "1号楼电动车充电桩" and made["ended_at"] is None
    starts, ends = (
        datetime.fromisoformat(made["starts_at"]),
        datetime.fromisoformat(made["ends_at"]),
    )
    assert ends - starts == timedelta(minutes=30)

    seen_by_wu = await _port(wu, 1)
    assert seen_by_wu["availability"] == "reserved"
    assert seen_by_wu["reserved_by_me"] is None and seen_by_wu["reserved_until"] is None
    assert seen_by_wu["summary"]["reserved"] == 1 and seen_by_wu["summary"]["available"] == 1
    seen_by_sun = await _port(sun, 1)
    assert seen_by_sun["availability"] == "reserved" and seen_by_sun["reserved_by_me"] is True
    assert datetime.fromisoformat(seen_by_sun["reserved_until"]) == ends
    staff = await _port(await as_user("staff"), 1)
    assert staff["availability"] == "reserved" and staff["reserved_by_me"] is None
    # The other ports are as the device says.
    assert (await _port(wu, 4))["availability"] == "available"
    assert (await _port(sun, 2))["availability"] == "charging"
    # Its end is a stored timer.
    async with api_db.read() as conn:
        due = (
            await conn.execute(
                sa.select(timers.c.due_at).where(timers.c.key == f"reservation:{made['id']}:end")
            )
        ).scalar_one()
    assert due == ends


async def test_a_reserved_port_cannot_be_reserved_again(sun: Actor, wu: Actor) -> None:
    await _reserved(sun, 1)
    response = await _reserve(wu, 1)
    assert response.status_code == 409
    # In the community's language (Chinese): no one here chose another.
    assert response.json()["detail"] == "1号楼电动车充电桩 1 号端口已被预约"


async def test_one_active_reservation_per_resident(sun: Actor) -> None:
    made = await _reserved(sun, 1)
    response = await _reserve(sun, 4)
    assert response.status_code == 409
    # Until when, in Asia/Shanghai's time: "今天 18:30" (or 明天 near midnight).
    ends = datetime.fromisoformat(made["ends_at"]).astimezone(SHANGHAI)
    today = datetime.now(SHANGHAI).date()
    day = {0: "今天", 1: "明天"}[(ends.date() - today).days]
    assert response.json()["detail"] == (
        f"您已有一个进行中的预约（1号楼电动车充电桩 1 号端口，至 {day} {ends:%H:%M}），请先取消"
    )
    english = await sun.client.post(
        f"/api/v1/chargers/{PILE}/ports/4/reservations",
        headers=sun.headers | {"Accept-Language": "en"},
        json={"minutes": 30},
    )
    day = {0: "today", 1: "tomorrow"}[(ends.date() - today).days]  # a sentence: "16:00 today"
    assert english.json()["detail"] == (
        "you already have an active reservation (port 1 of 1号楼电动车充电桩 "
        f"until {ends:%H:%M} {day}); cancel it first"
    )
    assert (await _port(sun, 4))["availability"] == "available"


@pytest.mark.parametrize(("port", "shown"), [(2, "充电中"), (3, "故障")])
async def test_a_port_that_is_not_free_cannot_be_reserved(
    sun: Actor, port: int, shown: str
) -> None:
    response = await _reserve(sun, port)
    assert response.status_code == 409
    assert response.json()["detail"] == f"1号楼电动车充电桩 {port} 号端口不空闲：{shown}"
    assert (await _mine(sun))["total"] == 0


async def test_chargers_and_ports_beyond_your_community_are_not_found(sun: Actor) -> None:
    elsewhere = await _reserve(sun, 1, device_id=ELSEWHERE)
    assert elsewhere.status_code == 404
    assert elsewhere.json()["detail"] == f"您的社区没有充电桩 {ELSEWHERE!r}"
    unknown = await _reserve(sun, 1, device_id="ebike:NOPE")
    assert unknown.status_code == 404
    no_port = await _reserve(sun, 9)
    assert no_port.status_code == 404
    assert no_port.json()["detail"] == f"充电桩 {PILE!r} 没有 9 号端口"
    # Not a charger at all.
    watch = await _reserve(sun, 1, device_id="watch:8800000101")
    assert watch.status_code == 404


@pytest.mark.parametrize("username", ["vol.li", "staff", "manager", "admin"])
async def test_only_residents_reserve(as_user: Users, username: str) -> None:
    actor = await as_user(username)
    response = await _reserve(actor, 1)
    assert response.status_code == 403
    assert response.json()["detail"].endswith("无权执行此操作，需要以下角色之一：居民")
    mine = await actor.client.get("/api/v1/reservations/mine", headers=actor.headers)
    assert mine.status_code == 403
    assert (await _port(actor, 1))["availability"] == "available"


@pytest.mark.parametrize("minutes", [9, 121, 0, -5, "half an hour", None])
async def test_minutes_out_of_bounds_are_refused(sun: Actor, minutes: Any) -> None:
    response = await _reserve(sun, 1, minutes)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "minutes"]
    assert (await _port(sun, 1))["availability"] == "available"


async def test_the_bounds_themselves_are_allowed(sun: Actor, wu: Actor) -> None:
    short, long = await _reserved(sun, 1, 10), await _reserved(wu, 4, 120)
    for made, minutes in ((short, 10), (long, 120)):
        period = datetime.fromisoformat(made["ends_at"]) - datetime.fromisoformat(made["starts_at"])
        assert period == timedelta(minutes=minutes)


async def test_only_the_owner_cancels_and_cancelling_frees_the_port(
    sun: Actor, wu: Actor, as_user: Users
) -> None:
    made = await _reserved(sun, 1)
    for other in (wu, await as_user("staff")):
        response = await _cancel(other, made["id"])
        assert response.status_code in (403, 404)
    response = await _cancel(wu, made["id"])
    assert response.json()["detail"] == f"您没有编号为 {made['id']} 的预约"
    assert (await _port(wu, 1))["availability"] == "reserved"

    cancelled = await _cancel(sun, made["id"])
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["ended_at"] is not None
    port = await _port(wu, 1)
    assert port["availability"] == "available" and port["reserved_by_me"] is None
    again = await _cancel(sun, made["id"])
    assert again.status_code == 409
    assert again.json()["detail"] == f"预约 {made['id']} 已结束（已取消）"
    # Free for anyone now, the former owner included.
    await _reserved(wu, 1)
    assert (await _port(sun, 1))["reserved_by_me"] is None
    unknown = await _cancel(sun, 999_999)
    assert unknown.status_code == 404


async def test_after_its_end_a_reservation_is_expired_and_the_port_free(
    sun: Actor, wu: Actor, api_db: Database
) -> None:
    made = await _reserved(sun, 1, 10)
    ended = datetime.now(UTC) - timedelta(seconds=1)
    async with api_db.write() as conn:  # as if the ten minutes had passed
        await conn.execute(
            charger_reservations.update()
            .where(charger_reservations.c.id == made["id"])
            .values(starts_at=ended - timedelta(minutes=10), ends_at=ended)
        )
    assert (await _port(sun, 1))["availability"] == "available"
    assert (await _port(sun, 1))["reserved_by_me"] is None
    [expired] = (await _mine(sun))["items"]
    assert expired["status"] == "expired"
    assert datetime.fromisoformat(expired["ended_at"]) == ended
    late = await _cancel(sun, made["id"])
    assert late.status_code == 409
    assert late.json()["detail"] == f"预约 {made['id']} 已结束（已过期）"
    # The owner may reserve again, and so may anyone else the same port.
    await _reserved(wu, 1)
    await _reserved(sun, 4)


async def test_charging_on_the_port_ends_the_reservation_as_used(
    sun: Actor, api_db: Database
) -> None:
    made = await _reserved(sun, 1)
    now = datetime.now(UTC)
    async with api_db.write() as conn:
        await store_batch(
            conn,
            [
                device_event(
                    PILE,
                    DeviceFamily.CHARGER,
                    "charger.session_started",
                    {"port": 1},
                    received_at=now,
                )
            ],
            [],
            now,
        )
    port = await _port(sun, 1)
    assert port["availability"] == "charging" and port["reserved_by_me"] is None
    [used] = (await _mine(sun))["items"]
    assert used["id"] == made["id"] and used["status"] == "used"
    # No longer held: the resident may reserve another port.
    await _reserved(sun, 4)


async def test_my_reservations_list_the_active_one_first_then_history(
    sun: Actor, wu: Actor
) -> None:
    first = await _reserved(sun, 1)
    assert (await _cancel(sun, first["id"])).status_code == 200
    second = await _reserved(sun, 4)
    await _reserved(wu, 1)
    mine = await _mine(sun)
    assert mine["total"] == 2 and mine["limit"] == 50 and mine["offset"] == 0
    assert [(r["id"], r["status"]) for r in mine["items"]] == [
        (second["id"], "active"),
        (first["id"], "cancelled"),
    ]
    page = await _mine(sun, limit=1, offset=1)
    assert [r["id"] for r in page["items"]] == [first["id"]] and page["total"] == 2
    # Only one's own.
    assert [r["port"] for r in (await _mine(wu))["items"]] == [1]


async def test_two_residents_racing_for_one_port(sun: Actor, wu: Actor, api_db: Database) -> None:
    responses = await asyncio.gather(_reserve(sun, 1), _reserve(wu, 1))
    assert sorted(r.status_code for r in responses) == [201, 409]
    async with api_db.read() as conn:
        active = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(charger_reservations)
                .where(charger_reservations.c.status == "active")
            )
        ).scalar_one()
    assert active == 1


async def test_each_port_says_its_state_in_the_readers_language(sun: Actor, wu: Actor) -> None:
    """空闲, 充电中, 已预约, 故障 next to the codes; English for an English browser."""
    made = await _reserved(sun, 1)
    assert (made["status"], made["status_label"]) == ("active", "进行中")
    [mine] = (await _mine(sun))["items"]
    assert mine["status_label"] == "进行中"
    chargers = await wu.client.get("/api/v1/chargers/availability", headers=wu.headers)
    [pile] = [c for c in chargers.json() if c["device_id"] == PILE]
    assert [(p["port"], p["availability"], p["availability_label"]) for p in pile["ports"]] == [
        (1, "reserved", "已预约"),
        (2, "charging", "充电中"),
        (3, "out_of_order", "故障"),
        (4, "available", "空闲"),
    ]
    assert pile["summary_labels"]["unknown"] == "离线"
    english = await wu.client.get(
        "/api/v1/chargers/availability", headers=wu.headers | {"Accept-Language": "en"}
    )
    [pile] = [c for c in english.json() if c["device_id"] == PILE]
    assert [p["availability_label"] for p in pile["ports"]] == [
        "Reserved",
        "Charging",
        "Out of order",
        "Free",
    ]
