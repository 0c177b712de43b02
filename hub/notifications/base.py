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
with ``NotificationHub.register(SmsNotifier(...))``. It writes to each person in their
language: ``notification.for_reader(language)`` (its ``title`` and ``body``), the language from
:func:`hub.notifications.service.recipient_languages` (their profile's, else their
community's); ``title`` alone is the community's default language's. It must respect
``notification.silent`` (duress alarms) as the built-in ones do; the hub has
already removed residents from silent notifications before any plugin sees
them. A plugin may give itself a ``name`` (default: its class name); the
outbox records by that name which channels already took a notification.

How a notification travels (durable, see :mod:`hub.notifications.outbox`):
the producer stores it with ``outbox.enqueue`` inside its own transaction;
each hub's :class:`~hub.notifications.outbox.OutboxRelay` then hands it to
:meth:`NotificationHub.deliver` (every channel except the live push, at least
once, retried until they take it) and to :meth:`NotificationHub.push_live`
(this process's live streams, once per process, on every hub).

The in-memory ``submit`` (publish in the background after the commit) is gone:
a hub killed between the commit and the delivery lost the notification, and the
live push only reached the committing process. :meth:`NotificationHub.publish`
remains, for notifications that need no durability: it tells every plugin now,
in this process only (tests, tools). Anything a person must hear goes through
the outbox.

The hub never lets one plugin's failure (or slowness: ``plugin_timeout_s``)
stop the others: each plugin runs on its own and its failure is reported.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from device_adapters.model import Severity
from hub.i18n.locales import DEFAULT
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
    title: str = Field(description="in the community's default language")
    titles: dict[str, str] = Field(
        default_factory=dict,
        description='the title in every language, e.g. {"zh-CN": "一键求助：…", "en": "SOS: …"}',
    )
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
    body: str = Field(
        default="",
        description="more detail: why now, what is expected (the community's default language)",
    )
    bodies: dict[str, str] = Field(
        default_factory=dict,
        description='the body in every language, e.g. {"zh-CN": "5分钟内无人接单", "en": "…"}',
    )

    @model_validator(mode="before")
    @classmethod
    def _body_from_bodies(cls, data: Any) -> Any:
        # Made with ``bodies`` only: ``body`` is the title's language's, which is the
        # community's default (titles are kept that way), else the product's default.
        if not isinstance(data, dict) or data.get("body") or not data.get("bodies"):
            return data
        bodies: dict[str, str] = data["bodies"]
        titles: dict[str, str] = data.get("titles") or {}
        title = data.get("title")
        language = next((tag for tag, text in titles.items() if text == title), DEFAULT)
        return {**data, "body": bodies.get(language) or bodies.get(DEFAULT, "")}

    def title_in(self, language: str | None) -> str:
        """The title as a reader of ``language`` reads it (the stored one if it was
        made before titles were kept per language, or in one language only)."""
        return self.titles.get(language or "", self.title) if self.titles else self.title

    def body_in(self, language: str | None) -> str:
        """The body as a reader of ``language`` reads it (``body`` if made in one only)."""
        return self.bodies.get(language or "", self.body) if self.bodies else self.body

    def for_reader(self, language: str | None) -> Notification:
        """This notification with its ``title`` and ``body`` in ``language``
        (``titles`` and ``bodies`` kept)."""
        title, body = self.title_in(language), self.body_in(language)
        if (title, body) == (self.title, self.body):
            return self
        return self.model_copy(update={"title": title, "body": body})

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


def is_live_push(notifier: Notifier) -> bool:
    """The live push feeds this process's streams; every other plugin is an outside channel."""
    return getattr(notifier, "live_push", False) is True


@dataclass(frozen=True)
class Delivery:
    """What one pass over the outside channels did with a notification."""

    delivered_to: tuple[str, ...] = ()  # channels that took it in this pass
    failed: dict[str, str] = field(default_factory=dict)  # channel → error


class NotificationHub:
    """Fans a notification out to every registered plugin."""

    def __init__(
        self,
        notifiers: Iterable[Notifier] = (),
        *,
        residents: ResidentLookup | None = None,
        plugin_timeout_s: float = 60.0,
    ) -> None:
        self._named: list[tuple[str, Notifier]] = []
        self._residents = residents
        self.plugin_timeout_s = plugin_timeout_s
        self.failures = 0
        for notifier in notifiers:
            self.register(notifier)

    def register(self, notifier: Notifier) -> None:
        own = getattr(notifier, "name", None)
        base = own if isinstance(own, str) and own else type(notifier).__name__
        taken = {name for name, _ in self._named}
        name, n = base, 1
        while name in taken:  # two webhook plugins: WebhookNotifier, WebhookNotifier#2
            n += 1
            name = f"{base}#{n}"
        self._named.append((name, notifier))

    def plugin(self, kind: type[N]) -> N | None:
        """The first registered plugin of the given class (e.g. the live push), if any."""
        for _, notifier in self._named:
            if isinstance(notifier, kind):
                return notifier
        return None

    async def guard(self, notification: Notification) -> Notification | None:
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
        """Tell every plugin now, in this process only: NOT durable, not seen by other hubs.

        For notifications that need no durability (tests, tools). Anything a person
        must hear is stored with ``hub.notifications.outbox.enqueue`` instead.
        """
        guarded = await self.guard(notification)
        if guarded is None:
            log.info("notification %s has nobody left to tell", notification.id)
            return
        await asyncio.gather(*(self._one(name, n, guarded) for name, n in list(self._named)))

    async def deliver(self, notification: Notification, done: Collection[str] = ()) -> Delivery:
        """Hand a notification to the outside channels that have not taken it yet (``done``).

        The guard runs first (a silent alarm with only residents left goes nowhere,
        which counts as delivered). Failures are returned, never raised, so the
        outbox can retry just the channels that failed.
        """
        guarded = await self.guard(notification)
        if guarded is None:
            log.info("notification %s has nobody left to tell", notification.id)
            return Delivery()
        todo = [(name, n) for name, n in self._named if not is_live_push(n) and name not in done]
        errors = await asyncio.gather(*(self._one(name, n, guarded) for name, n in todo))
        taken = tuple(name for (name, _), err in zip(todo, errors, strict=True) if err is None)
        failed = {name: err for (name, _), err in zip(todo, errors, strict=True) if err is not None}
        return Delivery(taken, failed)

    def has_outside_channels(self) -> bool:
        """True when a plugin besides the live push takes notifications (webhooks, SMS)."""
        return any(not is_live_push(n) for _, n in self._named)

    async def push_live(self, notification: Notification) -> bool:
        """Hand a notification to this process's live push (after the guard); False if none."""
        live = [(name, n) for name, n in list(self._named) if is_live_push(n)]
        if not live:
            return False
        guarded = await self.guard(notification)
        if guarded is None:
            return False
        await asyncio.gather(*(self._one(name, n, guarded) for name, n in live))
        return True

    async def _one(self, name: str, notifier: Notifier, notification: Notification) -> str | None:
        """Run one plugin; its error as text, or None when it took the notification."""
        try:
            await asyncio.wait_for(notifier.notify(notification), self.plugin_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failures += 1
            log.exception("notifier %s failed on %s (%s)", name, notification.kind, notification.id)
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return None

    async def aclose(self) -> None:
        for name, notifier in self._named:
            close = getattr(notifier, "aclose", None)
            if close is not None:
                try:
                    await close()
                except Exception:
                    log.exception("closing notifier %s failed", name)
