"""Who a ticket's notifications reached: GET /api/v1/tickets/{id}/deliveries.

An SOS opens a ticket; the WeCom group robot (against the local stand-in of WeCom's cloud
in tests/hub/channels/vendors.py, which checks the request as WeCom's public documents
specify) first gets an error code in a 200 answer, then takes it; an SMS vendor refuses
a family contact's number for good. Staff read both, in their language; a volunteer may not.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import sqlalchemy as sa

from device_adapters.model import Severity
from hub.ingest.flows import store_batch
from hub.notifications.base import Notification, Recipients
from hub.notifications.channels.errors import ChannelError
from hub.notifications.channels.outcomes import REFUSED, Outcome, record
from hub.notifications.channels.robots import WeComRobot
from hub.schema.tickets import tickets
from hub.storage.db import Database
from hub.users.models import Role
from tests.api.conftest import SUN
from tests.api.people import Users
from tests.hub.channels import vendors
from tests.support.hubdata import volunteer_on_duty_for, wristband_event

KEY = "0a1b2c3d-deliveries"


async def _sos(db: Database) -> int:
    now = datetime.now(UTC)
    async with db.write() as conn:
        await store_batch(conn, [wristband_event(SUN, "wristband.sos")], [], now)
        return int((await conn.execute(sa.select(sa.func.max(tickets.c.id)))).scalar_one())


async def test_staff_see_each_channel_reached_or_not_and_a_volunteer_may_not(
    api_db: Database, as_user: Users
) -> None:
    ticket_id = await _sos(api_db)
    note = Notification(
        kind="ticket.escalated",
        title="一键求助：孙丽华",
        recipients=Recipients(roles=(Role.COMMUNITY_STAFF,), community_id=1),
        severity=Severity.CRITICAL,
        ticket_id=ticket_id,
    )
    async with vendors.wecom(KEY) as cloud:
        robot = WeComRobot(api_db, key=KEY, url=f"{cloud.base_url}/cgi-bin/webhook/send")
        cloud.answers.append((200, {"errcode": 45009, "errmsg": "api freq out of limit"}))
        with contextlib.suppress(ChannelError):  # the outbox would try again; so does this
            await robot.notify(note)
        await robot.notify(note)
        await robot.aclose()
    await record(
        api_db,
        note.id,
        "sms",
        [Outcome("contact:+8613912345678", REFUSED, "isv.MOBILE_NUMBER_ILLEGAL", True)],
        ticket_id,
    )

    staff = await as_user("staff")
    answer = await staff.client.get(
        f"/api/v1/tickets/{ticket_id}/deliveries",
        headers={**staff.headers, "Accept-Language": "zh-CN"},
    )
    assert answer.status_code == 200, answer.text
    by_channel = {d["channel"]: d for d in answer.json()}
    wecom, sms = by_channel["wecom"], by_channel["sms"]
    assert (wecom["channel_label"], wecom["recipient_label"]) == ("企业微信群机器人", "群聊")
    assert (wecom["outcome"], wecom["outcome_label"], wecom["attempts"]) == ("sent", "已发送", 2)
    assert (sms["channel_label"], sms["recipient_label"]) == ("短信", "+86 139 1234 5678")
    assert (sms["outcome_label"], sms["reason"]) == (
        "被拒收，不再重试",
        "isv.MOBILE_NUMBER_ILLEGAL",
    )
    assert wecom["at_label"].startswith("今天 ")  # Shanghai's day: the test runs near midnight UTC
    assert datetime.fromisoformat(wecom["at"]).utcoffset() is not None

    english = await staff.client.get(
        f"/api/v1/tickets/{ticket_id}/deliveries",
        headers={**staff.headers, "Accept-Language": "en"},
    )
    labels = {d["channel"]: d["outcome_label"] for d in english.json()}
    assert labels == {"wecom": "Sent", "sms": "Refused for good"}

    volunteer = await as_user(await volunteer_on_duty_for(api_db, SUN, datetime.now(UTC)))
    refused = await volunteer.client.get(
        f"/api/v1/tickets/{ticket_id}/deliveries",
        headers={**volunteer.headers, "Accept-Language": "zh-CN"},
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == "只有社区工作人员可以查看工单通知的送达情况"
    missing = await staff.client.get("/api/v1/tickets/999999/deliveries", headers=staff.headers)
    assert missing.status_code == 404
