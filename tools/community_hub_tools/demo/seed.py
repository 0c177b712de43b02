"""Seed one believable community for the demo: a street office, two grids, four
buildings, elderly residents living alone with wristbands, volunteers on duty.

Idempotent: a database that already has the demo community (or its accounts) is left
alone.
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
from hub.schema.users import users as user_table
from hub.users.models import Role
from hub.users.service import create_user

# The demo's data is written as a Chinese community writes it: names, places and
# relations in Chinese, read so in every language ("people's names are shown as their
# community writes them"); ids and logins stay ASCII.
STREET_NAME = "淮海街道"
COMMUNITY_NAME = "朝阳花园社区"
GRID_NAMES = ("第一网格", "第二网格")
DEMO_PASSWORD = "demo-pass-2026"


def building_name(n: int) -> str:
    return f"{n}号楼"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    full_name: str
    description: str  # for the operator's console: Chinese first, then English


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
    building: int  # 1-4
    unit: str  # 单元
    room: str  # 室
    contact: str  # the family member called first
    relation: str

    @property
    def household(self) -> str:
        """The household within its building, as the property office writes it: 1单元101室."""
        return f"{self.unit}{self.room}"

    @property
    def address(self) -> str:
        """The full address as written on a letter: 朝阳花园社区1号楼1单元101室."""
        return f"{COMMUNITY_NAME}{building_name(self.building)}{self.household}"


ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", Role.ADMIN, "系统管理员", "管理员 · sees everything, incl. dead letters"),
    DemoAccount("manager", Role.PROPERTY_MANAGER, "刘伟", "物业经理 · property manager"),
    DemoAccount(
        "staff", Role.COMMUNITY_STAFF, "黄敏", "社区工作人员，两个网格的网格员 · community staff"
    ),
    DemoAccount("vol.li", Role.VOLUNTEER, "李娜", "志愿者，第一网格 08:00-20:00 · volunteer"),
    DemoAccount("vol.chen", Role.VOLUNTEER, "陈杰", "志愿者，第一网格 20:00-08:00 · volunteer"),
    DemoAccount("vol.wang", Role.VOLUNTEER, "王芳", "志愿者，第二网格 全天 · volunteer"),
    DemoAccount("vol.zhao", Role.VOLUNTEER, "赵磊", "志愿者，两个网格的备班 · backup volunteer"),
    DemoAccount(
        "resident.sun", Role.RESIDENT, "孙晓燕", "居民，孙丽华的女儿，同住 · resident, daughter"
    ),
)

# Gate credentials of elderly wearers, by the wearer's watch id.
GATE_CREDENTIALS: dict[str, tuple[tuple[str, str], ...]] = {
    "8800000202": (("card_no", "8800000201"), ("employee_no", "2001")),
    "8800000301": (("card_no", "8800000301"), ("employee_no", "3001")),
}

WEARERS: tuple[DemoWearer, ...] = (
    DemoWearer("8800000101", "孙丽华", 1, "1单元", "101室", "孙晓燕", "女儿"),
    DemoWearer("8800000202", "周国强", 2, "1单元", "202室", "周建华", "儿子"),
    DemoWearer("8800000301", "吴美芳", 3, "2单元", "301室", "李红", "女儿"),
    DemoWearer("8800000402", "郑建国", 4, "2单元", "402室", "郑伟", "儿子"),
)

# The IW-protocol watch of a fifth elderly resident, who lives alone in 2号楼.
IW_WEARER = DemoWearer("353456789012345", "钱淑兰", 2, "2单元", "301室", "张丽", "女儿")

DEVICES: tuple[DemoDevice, ...] = (
    DemoDevice("hik:gate-north", DeviceFamily.DOOR_ACCESS, "hikvision_acs", "北门门禁", 1),
    DemoDevice("hik:gate-south", DeviceFamily.DOOR_ACCESS, "hikvision_acs", "南门门禁", 3),
    DemoDevice("z2m:b1_101_front_door", DeviceFamily.LOCK, "z2m_lock", "1号楼1单元101室门锁", 1, 0),
    DemoDevice(
        "tuya:bf3a1c2d4e5f6a7b8c", DeviceFamily.LOCK, "tuya_lock", "2号楼1单元202室门锁", 2, 1
    ),
    DemoDevice("ocpp:CP-P1-01", DeviceFamily.CHARGER, "ocpp16", "充电桩 P1-01", 2),
    DemoDevice("ocpp:CP-P1-02", DeviceFamily.CHARGER, "ocpp16", "充电桩 P1-02", 4),
    DemoDevice("ebike:EB-B1-01", DeviceFamily.CHARGER, "ebike", "1号楼电动车充电桩", 1),
    DemoDevice("ebike:EB-B3-01", DeviceFamily.CHARGER, "ebike", "3号楼电动车充电桩", 3),
)

_FULL_NAMES = {a.username: a.full_name for a in ACCOUNTS}


async def _insert(conn: AsyncConnection, table: sa.Table, **values: object) -> int:
    result = await conn.execute(table.insert().values(**values))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


async def seed_demo(conn: AsyncConnection) -> bool:
    """Create the demo community; returns False if it already existed."""
    exists = (
        await conn.execute(sa.select(communities.c.id).where(communities.c.name == COMMUNITY_NAME))
    ).first()
    # A demo database from before the names were Chinese has the accounts already.
    accounts = (
        await conn.execute(
            sa.select(user_table.c.id).where(
                user_table.c.username.in_([a.username for a in ACCOUNTS])
            )
        )
    ).first()
    if exists or accounts:
        return False
    street = await _insert(conn, streets, name=STREET_NAME)
    community = await _insert(
        conn, communities, street_id=street, name=COMMUNITY_NAME, timezone="Asia/Shanghai"
    )
    grid_ids = [
        await _insert(conn, grids, community_id=community, name=name) for name in GRID_NAMES
    ]
    # 1号楼 and 2号楼 in 第一网格, 3号楼 and 4号楼 in 第二网格.
    building_ids = [
        await _insert(conn, buildings, grid_id=grid_ids[(n - 1) // 2], name=building_name(n))
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
        # The household's place in its building is one field (1单元101室): read as
        # 小区 · 楼栋 · 单元室 (hub.i18n.formats.address); its address as written.
        household = await _insert(
            conn,
            households,
            building_id=building_ids[wearer.building - 1],
            unit=wearer.household,
            address=wearer.address,
        )
        resident = await _insert(
            conn,
            residents,
            household_id=household,
            full_name=wearer.resident,
            phone=f"139{20_000_000 + index}",
            birth_year=1938 + 3 * index,
            is_elderly=True,
            lives_alone=index != 0,  # 孙丽华 lives with her daughter 孙晓燕
        )
        await _insert(
            conn,
            family_contacts,
            resident_id=resident,
            full_name=wearer.contact,
            relation=wearer.relation,
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
            name=f"{wearer.resident}的手环",
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
