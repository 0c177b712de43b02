"""What one HTTP request may cost, through a real uvicorn server and raw sockets.

The review's cases: a 40 MB JSON body to the token refresh held the event loop
for 31 s and was answered with a 422 echoing 35 MB; half-sent requests were
never timed out; one account held 1,000 live streams.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.server import ApiServer
from api.state import ApiContext
from community_hub_tools.broker.mosquitto import free_port
from community_hub_tools.demo.seed import DEMO_PASSWORD
from device_adapters.model import Severity
from hub.notifications import LiveNotifier, Notification, NotificationHub, Recipients
from hub.settings import ApiSettings, Settings
from hub.storage.db import Database
from tests.support.hubdata import open_seeded_db
from tests.support.sse import Stream

LIMIT = 64 * 1024


@dataclass
class Api:
    db: Database
    hub: NotificationHub
    port: int
    url: str
    client: httpx.AsyncClient


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    db = await open_seeded_db(tmp_path)
    hub = NotificationHub([LiveNotifier(heartbeat_s=0.3)])
    api = ApiSettings(max_body_bytes=LIMIT, body_timeout_s=1.0, streams_per_user=2)
    settings = Settings(data_dir=tmp_path, api=api)
    port = free_port()
    server = ApiServer(create_app(ApiContext(db, settings, notifier=hub)), "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            yield Api(db, hub, port, f"http://127.0.0.1:{port}", client)
    finally:
        await server.stop()
        await hub.aclose()
        await db.close()


SIZE = 40 * 1024 * 1024


@pytest.mark.parametrize(
    ("language", "said"),
    [
        # No language asked for: the community's default, Chinese.
        (b"", f"请求内容过大：{SIZE} 字节，最多 {LIMIT} 字节"),
        (
            b"Accept-Language: en-GB\r\n",
            f"request body too large: {SIZE} bytes; at most {LIMIT} bytes",
        ),
    ],
)
async def test_a_body_over_the_bound_is_refused_by_its_length_without_being_read(
    api: Api, language: bytes, said: str
) -> None:
    # 2 million keys, as in the review, is 40 MB: its Content-Length alone is refused,
    # before the server reads (or the client even sends) the body.
    size = SIZE
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    try:
        writer.write(
            b"POST /api/v1/auth/refresh HTTP/1.1\r\nHost: x\r\n%s"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{" % (language, size)
        )
        await writer.drain()
        async with asyncio.timeout(20):
            answer = await reader.read()
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["detail"] == said


async def test_a_chunked_body_is_cut_off_once_it_passes_the_bound(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"refresh_token": "'
        for _ in range(64):
            yield b"x" * 4096
        yield b'"}'

    response = await api.client.post(
        f"{api.url}/api/v1/auth/refresh",
        content=chunks(),
        headers={"Content-Type": "application/json", "Accept-Language": "zh-CN"},
    )
    assert response.status_code == 413
    assert response.json()["detail"] == f"请求内容过大：最多 {LIMIT} 字节"


async def test_a_validation_error_names_the_field_and_never_echoes_the_input(api: Api) -> None:
    huge = "A" * (LIMIT - 100)
    response = await api.client.post(
        f"{api.url}/api/v1/auth/refresh", json={"refresh_token": 12, "extra": huge}
    )
    assert response.status_code == 422
    assert len(response.content) < 2000
    assert huge[:50] not in response.text
    problems = response.json()["detail"]
    assert ["body", "refresh_token"] in [p["loc"] for p in problems]
    assert all(set(p) == {"type", "loc", "msg"} for p in problems)


async def test_a_half_sent_request_is_answered_408_and_closed(api: Api) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    try:
        writer.write(
            b"POST /api/v1/auth/refresh HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        await writer.drain()
        async with asyncio.timeout(20):
            answer = await reader.read()  # until the server closes the connection
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert "请求内容未在 1 秒内送达".encode() in answer


async def test_an_account_holds_a_bounded_number_of_live_streams(api: Api) -> None:
    token = (
        await api.client.post(
            f"{api.url}/api/v1/auth/token", data={"username": "vol.li", "password": DEMO_PASSWORD}
        )
    ).json()["access_token"]

    async def open_stream() -> tuple[httpx.Response, Stream]:
        request = api.client.build_request(
            "GET", f"{api.url}/api/v1/notifications/stream", params={"access_token": token}
        )
        response = await api.client.send(request, stream=True)
        assert response.status_code == 200
        stream = Stream(response)
        assert await stream.next_event() == {"comment": "connected"}
        return response, stream

    opened = [await open_stream() for _ in range(3)]
    try:
        # The third closed the first; the newest two stay open and still hear the account.
        with pytest.raises(AssertionError, match="stream ended"):
            await opened[0][1].next_event(timeout_s=10)
        me = await api.client.get(
            f"{api.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        await api.hub.publish(
            Notification(
                kind="ticket.assigned",
                title="for you",
                recipients=Recipients(user_ids=(int(me.json()["id"]),)),
                severity=Severity.LOW,
            )
        )
        for _, stream in opened[1:]:
            event = await stream.next_event(timeout_s=10)
            assert json.loads(event["data"])["title"] == "for you"
    finally:
        for response, _ in opened:
            await response.aclose()
