"""Acting on the wearer's watch from an SOS ticket: POST /api/v1/tickets/{id}/watch/...

Who may is who may see where the wearer is (the responder while the ticket is theirs and
open, and staff). The command goes through the real edge to a simulated watch on a real
broker; its result, applied by the hub's own result handling, is read back on
GET /api/v1/commands/{id}.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from chub_mqtt.topics import command_topic
from community_hub_tools.sim.watch import SimulatedWatch
from device_adapters import watch
from device_adapters.model import CommandResult
from edge.availability import AvailabilityTracker
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer
from hub.commands import service
from hub.ingest.flows import Parsed, store_parsed
from hub.schema.devices import devices
from hub.storage.db import Database
from tests.api.conftest import SUN
from tests.api.people import Actor, Users
from tests.edge.test_commands import RecordingUplink, start_runner, wait_until
from tests.support.brokers import MosquittoProcess, MqttRecorder

VOLUNTEER_ON_THE_WAY = "志愿者已出发"


def now() -> datetime:
    return datetime.now(UTC)


async def _post(
    actor: Actor, ticket_id: int, what: str, body: dict[str, Any] | None = None, lang: str = "en"
) -> tuple[int, Any]:
    answer = await actor.client.post(
        f"/api/v1/tickets/{ticket_id}/watch/{what}",
        headers={**actor.headers, "Accept-Language": lang},
        json=body,
    )
    return answer.status_code, answer.json()


async def _log(actor: Actor, ticket_id: int) -> list[dict[str, Any]]:
    answer = await actor.get(ticket_id)
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["log"] if e["action"] == "watch_command"]


async def test_the_responder_locates_calls_back_and_messages_the_wearer(
    as_user: Users, sos: tuple[int, str]
) -> None:
    ticket_id, on_duty = sos
    vol = await as_user(on_duty)
    code, locate = await _post(vol, ticket_id, "locate")
    assert code == 202, locate
    assert (locate["kind"], locate["device_id"]) == ("wristband.locate", f"watch:{SUN}")
    assert locate["status"] == "pending"  # no broker in this app: it waits for the sweep
    code, call = await _post(vol, ticket_id, "call", {"phone": "13800138000"})
    assert code == 202 and call["params"] == {"phone": "13800138000"}
    code, monitor = await _post(vol, ticket_id, "call", {"phone": "13800138000", "monitor": True})
    assert code == 202 and monitor["kind"] == "wristband.monitor"
    code, message = await _post(vol, ticket_id, "message", {"text": VOLUNTEER_ON_THE_WAY})
    assert code == 202 and message["params"] == {"text": VOLUNTEER_ON_THE_WAY}
    # The issuer reads each command's status on the command API, though no device operator.
    status = await vol.client.get(f"/api/v1/commands/{message['id']}", headers=vol.headers)
    assert status.status_code == 200 and status.json()["status"] == "pending"
    # The ticket's log says who asked for what, in the reader's language; numbers masked.
    lines = await _log(vol, ticket_id)
    assert len(lines) == 4
    said = [line["note_label"] for line in lines]
    assert said[0] == f"已请求手表 watch:{SUN} 立即定位（指令 {locate['id']}）"
    assert said[1] == f"已请求手表 watch:{SUN} 回拨 138****8000（指令 {call['id']}）"
    assert "静默拨打 138****8000 进行监听" in said[2]
    assert said[3] == f"已向手表 watch:{SUN} 发送消息“志愿者已出发”（指令 {message['id']}）"
    vol_id = await vol.id()
    assert all(line["actor_id"] == vol_id for line in lines)
    assert "13800138000" not in str(lines)


async def test_bad_numbers_and_long_messages_are_refused_naming_the_field(
    as_user: Users, sos: tuple[int, str]
) -> None:
    ticket_id, on_duty = sos
    vol = await as_user(on_duty)
    code, body = await _post(vol, ticket_id, "message", {"text": "志" * 61}, lang="zh-CN")
    assert code == 422
    assert body["detail"] == [
        {
            "type": "value_error",
            "loc": ["body", "text"],
            "msg": "发送到手表的消息最多60个字，当前有61个字",
        }
    ]
    code, body = await _post(vol, ticket_id, "message", {"text": "志" * 60})
    assert code == 202
    for phone in ("138-0013-8000", "12", "110,CR", ""):
        code, body = await _post(vol, ticket_id, "call", {"phone": phone})
        assert code == 422, (phone, body)
        assert body["detail"][0]["loc"] == ["body", "phone"]
        assert body["detail"][0]["msg"].startswith("not a number a watch can call")
    code, body = await _post(vol, ticket_id, "message", {"text": "   "})
    assert code == 422 and body["detail"][0]["loc"] == ["body", "text"]


async def test_others_are_refused_and_the_responder_once_the_work_is_done(
    as_user: Users, sos: tuple[int, str]
) -> None:
    ticket_id, on_duty = sos
    other = "vol.wang" if on_duty != "vol.wang" else "vol.zhao"
    for actor in (await as_user(other), await as_user("manager")):
        code, _ = await _post(actor, ticket_id, "locate")
        assert code == 404  # who may not see the ticket is not told it exists
    code, body = await _post(await as_user("resident.sun"), ticket_id, "locate")
    assert code == 403
    assert body["detail"] == "only the ticket's responder and community staff may act on the watch"
    staff = await as_user("staff")
    assert (await _post(staff, ticket_id, "locate"))[0] == 202
    vol = await as_user(on_duty)
    await vol.ok(ticket_id, "accept")
    await vol.ok(ticket_id, "start", note="on site")
    await vol.ok(ticket_id, "resolve", note="her neighbour stays with her", disposition="genuine")
    code, body = await _post(vol, ticket_id, "message", {"text": "我走了"}, lang="zh-CN")
    assert code == 403
    assert body["detail"] == f"工单 {ticket_id} 办理期间，处置人才能操作佩戴者的手表"
    assert (await _post(staff, ticket_id, "locate"))[0] == 202
    # Nobody's command status is readable by a volunteer who did not issue it.
    mine = (await _post(staff, ticket_id, "locate"))[1]["id"]
    refused = await vol.client.get(f"/api/v1/commands/{mine}", headers=vol.headers)
    assert refused.status_code == 403


async def test_the_device_route_does_not_take_wristband_commands(
    as_user: Users, sos: tuple[int, str]
) -> None:
    staff = await as_user("staff")
    answer = await staff.client.post(
        f"/api/v1/devices/watch:{SUN}/commands",
        headers=staff.headers,
        json={"kind": "wristband.monitor", "params": {"phone": "13800138000"}},
    )
    assert answer.status_code == 403, answer.text


async def test_an_iw_watch_has_no_monitor(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, on_duty = sos
    async with api_db.write() as conn:
        await conn.execute(
            devices.update().where(devices.c.id == f"watch:{SUN}").values(protocol="iw")
        )
    vol = await as_user(on_duty)
    code, body = await _post(vol, ticket_id, "call", {"phone": "13800138000", "monitor": True})
    assert code == 409, body
    assert (await _post(vol, ticket_id, "call", {"phone": "13800138000"}))[0] == 202


async def test_a_message_reaches_the_watch_and_its_answer_shows_on_the_command_api(
    as_user: Users, sos: tuple[int, str], api_db: Database, mosquitto: MosquittoProcess
) -> None:
    ticket_id, on_duty = sos
    vol = await as_user(on_duty)
    code, issued = await _post(vol, ticket_id, "message", {"text": VOLUNTEER_ON_THE_WAY})
    assert code == 202
    async with api_db.read() as conn:
        command = await service.get(conn, UUID(issued["id"]))
    assert command is not None
    gateway = command.gateway_id
    settings = EdgeSettings(
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        gateway_id=gateway,
        edge_host="127.0.0.1",
        edge_command_timeout_s=3,
    )
    tracker = AvailabilityTracker(settings)
    server = StreamServer(watch.ADAPTER, settings, RecordingUplink(), host="127.0.0.1", port=0)
    hub = MqttRecorder("test-hub-watch-api")
    hub.connect(mosquitto.host, mosquitto.port)
    hub.subscribe(f"chub/v1/edge/{gateway}/command-results/+")
    await tracker.start()
    runner = await start_runner(settings, {"watch": server}, tracker)
    await server.start()
    sim = SimulatedWatch(SUN, "3G")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)

    async def answer() -> None:
        while data := await reader.read(4096):
            for frame in sim.receive(data):
                writer.write(frame)
            await writer.drain()

    task = asyncio.create_task(answer())
    try:
        writer.write(sim.heartbeat())
        await writer.drain()
        await wait_until(lambda: f"watch:{SUN}" in server.connected_devices, 5, "watch online")
        # What the hub's dispatcher publishes for the stored command.
        payload = service.to_wire(command).model_dump_json().encode()
        await asyncio.to_thread(
            hub.publish_many, command_topic(gateway, command.device_id), [payload]
        )
        await wait_until(lambda: len(hub.messages) >= 2, 10, "delivered, then a final result")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        for service_ in (server, runner, tracker):
            await service_.stop()
        hub.close()
    results = [CommandResult.model_validate_json(m.payload) for m in hub.messages]
    # As the hub's ingest takes them from the broker; the second copy is the broker's
    # redelivery, which changes nothing.
    for _ in range(2):
        async with api_db.write() as conn:
            await store_parsed(conn, Parsed(results=[(gateway, r) for r in results]), now())
    assert [f.raw for f in sim.received if f.content_type == "MESSAGE"] == [
        f"[3G*{SUN}*0020*MESSAGE,5FD7613F80055DF251FA53D1]".encode()
    ]
    assert sim.messages_shown == [VOLUNTEER_ON_THE_WAY]
    shown = await vol.client.get(f"/api/v1/commands/{issued['id']}", headers=vol.headers)
    assert shown.status_code == 200
    assert (shown.json()["status"], shown.json()["detail"]) == (
        "accepted",
        "watch answered MESSAGE",
    )
    assert shown.json()["result_at"] is not None
    # The ticket's log says it too, once, in the reader's language.
    outcome = [
        e for e in (await vol.get(ticket_id)).json()["log"] if e["action"] == "watch_command_result"
    ]
    assert [e["note_label"] for e in outcome] == [f"手表 watch:{SUN} 已确认指令 {issued['id']}"]
