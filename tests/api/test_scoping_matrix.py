"""Every role against every read endpoint, across two communities and two grids.

The demo community (A) gets a second community (B) beside it, each with an elderly
resident's wristband (health readings and an SOS: elderly care), an e-bike pile with a
fault (the property's repair ticket) and a gate with a duress alarm (silent, its ticket
confidential), all through the real ingest path. Each role must find in every list
what it may see, must not find what it may not, and gets 404 (403 for a role the
endpoint is not for) on the detail of anything outside its reach. docs/auth.md says
who sees what.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from community_hub_tools.demo.seed import DEMO_PASSWORD
from device_adapters.model import DeviceEvent, DeviceFamily
from hub.commands import service as commands
from hub.commands.models import CommandCreate
from hub.devices.service import register_device
from hub.gateways.service import record_status
from hub.ingest.flows import store_batch
from hub.schema.alerts import alerts
from hub.schema.duty import duty_rota
from hub.schema.grid import buildings, communities, grids, households, streets
from hub.schema.residents import family_contacts, residents
from hub.schema.tickets import tickets
from hub.storage.db import Database
from hub.users.models import Role
from hub.users.service import create_user
from tests.api.people import Login
from tests.support.hubdata import (
    device_event,
    user_id_of,
    volunteer_on_duty_for,
    wristband_event,
)

SUN, WU, BAI = "8800000101", "8800000301", "8800009001"  # grid A1, grid A2, community B
DEVICES = {
    "A.watch": f"watch:{SUN}",
    "A.wu": f"watch:{WU}",
    "A.gate": "hik:gate-north",
    "A.pile": "ebike:EB-B1-01",
    "A.lock": "z2m:b1_101_front_door",
    "B.watch": f"watch:{BAI}",
    "B.gate": "hik:gate-b",
    "B.pile": "ebike:EB-BB-01",
}
ITEMS = ("A.sos", "A.fault", "A.duress", "B.sos", "B.fault", "B.duress")
GATEWAYS = ("edge-a", "edge-b", "edge-idle")
OPERATORS = {"admin", "staff", "manager", "staff.b", "manager.b"}  # device commands
SUPERVISORS = OPERATORS  # dashboard, reports, others' points, leaderboard
RESIDENTS = {"resident.sun", "resident.b"}


@dataclass(frozen=True)
class Expect:
    """What one role must see; everything else named here it must not."""

    devices: frozenset[str]
    items: frozenset[str]  # alerts and their tickets alike
    vitals: frozenset[str] = frozenset()  # wristbands whose readings it sees
    gateways: frozenset[str] | None = None  # None: the endpoint is not for this role
    community: str | None = None  # "A" or "B": its own (admins: None)


def _e(
    devices: str, items: str, vitals: str = "", gateways: str | None = None, **kw: Any
) -> Expect:
    return Expect(
        frozenset(devices.split()),
        frozenset(items.split()),
        frozenset(vitals.split()),
        frozenset(gateways.split()) if gateways is not None else None,
        **kw,
    )


A_DEVICES = "A.watch A.wu A.gate A.pile A.lock"
B_DEVICES = "B.watch B.gate B.pile"
# "vol.on_duty" is grid A1's primary volunteer now (vol.li by day, vol.chen by night);
# vol.wang is on duty in grid A2 and must see nothing of grid A1.
EXPECT: dict[str, Expect] = {
    "admin": _e(f"{A_DEVICES} {B_DEVICES}", " ".join(ITEMS), "A.watch B.watch", " ".join(GATEWAYS)),
    "staff": _e(A_DEVICES, "A.sos A.fault A.duress", "A.watch", "edge-a", community="A"),
    "manager": _e(A_DEVICES, "A.fault", "", "edge-a", community="A"),
    "vol.on_duty": _e("A.watch A.gate A.pile A.lock", "A.sos", community="A"),
    "vol.wang": _e("A.wu", "", community="A"),
    "resident.sun": _e("A.watch A.lock", "A.sos", "A.watch", community="A"),
    "staff.b": _e(B_DEVICES, "B.sos B.fault B.duress", "B.watch", "edge-b", community="B"),
    "manager.b": _e(B_DEVICES, "B.fault", "", "edge-b", community="B"),
    "vol.b": _e(B_DEVICES, "B.sos", community="B"),
    "resident.b": _e("B.watch", "B.sos", "B.watch", community="B"),
}


@dataclass
class World:
    communities: dict[str, int]
    buildings: dict[str, int]  # "A", "B": a building of each
    alert_ids: dict[str, int]
    ticket_ids: dict[str, int]
    command_ids: dict[str, str]  # "A", "B": a command to each community's pile
    user_ids: dict[str, int]
    on_duty: str  # grid A1's primary volunteer now
    problems: list[str] = field(default_factory=list)


async def _insert(conn: AsyncConnection, table: sa.Table, **values: object) -> int:
    result = await conn.execute(table.insert().values(**values))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


async def _community_b(conn: AsyncConnection) -> tuple[int, int]:
    """Community B: one grid, one building, an elderly resident and her daughter, a
    wristband, a gate and an e-bike pile, staff, a manager and a volunteer on duty."""
    street = await _insert(conn, streets, name="Riverside Street Office")
    community = await _insert(conn, communities, street_id=street, name="B", timezone="UTC")
    grid = await _insert(conn, grids, community_id=community, name="Grid B1")
    building = await _insert(conn, buildings, grid_id=grid, name="Building B1")
    household = await _insert(
        conn, households, building_id=building, unit="101", address="B, Building B1, Unit 101"
    )
    elder = await _insert(
        conn,
        residents,
        household_id=household,
        full_name="Bai Yulan",
        phone="13900009001",
        birth_year=1940,
        is_elderly=True,
        lives_alone=False,
    )
    await _insert(
        conn,
        family_contacts,
        resident_id=elder,
        full_name="Bai Jun",
        relation="child",
        phone="13700009001",
        priority=1,
    )
    daughter = await _insert(
        conn, residents, household_id=household, full_name="Bai Xue", birth_year=1970
    )
    await register_device(
        conn,
        device_id=DEVICES["B.watch"],
        family="wristband",
        protocol="watch",
        name="Wristband of Bai Yulan",
        household_id=household,
        resident_id=elder,
    )
    for key, family, protocol in (
        ("B.gate", "door_access", "hikvision_acs"),
        ("B.pile", "charger", "ebike"),
    ):
        await register_device(
            conn,
            device_id=DEVICES[key],
            family=family,
            protocol=protocol,
            name=key,
            building_id=building,
        )
    people = {
        "staff.b": (Role.COMMUNITY_STAFF, None),
        "manager.b": (Role.PROPERTY_MANAGER, None),
        "vol.b": (Role.VOLUNTEER, None),
        "resident.b": (Role.RESIDENT, daughter),
    }
    for username, (role, resident_id) in people.items():
        user_id = await create_user(
            conn,
            username=username,
            password=DEMO_PASSWORD,
            full_name=username,
            role=role,
            community_id=None if resident_id else community,
            resident_id=resident_id,
        )
        if role is Role.VOLUNTEER:
            await _insert(
                conn,
                duty_rota,
                grid_id=grid,
                user_id=user_id,
                position="primary",
                weekday=None,
                start_minute=0,
                end_minute=24 * 60,
            )
    return community, building


def _via(event: DeviceEvent, gateway: str) -> DeviceEvent:
    return event.model_copy(update={"gateway_id": gateway})


def _events(watch: str, gate: str, pile: str, gateway: str) -> list[DeviceEvent]:
    return [
        _via(e, gateway)
        for e in (
            wristband_event(watch, "wristband.heart_rate", values={"heart_rate_bpm": 88}),
            wristband_event(watch, "wristband.sos"),
            device_event(pile, DeviceFamily.CHARGER, "charger.fault", {"port": 1}),
            device_event(gate, DeviceFamily.DOOR_ACCESS, "door.duress", {"card_no": "1"}),
        )
    ]


async def _alert_and_ticket(conn: AsyncConnection, device_id: str, kind: str) -> tuple[int, int]:
    alert_id = (
        await conn.execute(
            sa.select(alerts.c.id).where(alerts.c.device_id == device_id, alerts.c.kind == kind)
        )
    ).scalar_one()
    ticket_id = (
        await conn.execute(sa.select(tickets.c.id).where(tickets.c.alert_id == alert_id))
    ).scalar_one()
    return int(alert_id), int(ticket_id)


@pytest.fixture
async def world(api_db: Database) -> World:
    now = datetime.now(UTC)
    async with api_db.write() as conn:
        community_a = (await conn.execute(sa.select(sa.func.min(communities.c.id)))).scalar_one()
        building_a = (await conn.execute(sa.select(sa.func.min(buildings.c.id)))).scalar_one()
        community_b, building_b = await _community_b(conn)
        await store_batch(
            conn,
            _events(SUN, DEVICES["A.gate"], DEVICES["A.pile"], "edge-a")
            + _events(BAI, DEVICES["B.gate"], DEVICES["B.pile"], "edge-b")
            # Grid A2's wristband is heard from (through edge-a) but raises nothing.
            + [_via(wristband_event(WU, "wristband.heartbeat"), "edge-a")],
            [],
            now,
        )
        for gateway in GATEWAYS:  # edge-idle: no device has spoken through it yet
            await record_status(conn, gateway, True, now)
        alert_ids, ticket_ids = {}, {}
        for c in ("A", "B"):
            for item, device, kind in (
                ("sos", "watch", "wristband.sos"),
                ("fault", "pile", "charger.fault"),
                ("duress", "gate", "door.duress"),
            ):
                found = await _alert_and_ticket(conn, DEVICES[f"{c}.{device}"], kind)
                alert_ids[f"{c}.{item}"], ticket_ids[f"{c}.{item}"] = found
    user_ids = {
        name: await user_id_of(api_db, name)
        for name in ("admin", "staff", "manager", "vol.wang", "staff.b", "manager.b", "vol.b")
    }
    async with api_db.write() as conn:
        command_ids = {
            c: str(
                (
                    await commands.create(
                        conn,
                        DEVICES[f"{c}.pile"],
                        CommandCreate(kind="ebike.start", params={"port": 1}),
                        user_ids["admin"],
                        now,
                    )
                ).id
            )
            for c in ("A", "B")
        }
    return World(
        communities={"A": int(community_a), "B": community_b},
        buildings={"A": int(building_a), "B": building_b},
        alert_ids=alert_ids,
        ticket_ids=ticket_ids,
        command_ids=command_ids,
        user_ids=user_ids,
        on_duty=await volunteer_on_duty_for(api_db, SUN, now),
    )


class Check:
    """Requests as one role, collecting every broken expectation before failing."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], role: str) -> None:
        self.client, self.headers, self.role = client, headers, role
        self.problems: list[str] = []

    async def get(self, url: str, **params: Any) -> httpx.Response:
        return await self.client.get(url, headers=self.headers, params=params)

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(f"{self.role}: {what}")

    async def status(self, url: str, want: int, **params: Any) -> httpx.Response:
        response = await self.get(url, **params)
        self.expect(
            response.status_code == want,
            f"GET {url} {params or ''} answered {response.status_code}, not {want}: "
            + response.text[:200],
        )
        return response

    def listed(
        self, what: str, found: Iterable[str], seen: Iterable[str], all_: Iterable[str]
    ) -> None:
        """``found``: the names a list gave; ``seen``: those it must give, of ``all_``."""
        got, must = set(found), set(seen)
        for name in all_:
            if name in must and name not in got:
                self.problems.append(f"{self.role}: {what} lacks {name}")
            if name not in must and name in got:
                self.problems.append(f"{self.role}: {what} shows {name}, which it must not")


async def _devices(c: Check, want: Expect) -> None:
    body = (await c.status("/api/v1/devices", 200, limit=200)).json()
    by_id = {d["id"]: d for d in body["items"]}
    c.expect(body["total"] == len(body["items"]), "the device count differs from the list")
    names = {name for name, device_id in DEVICES.items() if device_id in by_id}
    c.listed("GET /devices", names, want.devices, DEVICES)
    for name, device_id in DEVICES.items():
        url = f"/api/v1/devices/{device_id}"
        if name not in want.devices:
            await c.status(url, 404)
            await c.status(f"{url}/events", 404)
            continue
        detail = (await c.status(url, 200)).json()
        history = (await c.status(f"{url}/events", 200)).json()["items"]
        if not name.endswith(".watch"):
            continue
        readings = "heart_rate_bpm" in detail["state"]
        heard = any(e["kind"] == "wristband.heart_rate" for e in history)
        sos = any(e["kind"] == "wristband.sos" for e in history)
        vitals = name in want.vitals
        c.expect(readings == vitals, f"{name}'s state shows heart rate: {readings}")
        c.expect(heard == vitals, f"{name}'s history shows heart-rate readings: {heard}")
        c.expect(sos == vitals, f"{name}'s history shows the SOS event: {sos}")
        c.expect(by_id[device_id]["state"] == detail["state"], f"{name}: list and detail differ")
        c.expect(
            all(
                set(e["values"]) <= {"battery_pct", "battery_low", "last_event_at"} for e in history
            )
            or vitals,
            f"{name}'s history shows values beyond the device's health",
        )


async def _alerts_and_tickets(c: Check, want: Expect, world: World) -> None:
    for what, url, ids in (
        ("alerts", "/api/v1/alerts", world.alert_ids),
        ("tickets", "/api/v1/tickets", world.ticket_ids),
    ):
        body = (await c.status(url, 200, limit=200)).json()
        found_ids = {item["id"] for item in body["items"]}
        c.expect(body["total"] == len(body["items"]), f"the {what} count differs from the list")
        c.listed(f"GET {url}", {n for n, i in ids.items() if i in found_ids}, want.items, ITEMS)
        for name in ITEMS:
            await c.status(f"{url}/{ids[name]}", 200 if name in want.items else 404)
    for name in ITEMS:
        ticket = world.ticket_ids[name]
        card = f"/api/v1/tickets/{ticket}/resident"
        if name.endswith(".sos"):  # the only tickets that name a resident
            response = await c.status(card, 200 if name in want.items else 404)
            if response.status_code == 200:
                c.expect(set(response.json()) >= {"full_name", "address", "contacts"}, "card")
                c.expect("heart_rate_bpm" not in response.text, "the card shows readings")
            # Where the wearer is: staff and the responder; her household sees the ticket
            # but is told the place on it is not for them (docs/positions.md).
            seen = 403 if c.role in RESIDENTS else 200
            await c.status(
                f"/api/v1/tickets/{ticket}/position", seen if name in want.items else 404
            )
        if name not in want.items:
            # Acting on a ticket out of reach: not found, whatever the action.
            response = await c.client.post(
                f"/api/v1/tickets/{ticket}/transitions",
                headers=c.headers,
                json={"action": "accept"},
            )
            c.expect(response.status_code == 404, f"accept {name}: {response.status_code}")


async def _operators(c: Check, want: Expect, world: World) -> None:
    gateways = await c.get("/api/v1/gateways")
    if want.gateways is None:
        c.expect(gateways.status_code == 403, f"GET /gateways answered {gateways.status_code}")
    else:
        found = {g["id"] for g in gateways.json()} if gateways.status_code == 200 else set()
        c.listed("GET /gateways", found, want.gateways, GATEWAYS)
    operator = c.role in OPERATORS
    for name, device_id in DEVICES.items():
        if name.endswith(".pile"):
            url = f"/api/v1/devices/{device_id}/commands"
            await c.status(url, (200 if name in want.devices else 404) if operator else 403)
    for community, command_id in world.command_ids.items():
        mine = want.community in (None, community)
        await c.status(
            f"/api/v1/commands/{command_id}", (200 if mine else 404) if operator else 403
        )


async def _supervisors(c: Check, want: Expect, world: World) -> None:
    supervisor = c.role in SUPERVISORS
    other = {"A": "B", "B": "A"}.get(want.community or "")
    dashboard = await c.status("/api/v1/dashboard", 200 if supervisor else 403)
    if supervisor:
        kinds = {a["kind"] for a in dashboard.json()["active_alerts"]}
        alert_kinds = {
            "sos": "wristband.sos",
            "fault": "charger.fault",
            "duress": "door.duress",
        }
        shown = {
            f"{c_}.{item}"
            for c_ in ("A", "B")
            for item, kind in alert_kinds.items()
            if kind in kinds and (want.community in (None, c_))
        }
        mine = {n for n in want.items if want.community in (None, n[0])}
        c.listed("the dashboard's active alerts", shown, mine, mine)
        c.expect(kinds <= {alert_kinds[n.split(".")[1]] for n in want.items}, f"dashboard {kinds}")
        for community, building in world.buildings.items():
            url = f"/api/v1/dashboard/buildings/{building}/devices"
            await c.status(url, 200 if want.community in (None, community) else 404)
    if other is not None:
        foreign = world.communities[other]
        await c.status("/api/v1/dashboard", 403, community_id=foreign)
        await c.status("/api/v1/reports/daily", 403, community_id=foreign, format="json")
    own = world.communities[want.community or "A"]  # admins must name one
    await c.status(
        "/api/v1/reports/daily", 200 if supervisor else 403, community_id=own, format="json"
    )
    await c.status("/api/v1/points/me", 200)
    await c.status("/api/v1/points/leaderboard", 200 if supervisor else 403)
    foreign_user = world.user_ids["staff.b" if want.community == "A" else "staff"]
    await c.status(
        f"/api/v1/points/users/{foreign_user}",
        (200 if c.role == "admin" else 404) if supervisor else 403,
    )
    await c.status("/api/v1/dead-letters", 200 if c.role == "admin" else 403)


async def _chargers(c: Check, want: Expect) -> None:
    found = {
        charger["device_id"]
        for charger in (await c.status("/api/v1/chargers/availability", 200)).json()
    }
    piles = {name for name, device_id in DEVICES.items() if device_id in found}
    c.listed(
        "GET /chargers/availability",
        piles,
        {p for p in ("A.pile", "B.pile") if want.community in (None, p[0])},
        ("A.pile", "B.pile"),
    )
    await c.status("/api/v1/reservations/mine", 200 if c.role in RESIDENTS else 403)


@pytest.mark.parametrize("role", list(EXPECT))
async def test_each_role_sees_its_share_and_nothing_more(
    client: httpx.AsyncClient, login: Login, world: World, role: str
) -> None:
    username = world.on_duty if role == "vol.on_duty" else role
    want = EXPECT[role]
    c = Check(client, await login(username), role)
    await _devices(c, want)
    await _alerts_and_tickets(c, want, world)
    await _operators(c, want, world)
    await _supervisors(c, want, world)
    await _chargers(c, want)
    assert not c.problems, "\n".join(c.problems)


async def test_the_world_is_what_the_matrix_assumes(api_db: Database, world: World) -> None:
    """The fixture raised what the expectations rest on: a routed SOS, a repair ticket
    for staff to dispatch, a confidential duress ticket, and a volunteer per grid."""
    async with api_db.read() as conn:
        rows = {
            r.id: r
            for r in await conn.execute(
                sa.select(
                    tickets.c.id, tickets.c.category, tickets.c.confidential, tickets.c.assignee_id
                )
            )
        }
    for c in ("A", "B"):
        assert rows[world.ticket_ids[f"{c}.sos"]].category == "elderly_sos"
        assert rows[world.ticket_ids[f"{c}.fault"]].category == "facility_repair"
        duress = rows[world.ticket_ids[f"{c}.duress"]]
        assert duress.category == "security_duress" and duress.confidential
    assert rows[world.ticket_ids["B.sos"]].assignee_id == await user_id_of(api_db, "vol.b")
    assert rows[world.ticket_ids["A.sos"]].assignee_id == await user_id_of(api_db, world.on_duty)
    assert world.on_duty in ("vol.li", "vol.chen")
