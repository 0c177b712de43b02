"""Messaging channels people in Chinese communities use: group robots and SMS.

* :mod:`.robots`: WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书) group robots;
* :mod:`.sms`: SMS through Aliyun or Tencent Cloud, per person, in their language;
* :mod:`.pacing`: a robot's rate limit kept by merging, never by dropping;
* :mod:`.outcomes`: sent / failed / refused, per recipient and channel.

:func:`from_settings` makes the ones ``HUB_CHANNELS_*`` configures; the hub registers
them with its :class:`~hub.notifications.base.NotificationHub` (hub/runtime.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from hub.notifications.base import Notifier
from hub.notifications.channels.robots import DingTalkRobot, FeishuRobot, WeComRobot
from hub.notifications.channels.sms import AliyunSms, SmsNotifier, SmsProvider, TencentSms
from hub.storage.db import Database

if TYPE_CHECKING:
    from hub.settings import ChannelSettings

__all__ = ["DingTalkRobot", "FeishuRobot", "SmsNotifier", "WeComRobot", "from_settings"]


def from_settings(
    db: Database, channels: ChannelSettings, *, timezone: str = "Asia/Shanghai"
) -> list[Notifier]:
    """The channels whose credentials are set."""
    made: list[Notifier] = []
    robot = {
        "language": channels.language,
        "timezone": timezone,
        "include_silent": channels.robots_include_silent,
        "min_severity": channels.robots_min_severity,
    }
    if channels.wecom_key:
        made.append(
            WeComRobot(
                db, key=channels.wecom_key.get_secret_value(), url=channels.wecom_url, **robot
            )
        )
    if channels.dingtalk_access_token:
        secret = channels.dingtalk_secret
        made.append(
            DingTalkRobot(
                db,
                access_token=channels.dingtalk_access_token.get_secret_value(),
                secret=secret.get_secret_value() if secret else None,
                url=channels.dingtalk_url,
                **robot,
            )
        )
    if channels.feishu_hook:
        secret = channels.feishu_secret
        made.append(
            FeishuRobot(
                db,
                hook=channels.feishu_hook.get_secret_value(),
                secret=secret.get_secret_value() if secret else None,
                url=channels.feishu_url,
                **robot,
            )
        )
    provider = sms_provider(channels)
    if provider is not None:
        made.append(
            SmsNotifier(
                db,
                provider,
                min_severity=channels.sms_min_severity,
                param_max_chars=channels.sms_param_max_chars,
            )
        )
    return made


def sms_provider(
    channels: ChannelSettings, client: httpx.AsyncClient | None = None
) -> SmsProvider | None:
    if channels.sms_provider is None or channels.sms_access_key_secret is None:
        return None
    client = client or httpx.AsyncClient(timeout=10.0)
    key_id = channels.sms_access_key_id or ""
    secret = channels.sms_access_key_secret.get_secret_value()
    if channels.sms_provider == "aliyun":
        return AliyunSms(
            access_key_id=key_id,
            access_key_secret=secret,
            sign_name=channels.sms_sign_name or "",
            template_code=channels.sms_template_id or "",
            param_names=channels.sms_param_names,
            region=channels.sms_region or "cn-hangzhou",
            url=channels.sms_url or "https://dysmsapi.aliyuncs.com/",
            client=client,
        )
    return TencentSms(
        secret_id=key_id,
        secret_key=secret,
        sdk_app_id=channels.sms_sdk_app_id or "",
        sign_name=channels.sms_sign_name or "",
        template_id=channels.sms_template_id or "",
        region=channels.sms_region or "ap-guangzhou",
        url=channels.sms_url or "https://sms.tencentcloudapi.com/",
        client=client,
    )
