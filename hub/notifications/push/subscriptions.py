"""The devices a person's inbox receives Web Push on, and what a subscription must be.

A page subscribes through its browser's push service and hands the hub what
``PushSubscription.toJSON()`` gives: the endpoint (a URL of the push service) and the
device's keys (``p256dh``, its P-256 public key; ``auth``, a 16-byte secret). The hub
will POST to that endpoint, so it is checked: https only (a test's local push service
on http://127.0.0.1 when ``HUB_PUSH_ALLOW_LOOPBACK_HTTP``), no user or password in it,
not a private, loopback or link-local address (the hub must not be made to call its
own network).
"""

from __future__ import annotations

import binascii
import ipaddress
import urllib.parse
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import InvalidInput
from hub.i18n.catalogs import N_
from hub.notifications.base import Recipients
from hub.notifications.push.keys import b64url_decode
from hub.schema.notifications import push_subscriptions as subs
from hub.schema.users import users
from hub.storage.upsert import upsert
from hub.users.models import Role

MAX_ENDPOINT = 1024
_B64URL = r"^[A-Za-z0-9_-]+={0,2}$"


class SubscriptionKeys(BaseModel):
    model_config = ConfigDict(extra="ignore")

    p256dh: str = Field(min_length=80, max_length=100, pattern=_B64URL)
    auth: str = Field(min_length=16, max_length=32, pattern=_B64URL)


class SubscriptionIn(BaseModel):
    """What ``PushSubscription.toJSON()`` gives (``expirationTime`` is ignored)."""

    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(min_length=9, max_length=MAX_ENDPOINT)
    keys: SubscriptionKeys


class SubscriptionRef(BaseModel):
    endpoint: str = Field(min_length=1, max_length=MAX_ENDPOINT)


@dataclass(frozen=True)
class Subscription:
    id: int
    user_id: int
    endpoint: str
    p256dh: str
    auth: str


def check_endpoint(endpoint: str, *, allow_loopback_http: bool = False) -> str:
    """The endpoint if the hub may post to it; InvalidInput saying why not."""
    try:
        url = urllib.parse.urlsplit(endpoint)
        host = url.hostname or ""
        url.port  # noqa: B018 (raises on a port that is no number)
    except ValueError:
        raise InvalidInput("endpoint", N_("not a URL")) from None
    if url.username or url.password or not host:
        raise InvalidInput("endpoint", N_("not a push service's URL"))
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    loopback_test = allow_loopback_http and address is not None and address.is_loopback
    if url.scheme != "https" and not (url.scheme == "http" and loopback_test):
        raise InvalidInput("endpoint", N_("a push service is reached over https"))
    local = host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
    if not loopback_test and (
        local
        or (
            address is not None
            and (address.is_private or address.is_loopback or address.is_link_local)
        )
    ):
        raise InvalidInput("endpoint", N_("not a push service's URL"))
    return endpoint


def check_keys(keys: SubscriptionKeys) -> None:
    """The device's P-256 point (65 bytes, uncompressed) and 16-byte secret."""
    try:
        point, secret = b64url_decode(keys.p256dh), b64url_decode(keys.auth)
    except (binascii.Error, ValueError):
        raise InvalidInput("keys", N_("not base64url")) from None
    if len(point) != 65 or point[0] != 4:
        raise InvalidInput("keys", N_("p256dh is not an uncompressed P-256 public key"))
    if len(secret) != 16:
        raise InvalidInput("keys", N_("auth is not 16 bytes"))


async def subscribe(
    conn: AsyncConnection, user_id: int, sub: SubscriptionIn, now: datetime
) -> None:
    """Keep the device's subscription for this user (a new login on it takes it over)."""
    check_keys(sub.keys)
    await upsert(
        conn,
        subs,
        {
            "user_id": user_id,
            "endpoint": sub.endpoint,
            "p256dh": sub.keys.p256dh.rstrip("="),
            "auth": sub.keys.auth.rstrip("="),
            "created_at": now,
        },
        ("endpoint",),
    )


async def unsubscribe(conn: AsyncConnection, user_id: int, endpoint: str) -> bool:
    """Forget the device's subscription if it is this user's; True if one was."""
    result = await conn.execute(
        subs.delete().where(subs.c.endpoint == endpoint, subs.c.user_id == user_id)
    )
    return bool(result.rowcount)


async def remove(conn: AsyncConnection, subscription_id: int) -> None:
    """The push service says the subscription is gone (404/410)."""
    await conn.execute(subs.delete().where(subs.c.id == subscription_id))


async def of_user(conn: AsyncConnection, user_id: int) -> list[Subscription]:
    rows = await conn.execute(sa.select(subs).where(subs.c.user_id == user_id).order_by(subs.c.id))
    return [Subscription(r.id, r.user_id, r.endpoint, r.p256dh, r.auth) for r in rows]


async def for_recipients(
    conn: AsyncConnection, wanted: Recipients, *, silent: bool
) -> list[Subscription]:
    """The subscriptions of the active users a notification is for (never a resident's
    for a silent alarm, whatever reached the channel)."""
    who: list[sa.ColumnElement[bool]] = []
    if wanted.user_ids:
        who.append(users.c.id.in_(list(wanted.user_ids)))
    if wanted.roles:
        by_role: sa.ColumnElement[bool] = users.c.role.in_([r.value for r in wanted.roles])
        if wanted.community_id is not None:
            by_role = sa.and_(by_role, users.c.community_id == wanted.community_id)
        who.append(by_role)
    if not who:
        return []
    query = (
        sa.select(subs)
        .select_from(subs.join(users, users.c.id == subs.c.user_id))
        .where(users.c.is_active.is_(True), sa.or_(*who))
        .order_by(subs.c.id)
    )
    if silent:
        query = query.where(users.c.role != Role.RESIDENT.value)
    rows = await conn.execute(query)
    return [Subscription(r.id, r.user_id, r.endpoint, r.p256dh, r.auth) for r in rows]
