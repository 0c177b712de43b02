"""HTTP Basic credentials, checked without leaking which part was wrong through timing."""

from __future__ import annotations

import base64
import binascii
import hmac


def basic_auth_matches(header: str | None, username: str, password: str) -> bool:
    """Whether an ``Authorization`` header is HTTP Basic with exactly these credentials."""
    if header is None:
        return False
    scheme, _, param = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(param.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    user, sep, given = decoded.partition(":")
    # Both compared, always: no early exit that would time which one was wrong.
    user_ok = hmac.compare_digest(user.encode(), username.encode())
    password_ok = hmac.compare_digest(given.encode(), password.encode())
    return bool(sep) and user_ok and password_ok
