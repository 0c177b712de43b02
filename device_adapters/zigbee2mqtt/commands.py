"""Commands down to a Zigbee lock: ``{"state": "UNLOCK"|"LOCK"}`` on ``<base>/<name>/set``.

Accepted when the lock's next fresh report shows the requested ``lock_state`` (or, from a
lock that reports no ``lock_state``, the requested ``state``); rejected on a
``lock.unlock_failed`` report for that action.
"""

from __future__ import annotations

from typing import Literal

from device_adapters.commands import (
    CHECK_TIME,
    CommandRefused,
    MessageCommand,
    MessageCommands,
    MessageFacts,
    Verdict,
)
from device_adapters.model import DeviceCommand, DeviceEvent
from device_adapters.zigbee2mqtt.codec import DEVICE_ID_PREFIX, command_topic, set_command


def build(command: DeviceCommand, facts: MessageFacts) -> MessageCommand:
    if command.kind not in ("lock.unlock", "lock.lock"):
        raise CommandRefused(f"unsupported command kind {command.kind}")
    unlock = command.kind == "lock.unlock"
    want = "unlocked" if unlock else "locked"
    attempted = "unlock" if unlock else "lock"
    state: Literal["UNLOCK", "LOCK"] = "UNLOCK" if unlock else "LOCK"

    def is_answer(event: DeviceEvent) -> bool:
        values = event.values
        if event.kind == "lock.unlock_failed":
            return values.get("attempted") == attempted
        if event.kind != "lock.state":
            return False
        lock_state = values.get("lock_state")
        if lock_state is not None:
            return lock_state == want
        return values.get("state") == state

    def verdict(event: DeviceEvent) -> Verdict:
        if event.kind == "lock.unlock_failed":
            reason = str(event.values.get("reason", "unknown"))
            return Verdict(False, f"lock reported {attempted} failure: {reason}")
        return Verdict(True, f"lock reported {want}")

    return MessageCommand(
        topic=command_topic(facts.base_topic, facts.device_name),
        payload=set_command(state),
        is_answer=is_answer,
        verdict=verdict,
        awaiting=f"{want} report",
    )


COMMANDS = MessageCommands(
    kinds=frozenset({"lock.unlock", "lock.lock"}),
    device_prefix=f"{DEVICE_ID_PREFIX}:",
    device_noun=f"a Zigbee2MQTT lock ({DEVICE_ID_PREFIX}:...)",
    build=build,
    check_facts=MessageFacts(now=CHECK_TIME, base_topic="zigbee2mqtt", device_name="lock"),
)
