"""SMS through Aliyun (阿里云短信, dysmsapi) or Tencent Cloud (腾讯云短信), template-based.

Mainland SMS must use a template the vendor approved with a registered signature
(签名, e.g. 【某某社区】): the hub sends the template id and its parameters, the title
and the body in the reader's language, cut to ``param_max_chars`` (the vendors
limit a variable's length). Numbers go out in E.164 (``+8613800000000``).

Who is texted: the notification's users (given, and by role in its community)
who have a phone number, in their language (:func:`hub.notifications.service.
recipient_languages`), and its contacts without a login (family), in the
notification's own language. A silent (duress) alarm never texts a resident
account, whatever reached the plugin. Each number's outcome is recorded
(``notification_deliveries``, recipient ``user:<id>`` or ``contact:<E.164>``);
a retry by the outbox texts only those not yet sent. A number the vendor refuses
for good (malformed, blacklisted) is recorded as failed and not retried; any other
failure makes ``notify`` raise, so the outbox tries again.

**Aliyun** (短信服务 API SendSms, version 2017-05-25, help.aliyun.com/document_detail/
419273; RPC signature, "RPC机制的签名", help.aliyun.com/document_detail/315526, the
``SignatureVersion 1.0`` HMAC-SHA1 form, as in aliyun-openapi-python-sdk's
``rpc_signature_composer``): every parameter (common: ``AccessKeyId``, ``Action``,
``Format=JSON``, ``RegionId``, ``SignatureMethod=HMAC-SHA1``, ``SignatureNonce``,
``SignatureVersion=1.0``, ``Timestamp`` ISO 8601 UTC, ``Version``; then ``PhoneNumbers``,
``SignName``, ``TemplateCode``, ``TemplateParam`` as JSON) is percent-encoded (RFC 3986:
only ``A-Za-z0-9-_.~`` left as is, space as ``%20``), sorted by name, joined as
``k=v&...``; ``StringToSign = "POST&%2F&" + percent(that)``; ``Signature =
base64(HMAC-SHA1(key=secret + "&", StringToSign))``. Sent as a form POST. Answer JSON
``Code``: ``"OK"``, else a failure (``isv.MOBILE_NUMBER_ILLEGAL``: that number;
``isv.BUSINESS_LIMIT_CONTROL``, ``isp.*``, ``Throttling*``: later; the rest, e.g.
``SignatureDoesNotMatch``, ``InvalidAccessKeyId.NotFound``, ``isv.SMS_TEMPLATE_ILLEGAL``:
the settings).

**Tencent Cloud** (SendSms, version 2021-01-11, cloud.tencent.com/document/api/382/55981;
signature v3 ``TC3-HMAC-SHA256``, cloud.tencent.com/document/api/213/30654, as in
TencentCloud/signature-process-demo ``sms/signature-v3``): ``POST /`` with a JSON body
and headers ``Host``, ``Content-Type: application/json; charset=utf-8``,
``X-TC-Action: SendSms``, ``X-TC-Version: 2021-01-11``, ``X-TC-Timestamp``,
``X-TC-Region``; ``CanonicalRequest = "POST\\n/\\n\\ncontent-type:application/json;
charset=utf-8\\nhost:HOST\\n\\ncontent-type;host\\n" + hex(sha256(body))``;
``StringToSign = "TC3-HMAC-SHA256\\nTS\\nDATE/sms/tc3_request\\n" +
hex(sha256(CanonicalRequest))``; the key is HMAC-SHA256 chained over ``DATE``, ``sms``,
``tc3_request`` from ``"TC3" + SecretKey``; ``Authorization: TC3-HMAC-SHA256
Credential=ID/DATE/sms/tc3_request, SignedHeaders=content-type;host, Signature=HEX``.
An answer with ``Response.Error`` failed as a whole; otherwise each number's
``SendStatusSet[].Code`` is ``"Ok"`` or that number's failure.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx
import sqlalchemy as sa

from device_adapters.model import Severity
from hub.notifications.base import Notification
from hub.notifications.channels import outcomes
from hub.notifications.channels.errors import ChannelError, vendor_reason
from hub.notifications.preferences import preferences_of
from hub.notifications.service import recipient_languages
from hub.schema.users import users
from hub.storage.db import Database
from hub.users.models import Role

log = logging.getLogger(__name__)

_ORDER = list(Severity)
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def e164(phone: str) -> str | None:
    """A mainland mobile number as ``+86…``; None for anything else (a landline,
    letters): those cannot take an SMS."""
    digits = re.sub(r"[\s\-()]", "", phone)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return f"+86{digits}" if _MOBILE.match(digits) else None


class RecipientRefused(ChannelError):
    """The vendor refuses this one number for good: recorded, not retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=True)


class SmsProvider(Protocol):
    name: str

    async def send(self, phone: str, params: Sequence[str]) -> None:
        """Text ``phone`` (E.164) the template with ``params``; ChannelError if not taken."""
        ...


# -- Aliyun ---------------------------------------------------------------------------


def aliyun_percent(value: str) -> str:
    return urllib.parse.quote(value, safe="-_.~")


def aliyun_signature(secret: str, params: dict[str, str], method: str = "POST") -> str:
    canonical = "&".join(
        f"{aliyun_percent(k)}={aliyun_percent(v)}" for k, v in sorted(params.items())
    )
    to_sign = f"{method}&{aliyun_percent('/')}&{aliyun_percent(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


_ALIYUN_RECIPIENT = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.BLACK_KEY_CONTROL_LIMIT"}
_ALIYUN_TRANSIENT = ("isv.BUSINESS_LIMIT_CONTROL", "isp.", "Throttling", "ServiceUnavailable")


class AliyunSms:
    name = "aliyun"

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        param_names: Sequence[str] = ("title", "body"),
        region: str = "cn-hangzhou",
        url: str = "https://dysmsapi.aliyuncs.com/",
        client: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._id = access_key_id
        self._secret = access_key_secret
        self._sign_name = sign_name
        self._template = template_code
        self._names = list(param_names)
        self._region = region
        self._url = url
        self._client = client
        self._clock = clock

    async def aclose(self) -> None:
        await self._client.aclose()

    def request(self, phone: str, params: Sequence[str]) -> dict[str, str]:
        """The signed form of one SendSms call."""
        stamp = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        form = {
            "AccessKeyId": self._id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": self._region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": stamp,
            "Version": "2017-05-25",
            "PhoneNumbers": phone,
            "SignName": self._sign_name,
            "TemplateCode": self._template,
            "TemplateParam": json.dumps(
                dict(zip(self._names, params, strict=False)), ensure_ascii=False
            ),
        }
        form["Signature"] = aliyun_signature(self._secret, form)
        return form

    async def send(self, phone: str, params: Sequence[str]) -> None:
        try:
            response = await self._client.post(self._url, data=self.request(phone, params))
        except httpx.HTTPError as exc:
            raise ChannelError(f"aliyun: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise ChannelError(f"aliyun: HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise ChannelError(f"aliyun: HTTP {response.status_code}, no JSON") from None
        code = str(answer.get("Code", "")) if isinstance(answer, dict) else ""
        if code == "OK":
            return
        reason = "aliyun: " + vendor_reason(
            code or f"HTTP {response.status_code}",
            answer.get("Message") if isinstance(answer, dict) else "",
        )
        if code in _ALIYUN_RECIPIENT:
            raise RecipientRefused(reason)
        raise ChannelError(reason, permanent=not code.startswith(_ALIYUN_TRANSIENT))


# -- Tencent Cloud ---------------------------------------------------------------------


def _hmac256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    host: str,
    body: bytes,
    timestamp: int,
    service: str = "sms",
    content_type: str = "application/json; charset=utf-8",
) -> str:
    """The ``Authorization`` header of a TC3-HMAC-SHA256 signed POST to ``/``."""
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type.lower()}\nhost:{host.lower()}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = _hmac256(_hmac256(_hmac256(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


_TENCENT_RECIPIENT = (
    "InvalidParameterValue.IncorrectPhoneNumber",
    "FailedOperation.PhoneNumberInBlacklist",
    "FailedOperation.PhoneNumberParseFail",
)
_TENCENT_TRANSIENT = ("InternalError", "RequestLimitExceeded", "LimitExceeded")


class TencentSms:
    name = "tencent"

    def __init__(
        self,
        *,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        template_id: str,
        region: str = "ap-guangzhou",
        url: str = "https://sms.tencentcloudapi.com/",
        client: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._id = secret_id
        self._key = secret_key
        self._app = sdk_app_id
        self._sign_name = sign_name
        self._template = template_id
        self._region = region
        self._url = url
        self._host = urllib.parse.urlsplit(url).netloc
        self._client = client
        self._clock = clock

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, phone: str, params: Sequence[str]) -> None:
        body = json.dumps(
            {
                "PhoneNumberSet": [phone],
                "SmsSdkAppId": self._app,
                "SignName": self._sign_name,
                "TemplateId": self._template,
                "TemplateParamSet": list(params),
            },
            ensure_ascii=False,
        ).encode()
        stamp = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Host": self._host,
            "X-TC-Action": "SendSms",
            "X-TC-Version": "2021-01-11",
            "X-TC-Timestamp": str(stamp),
            "X-TC-Region": self._region,
            "Authorization": tc3_authorization(
                secret_id=self._id,
                secret_key=self._key,
                host=self._host,
                body=body,
                timestamp=stamp,
            ),
        }
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ChannelError(f"tencent: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise ChannelError(f"tencent: HTTP {response.status_code}")
        try:
            answer = response.json()["Response"]
        except (ValueError, KeyError, TypeError):
            raise ChannelError(f"tencent: HTTP {response.status_code}, no Response") from None
        error = answer.get("Error")
        if error:
            self._raise(str(error.get("Code", "")), error.get("Message"))
        statuses = answer.get("SendStatusSet") or []
        mine = next((s for s in statuses if s.get("PhoneNumber") == phone), None)
        if mine is None:
            raise ChannelError("tencent: no SendStatusSet entry for the number")
        if str(mine.get("Code")) != "Ok":
            self._raise(str(mine.get("Code", "")), mine.get("Message"))

    @staticmethod
    def _raise(code: str, message: object) -> None:
        reason = "tencent: " + vendor_reason(code, message)
        if code.startswith(_TENCENT_RECIPIENT):
            raise RecipientRefused(reason)
        raise ChannelError(reason, permanent=not code.startswith(_TENCENT_TRANSIENT))


# -- the plugin -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reader:
    recipient: str  # "user:12" / "contact:+86…"
    phone: str  # E.164
    language: str | None


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SmsNotifier:
    def __init__(
        self,
        db: Database,
        provider: SmsProvider,
        *,
        name: str = "sms",
        min_severity: Severity = Severity.HIGH,
        param_max_chars: int = 35,
        concurrency: int = 5,
    ) -> None:
        self.name = name
        self._db = db
        self.provider = provider
        self._min_severity = min_severity
        self._param_max = param_max_chars
        self._limit = asyncio.Semaphore(concurrency)

    async def _readers(self, n: Notification) -> list[_Reader]:
        wanted = n.recipients
        found: list[_Reader] = []
        async with self._db.read() as conn:
            who: list[sa.ColumnElement[bool]] = []
            if wanted.user_ids:
                who.append(users.c.id.in_(list(wanted.user_ids)))
            if wanted.roles:
                by_role: sa.ColumnElement[bool] = users.c.role.in_([r.value for r in wanted.roles])
                if wanted.community_id is not None:
                    by_role = sa.and_(by_role, users.c.community_id == wanted.community_id)
                who.append(by_role)
            rows = []
            if who:
                query = sa.select(users.c.id, users.c.phone, users.c.role).where(
                    users.c.is_active.is_(True), sa.or_(*who)
                )
                rows = list(await conn.execute(query))
            if n.silent:  # never a resident account, whatever reached the plugin
                rows = [r for r in rows if r.role != Role.RESIDENT.value]
            # Each person's choice of channels and quiet hours (critical alarms ignore it).
            chosen = await preferences_of(conn, [int(r.id) for r in rows])
            now = datetime.now(UTC)
            rows = [r for r in rows if chosen[int(r.id)].allows("sms", n.severity, now)]
            languages = await recipient_languages(conn, [int(r.id) for r in rows])
        for r in rows:
            phone = e164(r.phone or "")
            if phone:
                found.append(_Reader(f"user:{r.id}", phone, languages.get(int(r.id))))
        for c in n.contacts:
            phone = e164(c.phone)
            if phone:
                found.append(_Reader(f"contact:{phone}", phone, None))
        unique: dict[str, _Reader] = {}
        for reader in found:
            unique.setdefault(reader.phone, reader)  # one text per number
        return list(unique.values())

    async def notify(self, notification: Notification) -> None:
        if _ORDER.index(notification.severity) < _ORDER.index(self._min_severity):
            return
        done = await outcomes.already_done(self._db, notification.id, self.name)
        readers = [r for r in await self._readers(notification) if r.recipient not in done]
        if not readers:
            return
        results = await asyncio.gather(*(self._text(notification, r) for r in readers))
        await outcomes.record(
            self._db, notification.id, self.name, list(results), notification.ticket_id
        )
        failed = [o for o in results if o.outcome == outcomes.FAILED]
        if failed:  # numbers refused for good are recorded, not retried: no raise for them
            raise ChannelError(
                f"{self.name}: {len(failed)} of {len(results)} not sent ({failed[0].reason})",
                permanent=all(o.permanent for o in failed),
            )

    async def _text(self, n: Notification, reader: _Reader) -> outcomes.Outcome:
        said = n.for_reader(reader.language)
        params = [_cut(said.title, self._param_max), _cut(said.body or said.title, self._param_max)]
        async with self._limit:
            try:
                await self.provider.send(reader.phone, params)
            except RecipientRefused as exc:
                return outcomes.Outcome(reader.recipient, outcomes.REFUSED, exc.reason, True)
            except ChannelError as exc:
                return outcomes.Outcome(
                    reader.recipient, outcomes.FAILED, exc.reason, exc.permanent
                )
        return outcomes.Outcome(reader.recipient, outcomes.SENT)

    async def aclose(self) -> None:
        close = getattr(self.provider, "aclose", None)
        if close is not None:
            await close()
