"""Seed one believable community for the demo: a street office, two grids, four
buildings, elderly residents living alone with wristbands, volunteers on duty.

Idempotent: a database that already has the demo community is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeviceFamily
from hub.devices.service import register_device
from hub.schema.duty import duty_rota
from hub.schema.grid import buildings, communities, grids, households, streets
from hub.schema.residents import access_credentials, family_contacts, residents
from hub.users.models import Role
from hub.users.service import create_user

COMMUNITY_NAME = "Sunrise Garden Community (朝阳花园社区)"
DEMO_PASSWORD = "demo-pass-2026"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    description: str


@dataclass(frozen=True)
class DemoDevice:
    """A shared or household device the demo's simulators speak for."""

    device_id: str
    family: DeviceFamily
    protocol: str
    name: str
    building: int  # 1-4
    household_of_wearer: int | None = None  # index into WEARERS: the device is at their home


@dataclass(frozen=True)
class DemoWearer:
    watch_id: str  # native id the simulated watch sends
    resident: str
    address: str


ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", Role.ADMIN, "sees everything, incl. dead letters"),
    DemoAccount("manager", Role.PROPERTY_MANAGER, "property manager of the community"),
    DemoAccount("staff", Role.COMMUNITY_STAFF, "grid worker supervising the community"),
    DemoAccount("vol.li", Role.VOLUNTEER, "volunteer, grid 1, on duty 08:00-20:00"),
    DemoAccount("vol.chen", Role.VOLUNTEER, "volunteer, grid 1, on duty 20:00-08:00"),
    DemoAccount("vol.wang", Role.VOLUNTEER, "volunteer, grid 2, on duty all day"),
    DemoAccount("vol.zhao", Role.VOLUNTEER, "backup volunteer for both grids"),
    DemoAccount("resident.sun", Role.RESIDENT, "daughter living with Sun Lihua, 1-101"),
)

# Gate credentials of elderly wearers, by the wearer's watch id.
GATE_CREDENTIALS: dict[str, tuple[tuple[str, str], ...]] = {
    "8800000202": (("card_no", "8800000201"), ("employee_no", "2001")),
    "8800000301": (("card_no", "8800000301"), ("employee_no", "3001")),
}

WEARERS: tuple[DemoWearer, ...] = (
    DemoWearer("8800000101", "Sun Lihua (孙丽华)", "Building 1, Unit 101"),
    DemoWearer("8800000202", "Zhou Guoqiang (周国强)", "Building 2, Unit 202"),
    DemoWearer("8800000301", "Wu Meifang (吴美芳)", "Building 3, Unit 301"),
    DemoWearer("8800000402", "Zheng Jianguo (郑建国)", "Building 4, Unit 402"),
)

# The IW-protocol watch of a fifth elderly resident, who lives alone in Building 2.
IW_WEARER = DemoWearer("353456789012345", "Qian Shulan (钱淑兰)", "Building 2, Unit 301")

DEVICES: tuple[DemoDevice, ...] = (
    DemoDevice("hik:gate-north", DeviceFamily.DOOR_ACCESS, "hikvision_acs", "North gate", 1),
    DemoDevice("hik:gate-south", DeviceFamily.DOOR_ACCESS, "hikvision_acs", "South gate", 3),
    DemoDevice(
        "z2m:b1_101_front_door", DeviceFamily.LOCK, "z2m_lock", "Front door lock, 1-101", 1, 0
    ),
    DemoDevice(
        "tuya:bf3a1c2d4e5f6a7b8c", DeviceFamily.LOCK, "tuya_lock", "Front door lock, 2-202", 2, 1
    ),
    DemoDevice("ocpp:CP-P1-01", DeviceFamily.CHARGER, "ocpp16", "EV charger P1-01", 2),
    DemoDevice("ocpp:CP-P1-02", DeviceFamily.CHARGER, "ocpp16", "EV charger P1-02", 4),
    DemoDevice("ebike:EB-B1-01", DeviceFamily.CHARGER, "ebike", "E-bike pile, Building 1", 1),
    DemoDevice("ebike:EB-B3-01", DeviceFamily.CHARGER, "ebike", "E-bike pile, Building 3", 3),
)

_FULL_NAMES = {
    "admin": "Hub Administrator",
    "manager": "Liu Wei (刘伟)",
    "staff": "Huang Min (黄敏)",
    "vol.li": "Li Na (李娜)",
    "vol.chen": "Chen Jie (陈杰)",
    "vol.wang": "Wang Fang (王芳)",
    "vol.zhao": "Zhao Lei (赵磊)",
    "resident.sun": "Sun Xiaoyan (孙晓燕)",
}


async def _insert(conn: AsyncConnection, table: sa.Table, **values: object) -> int:
    result = await conn.execute(table.insert().values(**values))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


async def seed_demo(conn: AsyncConnection) -> bool:
    """Create the demo community; returns False if it already existed."""
    exists = (
        await conn.execute(sa.select(communities.c.id).where(communities.c.name == COMMUNITY_NAME))
    ).first()
    if exists:
        return False
    street = await _insert(conn, streets, name="Huaihai Street Office (淮海街道)")
    community = await _insert(
        conn, communities, street_id=street, name=COMMUNITY_NAME, timezone="Asia/Shanghai"
    )
    grid_ids = [
        await _insert(conn, grids, community_id=community, name=f"Grid {n} (第{n}网格)")
        for n in (1, 2)
    ]
    # Buildings 1-2 in grid 1, 3-4 in grid 2.
    building_ids = [
        await _insert(conn, buildings, grid_id=grid_ids[(n - 1) // 2], name=f"Building {n}")
        for n in (1, 2, 3, 4)
    ]

    users: dict[str, int] = {}
    for account in ACCOUNTS:
        if account.role is Role.RESIDENT:
            continue
        users[account.username] = await create_user(
            conn,
            username=account.username,
            password=DEMO_PASSWORD,
            full_name=_FULL_NAMES[account.username],
            role=account.role,
            phone="138" + str(10_000_000 + len(users)),
            # Volunteers belong to the community too; what they may see is still
            # narrowed to their assignments by their role.
            community_id=community if account.role is not Role.ADMIN else None,
        )

    household_of: dict[int, int] = {}
    for index, wearer in enumerate((*WEARERS, IW_WEARER)):
        building = building_ids[index % len(building_ids)] if index < 4 else building_ids[1]
        unit = wearer.address.rsplit(" ", 1)[-1]
        household = await _insert(
            conn,
            households,
            building_id=building,
            unit=unit,
            address=f"{COMMUNITY_NAME.split(' (')[0]}, {wearer.address}",
        )
        resident = await _insert(
            conn,
            residents,
            household_id=household,
            full_name=wearer.resident,
            phone=f"139{20_000_000 + index}",
            birth_year=1938 + 3 * index,
            is_elderly=True,
            lives_alone=index != 0,  # Sun Lihua lives with her daughter
        )
        await _insert(
            conn,
            family_contacts,
            resident_id=resident,
            full_name=f"Child of {wearer.resident.split(' (')[0]}",
            relation="child",
            phone=f"137{30_000_000 + index}",
            priority=1,
        )
        household_of[index] = household
        # The gate cards and face ids the simulated gates report (demo/traffic.py),
        # so a pass at the gate counts as a sign of life for the welfare check.
        for kind, value in GATE_CREDENTIALS.get(wearer.watch_id, ()):
            await _insert(conn, access_credentials, resident_id=resident, kind=kind, value=value)
        protocol = "iw" if wearer is IW_WEARER else "watch"
        await register_device(
            conn,
            device_id=f"{protocol}:{wearer.watch_id}",
            family=DeviceFamily.WRISTBAND.value,
            protocol=protocol,
            name=f"Wristband of {wearer.resident.split(' (')[0]}",
            household_id=household,
            resident_id=resident,
        )
        if index == 0:
            users["resident.sun"] = await create_user(
                conn,
                username="resident.sun",
                password=DEMO_PASSWORD,
                full_name=_FULL_NAMES["resident.sun"],
                role=Role.RESIDENT,
                resident_id=await _insert(
                    conn,
                    residents,
                    household_id=household,
                    full_name=_FULL_NAMES["resident.sun"],
                    phone="13600000000",
                    birth_year=1975,
                ),
            )

    for device in DEVICES:
        at_home = device.household_of_wearer
        await register_device(
            conn,
            device_id=device.device_id,
            family=device.family.value,
            protocol=device.protocol,
            name=device.name,
            building_id=building_ids[device.building - 1],
            household_id=household_of[at_home] if at_home is not None else None,
            resident_id=None,
        )

    rota = [
        (grid_ids[0], users["vol.li"], "primary", 8 * 60, 20 * 60),
        (grid_ids[0], users["vol.chen"], "primary", 20 * 60, 8 * 60),  # past midnight
        (grid_ids[1], users["vol.wang"], "primary", 0, 24 * 60),
        (grid_ids[0], users["vol.zhao"], "backup", 0, 24 * 60),
        (grid_ids[1], users["vol.zhao"], "backup", 0, 24 * 60),
        (grid_ids[0], users["staff"], "grid_worker", 0, 24 * 60),
        (grid_ids[1], users["staff"], "grid_worker", 0, 24 * 60),
    ]
    for grid_id, user_id, position, start, end in rota:
        await _insert(
            conn,
            duty_rota,
            grid_id=grid_id,
            user_id=user_id,
            position=position,
            weekday=None,
            start_minute=start,
            end_minute=end,
        )
    return True
