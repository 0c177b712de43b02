"""Which devices the edge can reach right now, published for the hub.

Every device-facing server reports what it sees to one :class:`AvailabilityTracker`:

- TCP stream servers (watches, IW watches, e-bike piles): ``online`` "connected" when a
  connection identifies its device, ``offline`` "disconnected" when that connection
  closes (only the device's current connection counts: an old one closing after the
  device reconnected changes nothing), ``seen`` for every later frame;
- the OCPP server: the same on WebSocket connect, close and each message;
- local MQTT (Zigbee2MQTT): the bridge's availability messages give ``online``
  "bridge_online" / ``offline`` "bridge_offline"; a fresh (not retained) state report
  of a Zigbee or Tuya lock is ``seen``;
- HTTP push gates have no connection: every authorized push (event or heartbeat) is
  ``seen``, and only the heartbeat timeout makes them offline.

``seen`` keeps a device's last activity and brings an offline device back online with
the reason "reported" (it was heard from). A device silent for longer than its
family's limit (``settings.offline_after_s_<family>``, 0 = never) goes offline with
the reason "heartbeat_timeout", even when its connection still looks open.

Each *change* of a device's online state (not each frame) is published as
DeviceAvailability JSON, retained, at QoS 1 on ``availability_topic(gw, device)``, so
the hub (and anyone subscribing later) reads the current state. The gateway's own
online/offline is the uplink's retained status and last will (edge/uplink.py).

After a crash of the edge, the broker still holds a retained "online" for devices that
may never come back. :meth:`AvailabilityTracker.restore` takes those retained reports
(the command runner reads them back when it subscribes) and tracks such devices as
online from now on, so their family's heartbeat timeout turns them offline unless they
reconnect. After a clean stop every server closes its connections first, so the
devices are already published as "disconnected".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

from chub_mqtt.topics import availability_topic
from device_adapters.model import DeviceAvailability, DeviceFamily
from edge.settings import EdgeSettings

log = logging.getLogger(__name__)

CONNECTED: Final = "connected"
DISCONNECTED: Final = "disconnected"
HEARTBEAT_TIMEOUT: Final = "heartbeat_timeout"
BRIDGE_ONLINE: Final = "bridge_online"
BRIDGE_OFFLINE: Final = "bridge_offline"
# Heard from (a push, a report, a frame after a heartbeat timeout) without a connection event.
REPORTED: Final = "reported"

# The family of a device, from its id's prefix: what restore() needs for retained reports.
FAMILY_BY_PREFIX: Final[dict[str, DeviceFamily]] = {
    "watch": DeviceFamily.WRISTBAND,
    "iw": DeviceFamily.WRISTBAND,
    "ebike": DeviceFamily.CHARGER,
    "ocpp": DeviceFamily.CHARGER,
    "hik": DeviceFamily.DOOR_ACCESS,
    "z2m": DeviceFamily.LOCK,
    "tuya": DeviceFamily.LOCK,
}

_MIN_SWEEP_S: Final = 0.05
_MAX_SWEEP_S: Final = 30.0

Listener = Callable[[str, bool], None]


class AvailabilitySink(Protocol):
    """What a device server reports to (the tracker; tests may pass a fake)."""

    def online(self, device_id: str, family: DeviceFamily, reason: str = CONNECTED) -> None: ...

    def offline(self, device_id: str, family: DeviceFamily, reason: str = DISCONNECTED) -> None: ...

    def seen(self, device_id: str, family: DeviceFamily) -> None: ...


class AvailabilityPublisher(Protocol):
    """Hands a message to MQTT at QoS 1 without waiting (paho queues it while offline)."""

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None: ...


@dataclass
class _State:
    family: DeviceFamily
    online: bool
    reason: str
    last_seen: float  # monotonic clock
    at: datetime


@dataclass
class AvailabilityStats:
    changes: int = 0
    published: int = 0
    heartbeat_timeouts: int = 0
    restored: int = 0


def offline_after_s(settings: EdgeSettings, family: DeviceFamily) -> float:
    """The family's heartbeat timeout in seconds; 0 means none."""
    return {
        DeviceFamily.WRISTBAND: settings.offline_after_s_wristband,
        DeviceFamily.CHARGER: settings.offline_after_s_charger,
        DeviceFamily.DOOR_ACCESS: settings.offline_after_s_door,
        DeviceFamily.LOCK: settings.offline_after_s_lock,
    }[family]


class AvailabilityTracker:
    """Per-device online state; publishes changes and applies heartbeat timeouts.

    All methods run on the event loop; the reporting ones are synchronous and cheap, so
    servers call them inline. ``listeners`` are told ``(device_id, online)`` on every
    change (the command runner uses this to deliver held commands on reconnect).
    """

    def __init__(
        self,
        settings: EdgeSettings,
        publisher: AvailabilityPublisher | None = None,
        *,
        sweep_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway_id = settings.gateway_id
        self._timeouts = {family: offline_after_s(settings, family) for family in DeviceFamily}
        if sweep_s is None:
            active = [t for t in self._timeouts.values() if t > 0]
            sweep_s = min(active) / 10 if active else _MAX_SWEEP_S
        self.sweep_s = min(max(sweep_s, _MIN_SWEEP_S), _MAX_SWEEP_S)
        self._publisher = publisher
        self._clock = clock
        self._states: dict[str, _State] = {}
        # Changes not yet handed to a publisher (none attached yet).
        self._unpublished: set[str] = set()
        self._listeners: list[Listener] = []
        self._sweeper: asyncio.Task[None] | None = None
        self.stats = AvailabilityStats()

    # -- wiring ------------------------------------------------------------------------

    def set_publisher(self, publisher: AvailabilityPublisher) -> None:
        """Attach where changes go; what changed before is published now."""
        self._publisher = publisher
        for device_id in sorted(self._unpublished):
            self._publish(device_id)
        self._unpublished.clear()

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="availability-sweep")

    async def stop(self) -> None:
        task, self._sweeper = self._sweeper, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- what servers report -----------------------------------------------------------

    def online(self, device_id: str, family: DeviceFamily, reason: str = CONNECTED) -> None:
        self._set(device_id, family, True, reason)

    def offline(self, device_id: str, family: DeviceFamily, reason: str = DISCONNECTED) -> None:
        self._set(device_id, family, False, reason)

    def seen(self, device_id: str, family: DeviceFamily) -> None:
        state = self._states.get(device_id)
        if state is not None and state.online:
            state.last_seen = self._clock()
            return
        self._set(device_id, family, True, REPORTED)

    def restore(self, report: DeviceAvailability) -> bool:
        """Take a retained report from before a restart; True if it is now tracked.

        Only devices the tracker does not know yet, reported online, with a known family:
        they count as seen now, so they go offline after their heartbeat timeout unless
        they report (or reconnect) first. Nothing is published for them now.
        """
        if report.gateway_id != self.gateway_id or report.device_id in self._states:
            return False
        if not report.online:
            return False
        family = FAMILY_BY_PREFIX.get(report.device_id.split(":", 1)[0])
        if family is None:
            return False
        self._states[report.device_id] = _State(
            family, True, report.reason, self._clock(), report.at
        )
        self.stats.restored += 1
        return True

    # -- reading -----------------------------------------------------------------------

    def is_online(self, device_id: str) -> bool | None:
        """True/False, or None when the tracker has never heard of the device."""
        state = self._states.get(device_id)
        return None if state is None else state.online

    def report(self, device_id: str) -> DeviceAvailability | None:
        """The current state as the hub would read it."""
        state = self._states.get(device_id)
        if state is None:
            return None
        return DeviceAvailability(
            device_id=device_id,
            gateway_id=self.gateway_id,
            online=state.online,
            reason=state.reason,
            at=state.at,
        )

    def sweep(self) -> list[str]:
        """Turn offline every online device silent beyond its family's timeout."""
        now = self._clock()
        timed_out = []
        for device_id, state in list(self._states.items()):
            limit = self._timeouts[state.family]
            if state.online and limit > 0 and now - state.last_seen > limit:
                timed_out.append(device_id)
        for device_id in timed_out:
            state = self._states[device_id]
            log.info(
                "%s silent for %.0fs (limit %.0fs): offline",
                device_id,
                now - state.last_seen,
                self._timeouts[state.family],
            )
            self.stats.heartbeat_timeouts += 1
            self._set(device_id, state.family, False, HEARTBEAT_TIMEOUT)
        return timed_out

    # -- internals ---------------------------------------------------------------------

    def _set(self, device_id: str, family: DeviceFamily, online: bool, reason: str) -> None:
        now = self._clock()
        state = self._states.get(device_id)
        if state is not None and state.online == online:
            state.family = family
            if online:
                state.last_seen = now
            return
        self._states[device_id] = _State(family, online, reason, now, datetime.now(UTC))
        self.stats.changes += 1
        log.info("%s %s (%s)", device_id, "online" if online else "offline", reason)
        if self._publisher is None:
            self._unpublished.add(device_id)
        else:
            self._publish(device_id)
        for listener in list(self._listeners):
            try:
                listener(device_id, online)
            except Exception:
                log.exception("availability listener failed for %s", device_id)

    def _publish(self, device_id: str) -> None:
        report = self.report(device_id)
        if report is None or self._publisher is None:
            return
        try:
            self._publisher.publish(
                availability_topic(self.gateway_id, device_id),
                report.model_dump_json().encode(),
                retain=True,
            )
        except Exception:
            # Not fatal for the server that reported: the next change publishes again.
            log.exception("availability of %s not published", device_id)
            return
        self.stats.published += 1

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_s)
            try:
                self.sweep()
            except Exception:
                log.exception("availability sweep failed")
