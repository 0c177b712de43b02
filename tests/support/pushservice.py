"""A local push service and a browser's side of a Web Push subscription, for tests.

:class:`BrowserKeys` is what a browser makes when a page subscribes: a P-256 key pair
(``p256dh``) and a 16-byte ``auth`` secret. :func:`push_service` is a real HTTP server
(aiohttp) standing in for FCM or Mozilla's autopush: it checks each push as RFC 8030,
8291 and 8292 say a push service and a user agent do, written here from the RFCs and
not with the hub's code: the ``vapid t=JWT,k=KEY`` authorization (``k`` the key the hub
serves, the ES256 signature over the JWT valid for that key, ``aud`` this service's
origin, ``exp`` within 24 hours, ``sub`` a mailto: or https: contact), a ``TTL``, and
an ``aes128gcm`` body that the subscription's private key and auth secret decrypt
(http_ece, as a browser's push code does). ``answers`` queues statuses to answer
instead of 201 (410: the subscription is gone).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class BrowserKeys:
    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self, endpoint: str) -> dict[str, Any]:
        """As PushSubscription.toJSON() gives it."""
        point = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        plain: bytes = http_ece.decrypt(
            body, private_key=self.private, auth_secret=self.auth, version="aes128gcm"
        )
        return plain


@dataclass
class PushService:
    vapid_public_key: str  # the key the hub serves (GET /api/v1/push/key)
    devices: dict[str, BrowserKeys] = field(default_factory=dict)  # path → the device's keys
    base_url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)  # decrypted payloads
    headers: list[dict[str, str]] = field(default_factory=list)
    reached: list[str] = field(default_factory=list)  # the device of each decrypted push
    refused: list[str] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    def endpoint(self, device: str) -> str:
        return f"{self.base_url}/push/{device}"

    def check_vapid(self, authorization: str) -> str | None:
        """Why the authorization is refused, or None (RFC 8292)."""
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return "scheme"
        fields = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if fields.get("k") != self.vapid_public_key:
            return "k is not the served key"
        try:
            head, claims, signature = fields["t"].split(".")
        except (KeyError, ValueError):
            return "t"
        if json.loads(unb64url(head)).get("alg") != "ES256":
            return "alg"
        raw = unb64url(signature)
        if len(raw) != 64:
            return "signature length"
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), unb64url(self.vapid_public_key)
        )
        try:
            key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "signature"
        said = json.loads(unb64url(claims))
        if said.get("aud") != self.base_url:
            return f"aud {said.get('aud')}"
        if not 0 < int(said.get("exp", 0)) - time.time() <= 24 * 3600:
            return "exp"
        if not str(said.get("sub", "")).startswith(("mailto:", "https:")):
            return "sub"
        return None


@asynccontextmanager
async def push_service(vapid_public_key: str) -> AsyncIterator[PushService]:
    service = PushService(vapid_public_key)

    async def push(request: web.Request) -> web.Response:
        device = service.devices.get(request.match_info["device"])
        if device is None:
            return web.Response(status=404)
        why = service.check_vapid(request.headers.get("Authorization", ""))
        if why is not None:
            service.refused.append(why)
            return web.Response(status=403, text=why)
        if request.headers.get("Content-Encoding") != "aes128gcm" or "TTL" not in request.headers:
            service.refused.append("headers")
            return web.Response(status=400)
        body = await request.read()
        if len(body) > 4096:
            service.refused.append("size")
            return web.Response(status=413)
        try:
            service.received.append(json.loads(device.decrypt(body)))
        except Exception as exc:
            service.refused.append(f"decrypt: {exc!r}")
            return web.Response(status=400)
        service.headers.append(dict(request.headers))
        service.reached.append(request.match_info["device"])
        return web.Response(status=service.answers.pop(0) if service.answers else 201)

    app = web.Application()
    app.router.add_post("/push/{device}", push)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    service.base_url = f"http://{host}:{port}"
    try:
        yield service
    finally:
        await runner.cleanup()
