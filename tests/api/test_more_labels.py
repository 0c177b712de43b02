"""Labels next to codes that people read: a device's availability reason and a
ticket's priority, in the reader's language and capitalised like the others."""

from __future__ import annotations

from typing import Any

from hub.schema.devices import devices
from hub.schema.tickets import tickets
from hub.storage.db import Database
from tests.api.people import Actor, Users

EN = {"Accept-Language": "en"}
SUN = "watch:8800000101"


async def _get(actor: Actor, path: str, headers: dict[str, str] | None = None) -> Any:
    response = await actor.client.get(path, headers=actor.headers | (headers or {}))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_devices_availability_reason_has_words(as_user: Users, api_db: Database) -> None:
    staff = await as_user("staff")
    async with api_db.write() as conn:
        await conn.execute(
            devices.update()
            .where(devices.c.id == SUN)
            .values(online=False, availability_reason="heartbeat_timeout")
        )
    device = await _get(staff, f"/api/v1/devices/{SUN}")
    assert device["availability_reason"] == "heartbeat_timeout"  # the code stays
    assert device["availability_reason_label"] == "心跳超时"
    device = await _get(staff, f"/api/v1/devices/{SUN}", EN)
    assert device["availability_reason_label"] == "no heartbeat in time"
    listed = await _get(staff, "/api/v1/devices?limit=200", EN)
    [found] = [d for d in listed["items"] if d["id"] == SUN]
    assert found["availability_reason_label"] == "no heartbeat in time"


async def test_a_tickets_priority_is_a_label_like_its_state(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, _on_duty = sos
    staff = await as_user("staff")
    ticket = await _get(staff, f"/api/v1/tickets/{ticket_id}", EN)
    assert (ticket["priority"], ticket["priority_label"]) == ("urgent", "Urgent")
    assert ticket["status_label"][0].isupper()
    assert (await _get(staff, f"/api/v1/tickets/{ticket_id}"))["priority_label"] == "紧急"
    async with api_db.write() as conn:
        await conn.execute(
            tickets.update().where(tickets.c.id == ticket_id).values(priority="normal")
        )
    listed = await _get(staff, "/api/v1/tickets", EN)
    assert {t["id"]: t["priority_label"] for t in listed["items"]}[ticket_id] == "Normal"
