"""The demo community's data is written as a Chinese community writes it."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from community_hub_tools.demo.seed import seed_demo
from hub.devices.service import device_context
from hub.residents.service import who_and_where
from hub.schema.devices import devices
from hub.schema.grid import buildings, communities, grids, households, streets
from hub.schema.residents import family_contacts, residents
from hub.schema.users import users
from tests.support.hubdata import open_seeded_db

# An English word in a name: two letters or more ("P1-01", a pile's code, is not one).
_WORD = re.compile(r"[A-Za-z]{2,}")


async def test_names_places_and_relations_are_in_chinese(tmp_path: Path) -> None:
    db = await open_seeded_db(tmp_path)
    try:
        async with db.read() as conn:
            written = {
                "street": streets.c.name,
                "community": communities.c.name,
                "grid": grids.c.name,
                "building": buildings.c.name,
                "household": households.c.unit,
                "address": households.c.address,
                "resident": residents.c.full_name,
                "contact": family_contacts.c.full_name,
                "relation": family_contacts.c.relation,
                "device": devices.c.name,
                "user": users.c.full_name,
            }
            found = {
                what: [str(v) for v in (await conn.execute(sa.select(column))).scalars()]
                for what, column in written.items()
            }
            english = {w: [v for v in vs if _WORD.search(v)] for w, vs in found.items()}
            assert english == {w: [] for w in written}
            assert found["grid"] == ["第一网格", "第二网格"]
            assert found["building"] == ["1号楼", "2号楼", "3号楼", "4号楼"]
            assert "孙丽华的手环" in found["device"] and "北门门禁" in found["device"]
            assert set(found["relation"]) == {"女儿", "儿子"}
            # Logins stay ASCII.
            logins = (await conn.execute(sa.select(users.c.username))).scalars().all()
            assert all(login.isascii() for login in logins)
    finally:
        await db.close()


async def test_an_address_reads_from_the_community_down_in_every_language(
    tmp_path: Path,
) -> None:
    db = await open_seeded_db(tmp_path)
    try:
        async with db.write() as conn:
            assert not await seed_demo(conn)  # a second seed adds nothing
            wristband = await device_context(conn, "watch:8800000101")
            assert wristband is not None
            found = await who_and_where(conn, wristband)
        assert found.who == "孙丽华"
        assert found.where["zh-CN"] == "朝阳花园社区 · 1号楼 · 1单元 · 101室"
        assert found.where["en"] == "朝阳花园社区1号楼1单元101室"
    finally:
        await db.close()
