"""The notification plugin interface and the hub that fans out to the plugins.

A plugin is anything with an ``async notify(notification)`` method (the
:class:`Notifier` protocol). Two are built in:

* :class:`hub.notifications.live.LiveNotifier`: live push to logged-in users
  over Server-Sent Events (``GET /api/v1/notifications/stream``);
* :class:`hub.notifications.webhook.WebhookNotifier`: a signed JSON POST to
  a list of URLs.

SMS or a messaging app (WeCom, DingTalk, WeChat templates, ...) is a plugin
of the same shape: a class whose ``notify`` looks up the phone numbers or
accounts of ``notification.recipients`` and calls the provider, registered
with ``NotificationHub.register(SmsNotifier(...))``. It must respect
``notification.silent`` (duress alarms) as the built-in ones do; the hub has
already removed residents from silent notifications before any plugin sees
them.

The hub never lets one plugin's failure (or slowness) stop the others: each
plugin runs on its own, failures are logged, and :meth:`NotificationHub.submit`
lets the ingest loop hand a notification over without waiting for slow
channels such as webhooks with retries.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from device_adapters.model import Severity
from hub.users.models import Role

log = logging.getLogger(__name__)


class Recipients(BaseModel):
    """Who a notification is for: given users and/or everyone with a role.

    Role recipients are limited to ``community_id`` when it is set (staff and
    property managers of *that* community), otherwise they mean the role anywhere.
    """

    model_config = ConfigDict(frozen=True)

    user_ids: tuple[int, ...] = ()
    roles: tuple[Role, ...] = ()
    community_id: int | None = None

    @property
    def empty(self) -> bool:
        return not self.user_ids and not self.roles

    def describe(self) -> str:
        parts = [f"users {', '.join(map(str, self.user_ids))}"] if self.user_ids else []
        if self.roles:
            where = f" of community {self.community_id}" if self.community_id else ""
            parts.append(", ".join(r.value for r in self.roles) + where)
        return "; ".join(parts) or "nobody"

    def includes(self, user_id: int, role: Role, community_id: int | None) -> bool:
        if user_id in self.user_ids:
            return True
        if role not in self.roles:
            return False
        return self.community_id is None or community_id == self.community_id


class ExternalContact(BaseModel):
    """Someone without a login (a family member, the police): reached by SMS/messaging plugins."""

    model_config = ConfigDict(frozen=True)

    name: str
    phone: str
    relation: str


class Notification(BaseModel):
    """One thing someone should hear about now."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    kind: str = Field(description='e.g. "ticket.assigned", "ticket.unassigned", "alert.opened"')
    title: str
    ticket_id: int | None = None
    alert_id: int | None = None
    device_kind: str | None = Field(default=None, description='the alarm, e.g. "wristband.sos"')
    recipients: Recipients
    severity: Severity = Severity.INFORMATIONAL
    silent: bool = Field(
        default=False, description="a duress alarm: never for residents or public screens"
    )
    contacts: tuple[ExternalContact, ...] = Field(
        default=(), description="people without a login to reach by phone (family, police)"
    )
    body: str = Field(default="", description="more detail: why now, what is expected")

    def addressed_to(self, user_id: int, role: Role, community_id: int | None) -> bool:
        if self.silent and role is Role.RESIDENT:
            return False
        return self.recipients.includes(user_id, role, community_id)


@runtime_checkable
class Notifier(Protocol):
    """A notification channel plugin."""

    async def notify(self, notification: Notification) -> None: ...


# Given user ids, which of them are residents (used to keep silent alarms from them).
ResidentLookup = Callable[[Sequence[int]], Awaitable[set[int]]]

N = TypeVar("N")


class NotificationHub:
    """Fans a notification out to every registered plugin."""

    def __init__(
        self,
        notifiers: Iterable[Notifier] = (),
        *,
        residents: ResidentLookup | None = None,
        plugin_timeout_s: float = 60.0,
    ) -> None:
        self._notifiers: list[Notifier] = list(notifiers)
        self._residents = residents
        self._timeout_s = plugin_timeout_s
        self._pending: set[asyncio.Task[None]] = set()
        self.failures = 0

    def register(self, notifier: Notifier) -> None:
        self._notifiers.append(notifier)

    def plugin(self, kind: type[N]) -> N | None:
        """The first registered plugin of the given class (e.g. the live push), if any."""
        for notifier in self._notifiers:
            if isinstance(notifier, kind):
                return notifier
        return None

    async def _guard(self, notification: Notification) -> Notification | None:
        """Silent alarms never reach residents, whatever the caller asked for."""
        if not notification.silent:
            return notification
        wanted = notification.recipients
        roles = tuple(r for r in wanted.roles if r is not Role.RESIDENT)
        user_ids = wanted.user_ids
        if user_ids and self._residents is not None:
            residents = await self._residents(user_ids)
            user_ids = tuple(u for u in user_ids if u not in residents)
        if (roles, user_ids) != (wanted.roles, wanted.user_ids):
            log.warning("silent notification %s: resident recipients removed", notification.id)
        recipients = wanted.model_copy(update={"roles": roles, "user_ids": user_ids})
        if recipients.empty and not notification.contacts:
            return None
        return notification.model_copy(update={"recipients": recipients})

    async def publish(self, notification: Notification) -> None:
        """Deliver through every plugin concurrently; a failing plugin is logged, never raised."""
        guarded = await self._guard(notification)
        if guarded is None:
            log.info("notification %s has nobody left to tell", notification.id)
            return
        await asyncio.gather(*(self._one(n, guarded) for n in list(self._notifiers)))

    async def _one(self, notifier: Notifier, notification: Notification) -> None:
        try:
            await asyncio.wait_for(notifier.notify(notification), self._timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failures += 1
            log.exception(
                "notifier %s failed on %s (%s)",
                type(notifier).__name__,
                notification.kind,
                notification.id,
            )

    def submit(self, notification: Notification) -> asyncio.Task[None]:
        """Publish in the background, so the caller (the ingest loop) never waits on a channel."""
        task = asyncio.create_task(self.publish(notification), name=f"notify-{notification.id}")
        self._pending.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("publishing a notification failed", exc_info=task.exception())

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for background deliveries (tests, shutdown); cancel what is still running."""
        if not self._pending:
            return
        _, late = await asyncio.wait(set(self._pending), timeout=timeout_s)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)

    async def aclose(self, timeout_s: float = 5.0) -> None:
        await self.drain(timeout_s)
        for notifier in self._notifiers:
            close = getattr(notifier, "aclose", None)
            if close is not None:
                try:
                    await close()
                except Exception:
                    log.exception("closing notifier %s failed", type(notifier).__name__)
