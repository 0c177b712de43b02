"""Local stand-ins for the vendors' clouds, made from their public documents.

Each is a real HTTP server (aiohttp) on a free port that checks what the vendor's
documents say it checks (the signature, the request's shape) and answers as the
vendor documents: a refused signature is an error code in a 200 answer, as the
vendors do. ``answers`` queues answers to give instead of "ok" (an error code in a
200 body, a rate limit), one per request. The checks are written here from the
documents again, not by calling the hub's signing code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web


@dataclass
class Vendor:
    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)  # bodies that passed the checks
    refused: list[str] = field(default_factory=list)  # why a request was refused
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def next_answer(self, ok: dict[str, Any]) -> web.Response:
        status, body = self.answers.pop(0) if self.answers else (200, ok)
        return web.json_response(body, status=status)


@asynccontextmanager
async def serve(app: web.Application, vendor: Vendor) -> AsyncIterator[Vendor]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    vendor.base_url = f"http://{host}:{port}"
    try:
        yield vendor
    finally:
        await runner.cleanup()


# -- WeCom group robot ---------------------------------------------------------------------
# POST /cgi-bin/webhook/send?key=KEY, {"msgtype": "markdown", "markdown": {"content": ...}}
# (content at most 4096 bytes); answer {"errcode": 0, "errmsg": "ok"}; 93000 for a bad key.


@asynccontextmanager
async def wecom(key: str) -> AsyncIterator[Vendor]:
    vendor = Vendor()

    async def send(request: web.Request) -> web.Response:
        if request.query.get("key") != key:
            vendor.refused.append("key")
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        body = await request.json()
        kind = body.get("msgtype")
        if kind not in {"markdown", "text"} or not isinstance(body.get(kind), dict):
            vendor.refused.append("msgtype")
            return web.json_response({"errcode": 40008, "errmsg": "invalid message type"})
        content = body[kind].get("content", "")
        limit = 4096 if kind == "markdown" else 2048
        if not content or len(content.encode()) > limit:
            vendor.refused.append("content")
            return web.json_response({"errcode": 40058, "errmsg": "content exceed max length"})
        vendor.requests.append(body)
        return vendor.next_answer({"errcode": 0, "errmsg": "ok"})

    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", send)
    async with serve(app, vendor):
        yield vendor


# -- DingTalk custom robot -----------------------------------------------------------------
# POST /robot/send?access_token=T&timestamp=MS&sign=S, S = urlencode(base64(HMAC-SHA256(
# key=secret, msg="MS\nsecret"))); MS within an hour; answer {"errcode": 0, "errmsg": "ok"};
# 310000 when the signature does not match; 300001 for an unknown token.


@asynccontextmanager
async def dingtalk(token: str, secret: str) -> AsyncIterator[Vendor]:
    vendor = Vendor()

    async def send(request: web.Request) -> web.Response:
        if request.query.get("access_token") != token:
            vendor.refused.append("token")
            return web.json_response({"errcode": 300001, "errmsg": "token is not exist"})
        stamp = request.query.get("timestamp", "")
        # aiohttp decodes the query once: the value is the base64 text again.
        sign = request.query.get("sign", "")
        expected = base64.b64encode(
            hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
        ).decode()
        fresh = stamp.isdigit() and abs(int(stamp) - time.time() * 1000) < 3600_000
        if not fresh or not hmac.compare_digest(sign, expected):
            vendor.refused.append("sign")
            return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
        body = await request.json()
        markdown = body.get("markdown") or {}
        if (
            body.get("msgtype") != "markdown"
            or not markdown.get("title")
            or not markdown.get("text")
        ):
            vendor.refused.append("body")
            return web.json_response({"errcode": 40035, "errmsg": "缺少参数 json"})
        vendor.requests.append(body)
        return vendor.next_answer({"errcode": 0, "errmsg": "ok"})

    app = web.Application()
    app.router.add_post("/robot/send", send)
    async with serve(app, vendor):
        yield vendor


# -- Feishu custom bot ---------------------------------------------------------------------
# POST /open-apis/bot/v2/hook/ID, {"timestamp": "S", "sign": B, "msg_type": "text",
# "content": {"text": ...}}, B = base64(HMAC-SHA256(key="S\nsecret", msg="")), S in seconds
# within an hour; answer {"code": 0, "msg": "success"}; 19021 sign match fail; 11232
# frequency limited (more than 100 a minute or 5 a second).


@asynccontextmanager
async def feishu(hook: str, secret: str) -> AsyncIterator[Vendor]:
    vendor = Vendor()
    arrivals: list[float] = []

    async def send(request: web.Request) -> web.Response:
        now = time.monotonic()
        arrivals.append(now)
        if sum(1 for t in arrivals if now - t < 1.0) > 5:
            vendor.refused.append("frequency")
            return web.json_response({"code": 11232, "msg": "frequency limited psm"})
        if request.match_info["hook"] != hook:
            vendor.refused.append("hook")
            return web.json_response(
                {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
            )
        body = await request.json()
        stamp = str(body.get("timestamp", ""))
        key = f"{stamp}\n{secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        fresh = stamp.isdigit() and abs(int(stamp) - time.time()) < 3600
        if not fresh or not hmac.compare_digest(str(body.get("sign", "")), expected):
            vendor.refused.append("sign")
            return web.json_response(
                {
                    "code": 19021,
                    "msg": "sign match fail or timestamp is not within one hour from current time",
                }
            )
        if body.get("msg_type") != "text" or not (body.get("content") or {}).get("text"):
            vendor.refused.append("body")
            return web.json_response({"code": 9499, "msg": "Bad Request"})
        vendor.requests.append(body)
        return vendor.next_answer({"code": 0, "msg": "success", "data": {}})

    app = web.Application()
    app.router.add_post("/open-apis/bot/v2/hook/{hook}", send)
    async with serve(app, vendor):
        yield vendor


# -- Aliyun SMS (dysmsapi SendSms 2017-05-25, RPC signature 1.0, HMAC-SHA1) ----------------
# Every parameter but Signature: RFC 3986 percent-encoded (A-Za-z0-9-_.~ kept), sorted,
# k=v joined by &; StringToSign = METHOD&%2F&percent(that); Signature =
# base64(HMAC-SHA1(secret + "&", StringToSign)). Answer {"Code": "OK", ...}; a refused
# signature is HTTP 400 with Code SignatureDoesNotMatch.

_ALIYUN_REQUIRED = {
    "AccessKeyId", "Action", "Format", "SignatureMethod", "SignatureNonce",
    "SignatureVersion", "Timestamp", "Version", "PhoneNumbers", "SignName",
    "TemplateCode",
}  # fmt: skip


def _rfc3986(value: str) -> str:
    return urllib.parse.quote(value, safe="~")


@asynccontextmanager
async def aliyun(key_id: str, secret: str) -> AsyncIterator[Vendor]:
    vendor = Vendor()
    nonces: set[str] = set()

    async def rpc(request: web.Request) -> web.Response:
        form = dict(await request.post()) if request.method == "POST" else dict(request.query)
        params = {k: str(v) for k, v in form.items()}
        signature = params.pop("Signature", "")
        missing = _ALIYUN_REQUIRED - params.keys()
        if missing:
            vendor.refused.append(f"missing {sorted(missing)}")
            return web.json_response(
                {"Code": "MissingParameter", "Message": str(missing)}, status=400
            )
        if params["AccessKeyId"] != key_id:
            vendor.refused.append("key id")
            return web.json_response(
                {
                    "Code": "InvalidAccessKeyId.NotFound",
                    "Message": "Specified access key is not found.",
                },
                status=404,
            )
        canonical = "&".join(f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(params.items()))
        to_sign = f"{request.method}&{_rfc3986('/')}&{_rfc3986(canonical)}"
        expected = base64.b64encode(
            hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        fresh = abs((datetime.now(UTC) - stamp).total_seconds()) < 900
        if not hmac.compare_digest(signature, expected) or not fresh:
            vendor.refused.append("signature")
            return web.json_response(
                {
                    "Code": "SignatureDoesNotMatch",
                    "Message": "Specified signature is not matched with our calculation.",
                },
                status=400,
            )
        if params["SignatureNonce"] in nonces:
            vendor.refused.append("nonce")
            return web.json_response(
                {
                    "Code": "SignatureNonceUsed",
                    "Message": "Specified signature nonce was used already.",
                },
                status=400,
            )
        nonces.add(params["SignatureNonce"])
        if (
            params["Action"],
            params["Version"],
            params["SignatureMethod"],
            params["SignatureVersion"],
        ) != ("SendSms", "2017-05-25", "HMAC-SHA1", "1.0"):
            vendor.refused.append("action")
            return web.json_response({"Code": "InvalidParameter"}, status=400)
        params["TemplateParam"] = json.loads(params.get("TemplateParam", "{}"))
        vendor.requests.append(params)
        return vendor.next_answer(
            {
                "Code": "OK",
                "Message": "OK",
                "BizId": "9006197469364984^0",
                "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990",
            }
        )

    app = web.Application()
    app.router.add_route("*", "/", rpc)
    async with serve(app, vendor):
        yield vendor


# -- Tencent Cloud SMS (SendSms 2021-01-11, TC3-HMAC-SHA256) --------------------------------


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


@asynccontextmanager
async def tencent(secret_id: str, secret_key: str, app_id: str) -> AsyncIterator[Vendor]:
    vendor = Vendor()

    def error(code: str, message: str) -> web.Response:
        return web.json_response(
            {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "req-1"}}
        )

    async def api(request: web.Request) -> web.Response:
        body = await request.read()
        h = request.headers
        if (h.get("X-TC-Action"), h.get("X-TC-Version")) != ("SendSms", "2021-01-11") or not h.get(
            "X-TC-Region"
        ):
            vendor.refused.append("action")
            return error("InvalidAction", "action or version")
        stamp = h.get("X-TC-Timestamp", "")
        if not stamp.isdigit() or abs(int(stamp) - time.time()) > 300:
            vendor.refused.append("timestamp")
            return error("AuthFailure.SignatureExpire", "signature expired")
        auth = h.get("Authorization", "")
        algorithm, _, rest = auth.partition(" ")
        fields = dict(part.strip().split("=", 1) for part in rest.split(","))
        credential = fields.get("Credential", "").split("/")
        if algorithm != "TC3-HMAC-SHA256" or credential[0] != secret_id:
            vendor.refused.append("credential")
            return error("AuthFailure.SecretIdNotFound", "secret id not found")
        date = datetime.fromtimestamp(int(stamp), UTC).strftime("%Y-%m-%d")
        signed = fields.get("SignedHeaders", "")
        canonical_headers = "".join(
            # Keys and values lower-cased and stripped, as the TC3 document says.
            f"{name}:{h.get(name, '').strip().lower()}\n"
            for name in signed.split(";")
        )
        canonical = "\n".join(
            ["POST", "/", "", canonical_headers, signed, hashlib.sha256(body).hexdigest()]
        )
        scope = f"{date}/sms/tc3_request"
        to_sign = "\n".join(
            ["TC3-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), "sms"), "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if "/".join(credential[1:]) != scope or not hmac.compare_digest(
            fields.get("Signature", ""), expected
        ):
            vendor.refused.append("signature")
            return error(
                "AuthFailure.SignatureFailure", "The provided credentials could not be validated."
            )
        payload = json.loads(body)
        if (
            payload.get("SmsSdkAppId") != app_id
            or not payload.get("TemplateId")
            or not payload.get("SignName")
        ):
            vendor.refused.append("payload")
            return error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId not exist")
        phones = payload.get("PhoneNumberSet") or []
        if not phones or not all(p.startswith("+") for p in phones):
            vendor.refused.append("phones")
            return error("InvalidParameterValue.IncorrectPhoneNumber", "incorrect phone number")
        vendor.requests.append(payload)
        if vendor.answers:
            return vendor.next_answer({})
        return web.json_response(
            {
                "Response": {
                    "SendStatusSet": [
                        {
                            "SerialNo": "5000:1",
                            "PhoneNumber": p,
                            "Fee": 1,
                            "SessionContext": "",
                            "Code": "Ok",
                            "Message": "send success",
                            "IsoCode": "CN",
                        }
                        for p in phones
                    ],
                    "RequestId": "req-2",
                }
            }
        )

    app = web.Application()
    app.router.add_post("/", api)
    async with serve(app, vendor):
        yield vendor
