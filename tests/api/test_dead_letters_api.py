"""GET /api/v1/dead-letters serves any bytes: the raw input as base64, never as text."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import httpx

from device_adapters.model import DeadLetter
from hub.deadletters import service
from hub.storage.db import Database
from tests.api.conftest import Login

GARBAGE = b"\xff\xfe\x00garbage"


def _letter(raw: bytes, gateway_id: str = "edge-test") -> DeadLetter:
    return DeadLetter(
        dead_letter_id=uuid.uuid4(),
        gateway_id=gateway_id,
        source="watch-tcp 127.0.0.1:5555",
        protocol="watch",
        device_id="watch:8800000101",
        received_at=datetime.now(UTC),
        reason="bad frame",
        raw=raw,
    )


async def test_bytes_that_are_not_utf8_are_listed_as_base64(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    async with api_db.write() as conn:
        await service.store(conn, [_letter(GARBAGE), _letter(b"[3G*1*0002*LK]")], datetime.now(UTC))

    response = await client.get("/api/v1/dead-letters", headers=await login("admin"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2
    raws = {base64.b64decode(item["raw_base64"]) for item in body["items"]}
    assert raws == {GARBAGE, b"[3G*1*0002*LK]"}
    # No field carries the bytes as if they were text that could not be decoded.
    assert all("raw" not in item for item in body["items"])
    by_raw = {base64.b64decode(item["raw_base64"]): item for item in body["items"]}
    assert by_raw[b"[3G*1*0002*LK]"]["raw_text"] == "[3G*1*0002*LK]"
