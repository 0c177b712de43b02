"""JSON columns keep what was written, on SQLite and PostgreSQL (orjson writes them).

Device events' values, device state and rules documents are JSON columns. The
serializer is orjson, not json.dumps: these hold what the two differ on
(non-ASCII text, keys that are not strings, floats, nesting).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.devices.service import register_device
from hub.schema.devices import devices
from hub.storage.db import Database, dump_json

STATE = {
    "name": "孙丽华的手环",
    "ports": {1: {"availability": "available", "power_w": 3.5}, 2: None},
    "flags": [True, False, None],
    "reading": 0.1 + 0.2,
    "big": 2**53 + 1,
}
# Keys that are not strings come back as strings, as json.dumps writes them.
READ_BACK = {**STATE, "ports": {"1": STATE["ports"][1], "2": None}}  # type: ignore[index]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("postgres_url"))


async def test_json_columns_read_back_what_was_written(url: str) -> None:
    db = Database.open(url)
    try:
        await db.migrate()
        async with db.write() as conn:
            await register_device(
                conn, device_id="watch:1", family="wristband", protocol="watch", name="Sun"
            )
            await conn.execute(devices.update().values(state=STATE))
        async with db.read() as conn:
            state = (await conn.execute(sa.select(devices.c.state))).scalar_one()
        assert state == READ_BACK
        assert state["reading"] == 0.30000000000000004 and state["big"] == 2**53 + 1
    finally:
        await db.close()


def test_the_text_is_plain_utf8_json() -> None:
    assert dump_json({"name": "孙", 1: [1.5, None]}) == '{"name":"孙","1":[1.5,null]}'
