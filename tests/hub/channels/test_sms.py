"""SMS through Aliyun and Tencent Cloud, against local stand-ins of their APIs
(tests/hub/channels/vendors.py: real HTTP servers that check the RPC HMAC-SHA1 and the
TC3-HMAC-SHA256 signatures and the SendSms parameters as the vendors document them, and
answer as the vendors do).

Each person is texted in their language, in E.164; each number's outcome is recorded; a
200 answer with an error code is a failure the outbox retries for that number only; a
number the vendor refuses for good is recorded and not retried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from device_adapters.model import Severity
from hub.notifications.base import ExternalContact, Notification, Recipients
from hub.notifications.channels.errors import ChannelError
from hub.notifications.channels.outcomes import outcomes_of
from hub.notifications.channels.sms import AliyunSms, SmsNotifier, TencentSms, e164
from hub.notifications.preferences import save
from hub.schema.users import users
from hub.storage.db import Database
from tests.hub.channels import vendors
from tests.support.hubdata import open_seeded_db, user_id_of

ALI_ID, ALI_SECRET = "LTAI5tTestKeyId", "aliyun-access-key-secret-for-tests"
TC_ID, TC_KEY, TC_APP = "AKIDtestsecretid", "tencent-secret-key-for-tests", "1400006666"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded_db(tmp_path)
    async with database.write() as conn:  # 王志强 reads English; 李 keeps the community's
        await conn.execute(users.update().where(users.c.username == "vol.wang").values(locale="en"))
        await conn.execute(
            users.update().where(users.c.username == "vol.li").values(phone="139 2000 0001")
        )
        await conn.execute(
            users.update().where(users.c.username == "vol.wang").values(phone="+86 139-2000-0002")
        )
        await conn.execute(
            users.update().where(users.c.username == "resident.sun").values(phone="13600000000")
        )
    yield database
    await database.close()


def sos(user_ids: tuple[int, ...], **more: object) -> Notification:
    return Notification(
        kind="alert.opened",
        title="一键求助：孙丽华",
        titles={"zh-CN": "一键求助：孙丽华", "en": "SOS: Sun Lihua"},
        bodies={"zh-CN": "1号楼101室，请立即上门", "en": "Building 1, 101: go now"},
        recipients=Recipients(user_ids=user_ids),
        severity=Severity.CRITICAL,
        **more,  # type: ignore[arg-type]
    )


def aliyun_channel(db: Database, base_url: str, secret: str = ALI_SECRET) -> SmsNotifier:
    provider = AliyunSms(
        access_key_id=ALI_ID,
        access_key_secret=secret,
        sign_name="朝阳花园社区",
        template_code="SMS_460000001",
        url=f"{base_url}/",
        client=httpx.AsyncClient(timeout=5),
    )
    return SmsNotifier(db, provider)


def test_numbers_go_out_in_e164() -> None:
    assert e164("139 2000 0001") == "+8613920000001"
    assert e164("+86 139-2000-0002") == "+8613920000002"
    assert e164("008613920000003") == "+8613920000003"
    assert e164("010 8888 6666") is None  # a landline takes no SMS


async def test_aliyun_texts_each_person_in_their_language(db: Database) -> None:
    li, wang = await user_id_of(db, "vol.li"), await user_id_of(db, "vol.wang")
    family = ExternalContact(name="孙明", phone="13700000001", relation="son")
    note = sos((li, wang), contacts=(family,))
    async with vendors.aliyun(ALI_ID, ALI_SECRET) as cloud:
        channel = aliyun_channel(db, cloud.base_url)
        await channel.notify(note)
        await channel.aclose()
    assert cloud.refused == []
    sent = {r["PhoneNumbers"]: r for r in cloud.requests}
    assert set(sent) == {"+8613920000001", "+8613920000002", "+8613700000001"}
    assert sent["+8613920000001"]["TemplateParam"] == {
        "title": "一键求助：孙丽华",
        "body": "1号楼101室，请立即上门",
    }
    assert sent["+8613920000002"]["TemplateParam"]["title"] == "SOS: Sun Lihua"
    assert sent["+8613700000001"]["SignName"] == "朝阳花园社区"
    rows = await outcomes_of(db, note.id)
    assert {(r["recipient"], r["outcome"]) for r in rows} == {
        (f"user:{li}", "sent"),
        (f"user:{wang}", "sent"),
        ("contact:+8613700000001", "sent"),
    }


async def test_aliyun_error_code_in_200_is_retried_for_that_number_only(db: Database) -> None:
    li, wang = await user_id_of(db, "vol.li"), await user_id_of(db, "vol.wang")
    note = sos((li, wang))
    async with vendors.aliyun(ALI_ID, ALI_SECRET) as cloud:
        channel = aliyun_channel(db, cloud.base_url)
        cloud.answers.append(
            (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"})
        )
        with pytest.raises(ChannelError, match="BUSINESS_LIMIT_CONTROL") as raised:
            await channel.notify(note)
        assert not raised.value.permanent
        first = {r["recipient"]: r for r in await outcomes_of(db, note.id)}
        assert sorted(r["outcome"] for r in first.values()) == ["failed", "sent"]
        await channel.notify(note)  # the outbox's retry
        await channel.aclose()
    rows = await outcomes_of(db, note.id)
    assert [r["outcome"] for r in rows] == ["sent", "sent"]
    assert len(cloud.requests) == 3  # two the first time, only the failed number again
    assert sorted(r["attempts"] for r in rows) == [1, 2]


async def test_a_number_aliyun_refuses_is_recorded_and_not_retried(db: Database) -> None:
    li = await user_id_of(db, "vol.li")
    note = sos((li,))
    async with vendors.aliyun(ALI_ID, ALI_SECRET) as cloud:
        channel = aliyun_channel(db, cloud.base_url)
        cloud.answers.append((200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}))
        await channel.notify(note)  # nothing to retry: no raise
        await channel.notify(note)
        await channel.aclose()
    [row] = await outcomes_of(db, note.id)
    assert (row["outcome"], row["permanent"]) == ("refused", True)
    assert len(cloud.requests) == 1


async def test_wrong_aliyun_credentials_fail_permanently_without_saying_the_secret(
    db: Database,
) -> None:
    note = sos((await user_id_of(db, "vol.li"),))
    async with vendors.aliyun(ALI_ID, ALI_SECRET) as cloud:
        channel = aliyun_channel(db, cloud.base_url, secret="not-the-secret")
        with pytest.raises(ChannelError, match="SignatureDoesNotMatch") as raised:
            await channel.notify(note)
        await channel.aclose()
    assert cloud.refused == ["signature"]
    assert raised.value.permanent and "not-the-secret" not in str(raised.value)
    [row] = await outcomes_of(db, note.id)
    assert (row["outcome"], row["permanent"]) == ("failed", True)


def tencent_channel(db: Database, base_url: str, key: str = TC_KEY) -> SmsNotifier:
    provider = TencentSms(
        secret_id=TC_ID,
        secret_key=key,
        sdk_app_id=TC_APP,
        sign_name="朝阳花园社区",
        template_id="1234567",
        url=f"{base_url}/",
        client=httpx.AsyncClient(timeout=5),
    )
    return SmsNotifier(db, provider, name="sms-tencent")


async def test_tencent_tc3_signed_request_is_accepted(db: Database) -> None:
    li, wang = await user_id_of(db, "vol.li"), await user_id_of(db, "vol.wang")
    note = sos((li, wang))
    async with vendors.tencent(TC_ID, TC_KEY, TC_APP) as cloud:
        channel = tencent_channel(db, cloud.base_url)
        await channel.notify(note)
        await channel.aclose()
    assert cloud.refused == []
    by_phone = {r["PhoneNumberSet"][0]: r for r in cloud.requests}
    assert by_phone["+8613920000001"]["TemplateParamSet"] == [
        "一键求助：孙丽华",
        "1号楼101室，请立即上门",
    ]
    assert by_phone["+8613920000002"]["TemplateParamSet"][0] == "SOS: Sun Lihua"
    assert {r["outcome"] for r in await outcomes_of(db, note.id)} == {"sent"}


async def test_tencent_response_error_in_200_fails_and_is_retried(db: Database) -> None:
    note = sos((await user_id_of(db, "vol.li"),))
    async with vendors.tencent(TC_ID, TC_KEY, TC_APP) as cloud:
        channel = tencent_channel(db, cloud.base_url)
        cloud.answers.append(
            (
                200,
                {
                    "Response": {
                        "Error": {
                            "Code": "LimitExceeded.PhoneNumberThirtySecondLimit",
                            "Message": "30秒内限频",
                        },
                        "RequestId": "r",
                    }
                },
            )
        )
        with pytest.raises(ChannelError, match="LimitExceeded") as raised:
            await channel.notify(note)
        assert not raised.value.permanent
        await channel.notify(note)
        wrong = tencent_channel(db, cloud.base_url, key="wrong-key")
        other = sos((await user_id_of(db, "vol.li"),))
        with pytest.raises(ChannelError, match="SignatureFailure") as refused:
            await wrong.notify(other)
        await channel.aclose()
        await wrong.aclose()
    assert refused.value.permanent and cloud.refused == ["signature"]
    [row] = await outcomes_of(db, note.id)
    assert (row["outcome"], row["attempts"]) == ("sent", 2)


async def test_a_silent_alarm_never_texts_a_resident_account(db: Database) -> None:
    li, sun = await user_id_of(db, "vol.li"), await user_id_of(db, "resident.sun")
    note = sos((li, sun), silent=True)
    async with vendors.aliyun(ALI_ID, ALI_SECRET) as cloud:
        channel = aliyun_channel(db, cloud.base_url)
        await channel.notify(note)
        await channel.aclose()
    assert [r["PhoneNumbers"] for r in cloud.requests] == ["+8613920000001"]
    async with db.read() as conn:
        phone = (await conn.execute(sa.select(users.c.phone).where(users.c.id == sun))).scalar()
    assert phone == "13600000000"  # it had a number; it was left out on purpose


async def test_a_persons_quiet_hours_and_channels_hold_back_all_but_critical_alarms(
    db: Database,
) -> None:
    li, wang = await user_id_of(db, "vol.li"), await user_id_of(db, "vol.wang")
    now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    around_now = (f"{now - timedelta(hours=1):%H:%M}", f"{now + timedelta(hours=1):%H:%M}")
    async with db.write() as conn:
        await save(conn, li, [], around_now, datetime.now(UTC))  # quiet right now
        await save(conn, wang, ["sms"], None, datetime.now(UTC))  # no texts at all
    notice = sos((li, wang)).model_copy(update={"severity": Severity.HIGH})
    async with vendors.aliyun(ALI_ID, ALI_SECRET) as cloud:
        channel = aliyun_channel(db, cloud.base_url)
        await channel.notify(notice)
        assert cloud.requests == []  # a high alarm waits for the page and the morning
        await channel.notify(sos((li, wang)))  # an SOS reaches both all the same
        await channel.aclose()
    assert {r["PhoneNumbers"] for r in cloud.requests} == {"+8613920000001", "+8613920000002"}
