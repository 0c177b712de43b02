"""Web Push subscriptions: the inbox on a phone hears of an alarm with the page closed.

* ``GET /api/v1/push/key``: the hub's VAPID public key, the ``applicationServerKey`` a page
  subscribes with (hub/notifications/push/keys.py);
* ``POST /api/v1/push/subscriptions``: keep this device's subscription
  (``PushSubscription.toJSON()``) for the logged-in person; the same endpoint again
  replaces the keys, and a new login on the device takes it over;
* ``DELETE /api/v1/push/subscriptions``: forget it (logging out, turning pushes off).

Anyone logged in may subscribe their own devices; what reaches them is what the
notification outbox addresses to them (hub/notifications/push/notifier.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from api.deps import Context
from api.errors import ErrorBody
from api.security import CurrentUser
from hub.errors import NotFound
from hub.i18n.catalogs import N_
from hub.notifications.push import subscriptions
from hub.notifications.push.keys import load_or_create
from hub.notifications.push.subscriptions import SubscriptionIn, SubscriptionRef
from hub.settings import PushSettings

router = APIRouter(prefix="/api/v1/push", tags=["push"])


class PushKey(BaseModel):
    public_key: str = Field(
        description="the VAPID public key (uncompressed P-256 point, base64url): "
        "PushManager.subscribe's applicationServerKey"
    )


_known: dict[tuple[Path, str | None], str] = {}


def _public_key(settings: PushSettings, data_dir: Path) -> str:
    """Read (or made) once per process: the key never changes while the hub runs."""
    given = settings.vapid_private_key
    cache_key = (data_dir.resolve(), given.get_secret_value() if given else None)
    if cache_key not in _known:
        _known[cache_key] = load_or_create(settings, data_dir).public_key
    return _known[cache_key]


@router.get("/key", responses={404: {"model": ErrorBody, "description": "Web Push is off"}})
async def key(ctx: Context) -> PushKey:
    """The key to subscribe with. Public: it only lets push services check the hub's pushes."""
    if not ctx.settings.push.enabled:
        raise NotFound(N_("Web Push is turned off on this hub"))
    return PushKey(public_key=_public_key(ctx.settings.push, ctx.settings.data_dir))


@router.post(
    "/subscriptions",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={422: {"model": ErrorBody, "description": "not a push service's endpoint or keys"}},
)
async def subscribe(body: SubscriptionIn, user: CurrentUser, ctx: Context) -> None:
    """Keep this device's subscription for you (https endpoints of a push service only)."""
    subscriptions.check_endpoint(
        body.endpoint, allow_loopback_http=ctx.settings.push.allow_loopback_http
    )
    async with ctx.db.write() as conn:
        await subscriptions.subscribe(conn, user.id, body, datetime.now(UTC))


@router.delete("/subscriptions", status_code=status.HTTP_204_NO_CONTENT)
async def unsubscribe(body: SubscriptionRef, user: CurrentUser, ctx: Context) -> None:
    """Forget this device's subscription. 204 also when there was none of yours."""
    async with ctx.db.write() as conn:
        await subscriptions.unsubscribe(conn, user.id, body.endpoint)
