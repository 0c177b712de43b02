"""Group robots against local stand-ins of WeCom, DingTalk and Feishu (tests/hub/channels/
vendors.py: real HTTP servers that check the signatures and request shapes the vendors
document and answer as the vendors do).

A 200 answer with an error code is a failure the outbox retries; each robot's outcome is
recorded for its group; a storm of alarms keeps to 20 requests a minute by merging, and
every alarm's text still reaches the group.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from device_adapters.model import Severity
from hub.notifications.base import Notification, NotificationHub, Recipients
from hub.notifications.channels import from_settings
from hub.notifications.channels.errors import ChannelError
from hub.notifications.channels.outcomes import Outcome, outcomes_of, record
from hub.notifications.channels.robots import DingTalkRobot, FeishuRobot, WeComRobot
from hub.notifications.channels.sms import SmsNotifier
from hub.notifications.outbox import OutboxRelay, enqueue
from hub.runtime import HubRuntime
from hub.schema.notifications import notification_deliveries, notification_outbox
from hub.settings import Settings
from hub.storage.db import Database
from hub.users.models import Role
from tests.hub.channels import vendors
from tests.support.hubdata import open_seeded_db
from tests.support.postgres import PostgresServer

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DING_TOKEN = "ding-token-1"
DING_SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
FEISHU_HOOK = "2b3c4d5e-feishu-hook"
FEISHU_SECRET = "feishu-signing-secret"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded_db(tmp_path)
    yield database
    await database.close()


def alarm(n: int = 1, severity: Severity = Severity.CRITICAL, **more: object) -> Notification:
    zh, en = f"一键求助：孙丽华 #{n}", f"SOS: Sun Lihua #{n}"
    return Notification(
        kind="alert.opened",
        title=zh,
        titles={"zh-CN": zh, "en": en},
        bodies={"zh-CN": "1号楼101室，请立即上门", "en": "Building 1, 101: go now"},
        recipients=Recipients(roles=(Role.COMMUNITY_STAFF,), community_id=1),
        severity=severity,
        **more,  # type: ignore[arg-type]
    )


@dataclass
class FakeClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


async def test_wecom_robot_posts_markdown_in_chinese_and_records_it_sent(db: Database) -> None:
    async with vendors.wecom(KEY) as cloud:
        robot = WeComRobot(db, key=KEY, url=f"{cloud.base_url}/cgi-bin/webhook/send")
        note = alarm()
        await robot.notify(note)
        await robot.aclose()
    assert cloud.refused == []
    content = cloud.requests[0]["markdown"]["content"]
    assert "【紧急】一键求助：孙丽华 #1" in content and "请立即上门" in content
    [row] = await outcomes_of(db, note.id)
    assert (row["channel"], row["recipient"], row["outcome"]) == ("wecom", "group:wecom", "sent")


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        database = await open_seeded_db(tmp_path)
        yield database
        await database.close()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.fresh_database(template=server.seeded_template()) as url:
        database = Database.open(url)
        yield database
        await database.close()


async def test_an_error_code_in_a_200_answer_is_failed_and_the_outbox_retries(
    store: Database,
) -> None:
    db = store
    async with vendors.wecom(KEY) as cloud:
        robot = WeComRobot(db, key=KEY, url=f"{cloud.base_url}/cgi-bin/webhook/send")
        clock = FakeClock(datetime.now(UTC))
        relay = OutboxRelay(db, NotificationHub([robot]), clock=clock)
        note = alarm()
        async with db.write() as conn:
            await enqueue(conn, [note])
        cloud.answers.append((200, {"errcode": 45009, "errmsg": "api freq out of limit"}))
        await relay.deliver_due()
        [failed] = await outcomes_of(db, note.id)
        async with db.read() as conn:
            row = (await conn.execute(sa.select(notification_outbox))).one()
        assert row.delivered_at is None and "45009" in (row.last_error or "")
        assert (failed["outcome"], failed["permanent"]) == ("failed", False)
        assert "45009" in failed["reason"]

        clock.at += timedelta(seconds=5)  # past the outbox's back-off
        await relay.deliver_due()
        await relay.aclose()
        await robot.aclose()
    async with db.read() as conn:
        row = (await conn.execute(sa.select(notification_outbox))).one()
    assert row.delivered_at is not None and row.delivered_to == ["wecom"]
    [sent] = await outcomes_of(db, note.id)
    assert (sent["outcome"], sent["attempts"], sent["reason"]) == ("sent", 2, None)
    assert len(cloud.requests) == 2


async def test_a_bad_webhook_key_is_a_permanent_failure(db: Database) -> None:
    async with vendors.wecom(KEY) as cloud:
        robot = WeComRobot(db, key="not-the-key", url=f"{cloud.base_url}/cgi-bin/webhook/send")
        note = alarm()
        with pytest.raises(ChannelError, match="93000") as raised:
            await robot.notify(note)
        await robot.aclose()
    assert raised.value.permanent and "not-the-key" not in str(raised.value)
    [row] = await outcomes_of(db, note.id)
    assert (row["outcome"], row["permanent"]) == ("failed", True)


async def test_dingtalk_signed_request_is_accepted_and_a_wrong_secret_is_refused(
    db: Database,
) -> None:
    async with vendors.dingtalk(DING_TOKEN, DING_SECRET) as cloud:
        url = f"{cloud.base_url}/robot/send"
        robot = DingTalkRobot(db, access_token=DING_TOKEN, secret=DING_SECRET, url=url)
        note = alarm()
        await robot.notify(note)
        cloud.answers.append((200, {"errcode": 130101, "errmsg": "send too fast"}))
        busy = alarm(3)
        with pytest.raises(ChannelError, match="130101") as too_fast:
            await robot.notify(busy)
        assert not too_fast.value.permanent
        await robot.notify(busy)  # the outbox's retry
        wrong = DingTalkRobot(db, access_token=DING_TOKEN, secret="SECwrong", url=url, name="ding2")
        other = alarm(2)
        with pytest.raises(ChannelError, match="310000") as raised:
            await wrong.notify(other)
        await robot.aclose()
        await wrong.aclose()
    assert cloud.refused == ["sign"] and len(cloud.requests) == 3
    assert [r["outcome"] for r in await outcomes_of(db, busy.id)] == ["sent"]
    markdown = cloud.requests[0]["markdown"]
    assert "一键求助：孙丽华 #1" in markdown["title"] and "请立即上门" in markdown["text"]
    assert raised.value.permanent
    assert [r["outcome"] for r in await outcomes_of(db, note.id)] == ["sent"]
    [refused] = await outcomes_of(db, other.id)
    assert (refused["outcome"], refused["permanent"]) == ("failed", True)


async def test_feishu_signed_body_is_accepted_and_frequency_limit_is_transient(
    db: Database,
) -> None:
    async with vendors.feishu(FEISHU_HOOK, FEISHU_SECRET) as cloud:
        url = f"{cloud.base_url}/open-apis/bot/v2/hook/"
        robot = FeishuRobot(db, hook=FEISHU_HOOK, secret=FEISHU_SECRET, url=url)
        note = alarm()
        await robot.notify(note)
        cloud.answers.append((200, {"code": 11232, "msg": "frequency limited psm"}))
        second = alarm(2)
        with pytest.raises(ChannelError, match="11232") as raised:
            await robot.notify(second)
        await robot.notify(second)  # the outbox's retry
        bad = FeishuRobot(db, hook=FEISHU_HOOK, secret="wrong", url=url, name="feishu-bad")
        with pytest.raises(ChannelError, match="19021") as refused:
            await bad.notify(alarm(3))
        await robot.aclose()
        await bad.aclose()
    assert not raised.value.permanent and refused.value.permanent
    assert cloud.refused == ["sign"]
    assert "一键求助：孙丽华 #1" in cloud.requests[0]["content"]["text"]
    [row] = await outcomes_of(db, second.id)
    assert (row["outcome"], row["attempts"]) == ("sent", 2)


async def test_feishu_gets_at_most_5_requests_a_second(db: Database) -> None:
    async with vendors.feishu(FEISHU_HOOK, FEISHU_SECRET) as cloud:
        url = f"{cloud.base_url}/open-apis/bot/v2/hook/"
        robot = FeishuRobot(db, hook=FEISHU_HOOK, secret=FEISHU_SECRET, url=url)
        notes = [alarm(i) for i in range(12)]
        tasks = []
        for note in notes:
            tasks.append(asyncio.create_task(robot.notify(note)))
            await asyncio.sleep(0.03)
        await asyncio.gather(*tasks)
        await robot.aclose()
    assert cloud.refused == []
    texts = "\n".join(r["content"]["text"] for r in cloud.requests)
    assert all(f"一键求助：孙丽华 #{i}\n" in texts for i in range(12))


async def test_25_alarms_in_a_minute_reach_the_group_in_at_most_20_requests(
    db: Database,
) -> None:
    async with vendors.wecom(KEY) as cloud:
        robot = WeComRobot(db, key=KEY, url=f"{cloud.base_url}/cgi-bin/webhook/send")
        notes = [alarm(i) for i in range(25)]
        tasks = []
        for note in notes:
            tasks.append(asyncio.create_task(robot.notify(note)))
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)
        await robot.aclose()
    assert cloud.refused == []
    assert len(cloud.requests) <= 20
    texts = "\n".join(r["markdown"]["content"] for r in cloud.requests)
    for i in range(25):
        assert f"一键求助：孙丽华 #{i}\n" in texts
    assert "条通知" in texts  # the merged message says how many it holds
    for note in notes:
        assert [r["outcome"] for r in await outcomes_of(db, note.id)] == ["sent"]


async def test_a_critical_alarm_does_not_wait_behind_merged_notices(db: Database) -> None:
    async with vendors.wecom(KEY) as cloud:
        robot = WeComRobot(db, key=KEY, url=f"{cloud.base_url}/cgi-bin/webhook/send")
        notices = [alarm(i, Severity.LOW) for i in range(12)]
        tasks = []
        for note in notices:
            tasks.append(asyncio.create_task(robot.notify(note)))
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        waiting = [t for t in tasks if not t.done()]
        assert waiting  # the notices past the burst wait for the rate limit
        sos = alarm(99, Severity.CRITICAL)
        await robot.notify(sos)
        # The SOS went at once, and took the waiting notices with it.
        last = cloud.requests[-1]["markdown"]["content"]
        assert last.index("#99") < last.index("【低】")
        await asyncio.gather(*tasks)
        await robot.aclose()
    assert len(cloud.requests) < 12


async def test_a_silent_alarm_stays_out_of_group_chats_unless_allowed(db: Database) -> None:
    async with vendors.wecom(KEY) as cloud:
        url = f"{cloud.base_url}/cgi-bin/webhook/send"
        public = WeComRobot(db, key=KEY, url=url)
        staff_only = WeComRobot(db, key=KEY, url=url, name="wecom-staff", include_silent=True)
        duress = alarm(7, silent=True)
        await public.notify(duress)
        await staff_only.notify(duress)
        await public.aclose()
        await staff_only.aclose()
    assert len(cloud.requests) == 1
    assert [r["channel"] for r in await outcomes_of(db, duress.id)] == ["wecom-staff"]


async def test_robots_come_from_settings_and_secrets_stay_out_of_repr(db: Database) -> None:
    settings = Settings(
        channels={  # type: ignore[arg-type]
            "wecom_key": KEY,
            "dingtalk_access_token": DING_TOKEN,
            "dingtalk_secret": DING_SECRET,
            "feishu_hook": FEISHU_HOOK,
        }
    )
    made = from_settings(db, settings.channels)
    assert [getattr(c, "name", None) for c in made] == ["wecom", "dingtalk", "feishu"]
    for secret in (KEY, DING_TOKEN, DING_SECRET, FEISHU_HOOK):
        assert secret not in repr(settings)
    for channel in made:
        await channel.aclose()  # type: ignore[attr-defined]


async def test_the_hub_registers_the_channels_its_settings_name(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        channels={  # type: ignore[arg-type]
            "wecom_key": KEY,
            "sms_provider": "tencent",
            "sms_access_key_id": "AKIDx",
            "sms_access_key_secret": "secret-key",
            "sms_sign_name": "朝阳花园社区",
            "sms_template_id": "1234567",
            "sms_sdk_app_id": "1400006666",
        },
    )
    runtime = HubRuntime(settings)
    try:
        assert runtime.notifier.plugin(WeComRobot) is not None
        sms = runtime.notifier.plugin(SmsNotifier)
        assert sms is not None and sms.provider.name == "tencent"
    finally:
        await runtime.notifier.aclose()
        await runtime.db.close()


def test_sms_settings_must_be_complete() -> None:
    with pytest.raises(ValueError, match="HUB_CHANNELS_SMS_SDK_APP_ID"):
        Settings(
            channels={  # type: ignore[arg-type]
                "sms_provider": "tencent",
                "sms_access_key_id": "AKIDx",
                "sms_access_key_secret": "secret-key",
                "sms_sign_name": "社区",
                "sms_template_id": "1",
            }
        )


async def test_outcomes_are_purged_with_the_outbox(db: Database) -> None:
    clock = FakeClock(datetime.now(UTC))
    relay = OutboxRelay(db, NotificationHub([]), clock=clock, keep_days=3)
    old, new = alarm(1), alarm(2)
    await record(db, old.id, "wecom", [Outcome("group:wecom", "sent")])
    clock.at += timedelta(days=4)
    await record(db, new.id, "wecom", [Outcome("group:wecom", "sent")])
    async with db.write() as conn:  # recorded four days before the clock says now
        await conn.execute(
            notification_deliveries.update()
            .where(notification_deliveries.c.notification_id == old.id)
            .values(at=clock.at - timedelta(days=4))
        )
        await conn.execute(
            notification_deliveries.update()
            .where(notification_deliveries.c.notification_id == new.id)
            .values(at=clock.at)
        )
    await relay.purge()
    assert await outcomes_of(db, old.id) == []
    assert len(await outcomes_of(db, new.id)) == 1


async def test_a_robot_of_an_english_speaking_group_writes_english(db: Database) -> None:
    async with vendors.wecom(KEY) as cloud:
        url = f"{cloud.base_url}/cgi-bin/webhook/send"
        robot = WeComRobot(db, key=KEY, url=url, language="en")
        await robot.notify(alarm())
        await robot.aclose()
    content = cloud.requests[0]["markdown"]["content"]
    assert content.startswith("[Critical] SOS: Sun Lihua #1\nBuilding 1, 101: go now\nToday ")
