"""POST/DELETE /api/v1/push/subscriptions: a device's Web Push subscription, checked before
the hub ever posts to it (https of a push service only, a real P-256 key and a 16-byte
secret), kept per device for the person logged in on it.
"""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from hub.schema.notifications import push_subscriptions
from hub.storage.db import Database
from tests.api.people import Login
from tests.support.pushservice import BrowserKeys

FCM = "https://fcm.googleapis.com/fcm/send/dXk3Zm9vYmFy:APA91bHq"


async def _rows(db: Database) -> list[Any]:
    async with db.read() as conn:
        return list(await conn.execute(sa.select(push_subscriptions)))


async def test_a_device_subscribes_and_unsubscribes(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    li, wang = await login("vol.li"), await login("vol.wang")
    sub = BrowserKeys().subscription(FCM)
    assert (await client.post("/api/v1/push/subscriptions", json=sub)).status_code == 401
    answer = await client.post("/api/v1/push/subscriptions", json=sub, headers=li)
    assert answer.status_code == 204, answer.text
    [row] = await _rows(api_db)
    assert row.endpoint == FCM and row.auth == sub["keys"]["auth"]

    # Someone else cannot take it away; a new login on the device takes it over.
    gone = await client.request(
        "DELETE", "/api/v1/push/subscriptions", json={"endpoint": FCM}, headers=wang
    )
    assert gone.status_code == 204 and len(await _rows(api_db)) == 1
    assert (
        await client.post("/api/v1/push/subscriptions", json=sub, headers=wang)
    ).status_code == 204
    [row2] = await _rows(api_db)
    me = await client.get("/api/v1/auth/me", headers=wang)
    assert row2.user_id == me.json()["id"]
    gone = await client.request(
        "DELETE", "/api/v1/push/subscriptions", json={"endpoint": FCM}, headers=wang
    )
    assert gone.status_code == 204 and await _rows(api_db) == []


async def test_endpoints_and_keys_are_checked(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    li = await login("vol.li")
    keys = BrowserKeys()
    for endpoint in (
        "http://push.example.com/x",  # not https
        "https://127.0.0.1/x",  # the hub's own machine
        "https://10.0.0.8/x",  # its network
        "https://localhost:8443/x",
        "https://user:pw@push.example.com/x",
        "http://127.0.0.1:9/x",  # tests only (HUB_PUSH_ALLOW_LOOPBACK_HTTP)
        "not a url at all",
    ):
        answer = await client.post(
            "/api/v1/push/subscriptions", json=keys.subscription(endpoint), headers=li
        )
        assert answer.status_code == 422, (endpoint, answer.text)
    bad_keys = keys.subscription(FCM)
    bad_keys["keys"]["auth"] = "c2hvcnQ"  # 5 bytes
    assert (
        await client.post("/api/v1/push/subscriptions", json=bad_keys, headers=li)
    ).status_code == 422
    not_a_point = keys.subscription(FCM)
    not_a_point["keys"]["p256dh"] = "A" + not_a_point["keys"]["p256dh"][1:]
    assert (
        await client.post("/api/v1/push/subscriptions", json=not_a_point, headers=li)
    ).status_code == 422
    assert await _rows(api_db) == []
