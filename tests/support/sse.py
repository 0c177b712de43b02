"""Reading a live notification stream (Server-Sent Events) the way a browser would."""

from __future__ import annotations

import asyncio
import json

import httpx


class Stream:
    """Reads SSE events from an open response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next_event(self, timeout_s: float = 5.0) -> dict[str, str]:
        async def read() -> dict[str, str]:
            fields: dict[str, str] = {}
            async for line in self._lines:
                if not line:
                    if fields:
                        return fields
                    continue
                if line.startswith(":"):
                    if line[1:].strip() == "connected":
                        return {"comment": "connected"}
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value
            raise AssertionError("stream ended")

        return await asyncio.wait_for(read(), timeout_s)

    async def next_notification(self, kind: str, timeout_s: float = 10.0) -> dict[str, object]:
        """The next notification of ``kind``, skipping others; fails after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no {kind} notification within {timeout_s}s")
            event = await self.next_event(left)
            if event.get("event") == kind:  # the SSE event name is the notification's kind
                body: dict[str, object] = json.loads(event["data"])
                return body


async def open_stream(client: httpx.AsyncClient, api_url: str, token: str) -> Stream:
    request = client.build_request(
        "GET", f"{api_url}/api/v1/notifications/stream", params={"access_token": token}
    )
    response = await client.send(request, stream=True)
    assert response.status_code == 200, await response.aread()
    stream = Stream(response)
    assert await stream.next_event() == {"comment": "connected"}
    return stream
