"""The hub's VAPID key pair (RFC 8292): push services check that the pushes to a
subscription are signed by the key the page subscribed with.

A subscription is bound to the public key for good, so the key must not change: it is
made once and kept in ``data_dir/vapid_private.pem`` (mode 0600), unless
``HUB_PUSH_VAPID_PRIVATE_KEY`` gives one (several hubs on several machines must share it).
The hub process and the API workers may start at the same moment: the file is written
under another name and linked into place, so whoever links first wins and the others
read that one.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from hub.settings import PushSettings

KEY_FILE = "vapid_private.pem"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class VapidKeys:
    private_pem: bytes

    @property
    def vapid(self) -> Vapid02:
        return Vapid02.from_pem(self.private_pem)

    @property
    def public_key(self) -> str:
        """The applicationServerKey a page subscribes with: the uncompressed P-256 point,
        base64url without padding."""
        key = serialization.load_pem_private_key(self.private_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        raw = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)


def _pem_of(given: str) -> bytes:
    text = given.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    # The raw 32-byte private value, base64url (as web-push tools print it).
    value = int.from_bytes(b64url_decode(text), "big")
    key = ec.derive_private_key(value, ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _create(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.link(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def load_or_create(settings: PushSettings, data_dir: Path) -> VapidKeys:
    """The key pair from the settings, else from the data directory (made on first use)."""
    if settings.vapid_private_key is not None:
        return VapidKeys(_pem_of(settings.vapid_private_key.get_secret_value()))
    path = data_dir / KEY_FILE
    if not path.exists():
        _create(path)
    return VapidKeys(path.read_bytes())
