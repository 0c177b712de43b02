"""Group-chat robots: WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书).

Each posts a notification into one group chat, in the community's language, merged
with others while the robot's rate limit holds them (:mod:`.pacing`). A 200 answer
with an error code is a failure: it is raised, so the outbox tries again, and
recorded in ``notification_deliveries`` for the group (recipient ``group:<name>``).

What each vendor documents (the signatures are checked by tests/hub/channels/):

* **WeCom group robot** (群机器人配置说明, developer.work.weixin.qq.com/document/path/91770):
  ``POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`` with
  ``{"msgtype": "markdown", "markdown": {"content": ...}}`` (content at most 4096 bytes,
  UTF-8); answer ``{"errcode": 0, "errmsg": "ok"}``. 20 messages a minute per robot
  (errcode 45009 past it); 93000: the webhook key is no longer valid.
* **DingTalk custom robot** (自定义机器人安全设置, open.dingtalk.com, "加签"):
  ``POST https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=MS&sign=S`` where
  ``S = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{MS}\\n{secret}")))``, ``MS`` in
  milliseconds, within an hour of DingTalk's clock; body ``{"msgtype": "markdown",
  "markdown": {"title": ..., "text": ...}}``; answer ``{"errcode": 0, "errmsg": "ok"}``.
  20 a minute (130101 past it); 310000: signature, keyword or IP refused; 300001: no
  such token.
* **Feishu custom bot** (自定义机器人使用指南, open.feishu.cn/document/client-docs/bot-v3/
  add-custom-bot, "签名校验"): ``POST https://open.feishu.cn/open-apis/bot/v2/hook/ID`` with
  ``{"timestamp": "S", "sign": B, "msg_type": "text", "content": {"text": ...}}`` where
  ``S`` is in seconds and ``B = base64(HMAC-SHA256(key=f"{S}\\n{secret}", msg=b""))``
  (the key is the string, the message empty); answer ``{"code": 0, "msg": "success"}``.
  100 a minute and 5 a second; 11232: frequency limited; 19021: signature refused (or
  the timestamp more than an hour off); 19022: IP refused; 19024: keyword missing.

Secrets (webhook keys, tokens, signing secrets) are never logged: the URL with its
key is not either; a failure names the robot and the vendor's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

import httpx

from device_adapters.model import Severity
from hub.i18n.catalogs import ngettext, pgettext
from hub.i18n.times import local_time
from hub.notifications.base import Notification
from hub.notifications.channels import outcomes
from hub.notifications.channels.errors import ChannelError, vendor_reason
from hub.notifications.channels.pacing import MergingSender
from hub.storage.db import Database

log = logging.getLogger(__name__)

_ORDER = list(Severity)
_SEVERITY_WORDS = {
    Severity.CRITICAL: ("severity", "Critical"),
    Severity.HIGH: ("severity", "High"),
    Severity.MEDIUM: ("severity", "Medium"),
    Severity.LOW: ("severity", "Low"),
    Severity.INFORMATIONAL: ("severity", "Information"),
}


def severity_words(severity: Severity, tag: str) -> str:
    context, message = _SEVERITY_WORDS[severity]
    return pgettext(tag, context, message)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` query parameter (already URL-encoded, as documented)."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's ``sign`` body field: the key is ``timestamp\\nsecret``, the message empty."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


# Vendor codes: transient (wait and send again) or permanent (someone must act).
_WECOM_TRANSIENT = {-1, 45009, 45033}
_DINGTALK_TRANSIENT = {-1, 130101, 130102}
_FEISHU_TRANSIENT = {11232}  # frequency limited; 9499 is a malformed request


class RobotNotifier:
    """One group robot; subclasses say how to post and how to read the answer."""

    vendor = "robot"
    per_window = 20
    window_s = 60.0
    max_bytes = 4000
    min_interval_s = 0.0
    line_break = "\n"

    def __init__(
        self,
        db: Database,
        *,
        name: str | None = None,
        language: str = "zh-CN",
        timezone: str = "Asia/Shanghai",
        include_silent: bool = False,
        min_severity: Severity = Severity.INFORMATIONAL,
        per_window: int | None = None,
        window_s: float | None = None,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name or self.vendor
        self._db = db
        self.language = language
        self._tz = ZoneInfo(timezone)
        # A group chat may hold residents: duress alarms only to robots of staff-only groups.
        self._include_silent = include_silent
        self._min_severity = min_severity
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._clock = clock
        self.sender = MergingSender(
            self._post_merged,
            per_window=per_window or self.per_window,
            window_s=window_s or self.window_s,
            max_bytes=self.max_bytes,
            min_interval_s=self.min_interval_s,
        )

    @property
    def recipient(self) -> str:
        return f"group:{self.name}"

    def wants(self, notification: Notification) -> bool:
        if notification.silent and not self._include_silent:
            return False
        return _ORDER.index(notification.severity) >= _ORDER.index(self._min_severity)

    async def notify(self, notification: Notification) -> None:
        if not self.wants(notification):
            return
        if self.recipient in await outcomes.already_done(self._db, notification.id, self.name):
            return
        text = self.render(notification.for_reader(self.language))
        critical = notification.severity is Severity.CRITICAL
        try:
            await self.sender.submit(text, critical=critical)
        except ChannelError as exc:
            await self._record(notification, outcomes.FAILED, exc.reason, exc.permanent)
            raise
        except Exception as exc:
            await self._record(notification, outcomes.FAILED, type(exc).__name__, False)
            raise
        await self._record(notification, outcomes.SENT, None, False)

    async def _record(
        self, notification: Notification, outcome: str, reason: str | None, permanent: bool
    ) -> None:
        await outcomes.record(
            self._db,
            notification.id,
            self.name,
            [outcomes.Outcome(self.recipient, outcome, reason, permanent)],
            notification.ticket_id,
        )

    def render(self, n: Notification) -> str:
        """One notification as the group reads it (subclasses: markdown or text)."""
        tag = self.language
        head = pgettext(
            tag,
            "robot message",
            "[%(severity)s] %(title)s",
            severity=severity_words(n.severity, tag),
            title=n.title,
        )
        lines = [head]
        if n.body:
            lines.append(n.body)
        lines.append(local_time(n.at, self._tz, tag))
        return self.line_break.join(lines)

    def merge(self, texts: list[str]) -> str:
        if len(texts) == 1:
            return texts[0]
        header = ngettext(
            self.language,
            "%(n)s notification at once (sent together: the group takes few messages a minute)",
            "%(n)s notifications at once (sent together: the group takes few messages a minute)",
            len(texts),
        )
        return "\n\n".join([header, *texts])

    async def _post_merged(self, texts: list[str]) -> None:
        await self.post(self.merge(texts), len(texts))

    async def post(self, text: str, count: int) -> None:
        raise NotImplementedError

    async def _call(
        self,
        url: str,
        payload: Mapping[str, object],
        params: Mapping[str, str] | None = None,
    ) -> dict[str, object]:
        """POST JSON; the answer's JSON, or a ChannelError for transport and HTTP failures."""
        try:
            response = await self._client.post(url, json=payload, params=params)
        except httpx.HTTPError as exc:
            raise ChannelError(f"{self.name}: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise ChannelError(f"{self.name}: HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not response.is_success:
            said = ""
            if isinstance(answer, dict):  # some refusals come with a 4xx and the usual body
                code = answer.get("errcode", answer.get("code"))
                said = " " + vendor_reason(code, answer.get("errmsg", answer.get("msg")))
            raise ChannelError(f"{self.name}: HTTP {response.status_code}{said}", permanent=True)
        if answer is None:
            raise ChannelError(f"{self.name}: answer is not JSON")
        if not isinstance(answer, dict):
            raise ChannelError(f"{self.name}: answer is not a JSON object")
        return answer

    def _check(self, code: object, message: object, transient: set[int]) -> None:
        if code in (0, None):
            return
        permanent = not (isinstance(code, int) and code in transient)
        reason = f"{self.name}: {vendor_reason(code, message)}"
        log.warning("robot %s refused a message: %s", self.name, reason)
        raise ChannelError(reason, permanent=permanent)

    async def aclose(self) -> None:
        await self.sender.aclose()
        if self._own_client:
            await self._client.aclose()


class WeComRobot(RobotNotifier):
    vendor = "wecom"
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
    max_bytes = 4000  # markdown content: at most 4096 bytes

    def __init__(self, db: Database, *, key: str, url: str | None = None, **kw: object) -> None:
        super().__init__(db, **kw)  # type: ignore[arg-type]
        self._key = key
        self.url = url or self.url

    async def post(self, text: str, count: int) -> None:
        payload = {"msgtype": "markdown", "markdown": {"content": text}}
        answer = await self._call(self.url, payload, {"key": self._key})
        self._check(answer.get("errcode"), answer.get("errmsg"), _WECOM_TRANSIENT)


class DingTalkRobot(RobotNotifier):
    vendor = "dingtalk"
    url = "https://oapi.dingtalk.com/robot/send"
    max_bytes = 4000
    line_break = "  \n"  # DingTalk's markdown joins single lines: a hard break

    def __init__(
        self,
        db: Database,
        *,
        access_token: str,
        secret: str | None = None,
        url: str | None = None,
        **kw: object,
    ) -> None:
        super().__init__(db, **kw)  # type: ignore[arg-type]
        self._token = access_token
        self._secret = secret
        self.url = url or self.url

    def signed_url(self) -> str:
        """The URL with its query: the token, and with a secret ``timestamp`` and ``sign``.

        Built by hand because ``sign`` is URL-encoded already, as DingTalk documents it."""
        query = "access_token=" + urllib.parse.quote_plus(self._token)
        if self._secret:
            ms = int(self._clock() * 1000)
            query += f"&timestamp={ms}&sign={dingtalk_sign(self._secret, ms)}"
        return f"{self.url}?{query}"

    async def post(self, text: str, count: int) -> None:
        title = text.split("\n", 1)[0][:64]
        payload = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
        answer = await self._call(self.signed_url(), payload)
        self._check(answer.get("errcode"), answer.get("errmsg"), _DINGTALK_TRANSIENT)


class FeishuRobot(RobotNotifier):
    vendor = "feishu"
    url = "https://open.feishu.cn/open-apis/bot/v2/hook/"
    per_window = 100
    min_interval_s = 0.2  # and 5 a second
    max_bytes = 4000  # the whole body may be 20 KB; kept short to stay readable

    def __init__(
        self,
        db: Database,
        *,
        hook: str,
        secret: str | None = None,
        url: str | None = None,
        **kw: object,
    ) -> None:
        super().__init__(db, **kw)  # type: ignore[arg-type]
        self._hook = hook
        self._secret = secret
        self.url = url or self.url

    async def post(self, text: str, count: int) -> None:
        payload: dict[str, object] = {"msg_type": "text", "content": {"text": text}}
        if self._secret:
            seconds = int(self._clock())
            payload = {
                "timestamp": str(seconds),
                "sign": feishu_sign(self._secret, seconds),
                **payload,
            }
        answer = await self._call(self.url.rstrip("/") + "/" + self._hook, payload)
        # Older answers say StatusCode/StatusMessage; newer ones code/msg.
        code = answer.get("code", answer.get("StatusCode"))
        self._check(code, answer.get("msg", answer.get("StatusMessage")), _FEISHU_TRANSIENT)
