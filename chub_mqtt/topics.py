"""The hub <-> edge topic grammar, in one place. docs/mqtt-topics.md documents it for people.

Every topic starts with ``chub/v1`` so that a broker shared with other
systems (Zigbee2MQTT, for one) keeps them apart, and so that a breaking change
can move to ``v2`` beside it.
"""

from __future__ import annotations

from typing import Final

ROOT = "chub/v1"

# The event lanes (the values of ``device_adapters.model.Lane``, which this package
# sits below): alarms travel apart so a telemetry backlog never delays them.
ALARM_LANE: Final = "alarm"
TELEMETRY_LANE: Final = "telemetry"
LANES: Final = frozenset({ALARM_LANE, TELEMETRY_LANE})

# edge -> hub, QoS 1, not retained: one DeviceEvent JSON per message. The hub
# reads the alarm lane on a connection of its own (ALARMS_SUBSCRIPTION) and the
# other lanes on its main connection, so an SOS never queues behind telemetry.
EVENTS_SUBSCRIPTION = f"{ROOT}/edge/+/events/#"
ALARMS_SUBSCRIPTION = f"{ROOT}/edge/+/events/{ALARM_LANE}/+"
TELEMETRY_SUBSCRIPTION = f"{ROOT}/edge/+/events/{TELEMETRY_LANE}/+"
# edge -> hub, QoS 1, not retained: one DeadLetter JSON per message.
DEAD_LETTERS_SUBSCRIPTION = f"{ROOT}/edge/+/deadletters"
# edge -> hub, QoS 1, retained per device: one DeviceAvailability JSON.
AVAILABILITY_SUBSCRIPTION = f"{ROOT}/edge/+/availability/+"
# edge -> hub, QoS 1, retained: "online" / "offline" (the gateway's last will).
GATEWAY_STATUS_SUBSCRIPTION = f"{ROOT}/edge/+/status"
# Each gateway's outbox: its backlog and how full its bound and disk are (retained).
GATEWAY_OUTBOX_SUBSCRIPTION = f"{ROOT}/edge/+/outbox"
# edge -> hub, QoS 1, not retained: one CommandResult JSON.
COMMAND_RESULTS_SUBSCRIPTION = f"{ROOT}/edge/+/command-results/+"


def event_topic(gateway_id: str, lane: str, device_id: str) -> str:
    """``lane``: ``alarm`` or ``telemetry`` (a ``Lane`` is a ``str`` of those)."""
    return f"{ROOT}/edge/{gateway_id}/events/{lane}/{device_id}"


def dead_letter_topic(gateway_id: str) -> str:
    return f"{ROOT}/edge/{gateway_id}/deadletters"


def gateway_status_topic(gateway_id: str) -> str:
    """Retained ``online``/``offline``; ``offline`` is also the gateway's last will."""
    return f"{ROOT}/edge/{gateway_id}/status"


def gateway_outbox_topic(gateway_id: str) -> str:
    """Where a gateway reports its outbox's backlog (retained, replaced every report)."""
    return f"{ROOT}/edge/{gateway_id}/outbox"


def alarm_client_id(hub_client_id: str) -> str:
    """The client id of a hub's second connection, the one that reads the alarm lane."""
    return f"{hub_client_id}-alarms"


def hub_status_topic(client_id: str) -> str:
    """Retained ``online``/``offline`` of one hub process; ``offline`` is its last will."""
    return f"{ROOT}/hub/{client_id}/status"


def lane_of_topic(topic: str) -> str | None:
    """The lane an event topic names, or None if the topic is not an event topic."""
    parts = topic.split("/")
    if len(parts) != 7 or parts[:3] != ["chub", "v1", "edge"] or parts[4] != "events":
        return None
    return parts[5] if parts[5] in LANES else None


def availability_topic(gateway_id: str, device_id: str) -> str:
    return f"{ROOT}/edge/{gateway_id}/availability/{device_id}"


def command_topic(gateway_id: str, device_id: str) -> str:
    """hub -> edge, QoS 1, not retained: one DeviceCommand JSON."""
    return f"{ROOT}/edge/{gateway_id}/commands/{device_id}"


def commands_subscription(gateway_id: str) -> str:
    return f"{ROOT}/edge/{gateway_id}/commands/+"


def command_result_topic(gateway_id: str, device_id: str) -> str:
    return f"{ROOT}/edge/{gateway_id}/command-results/{device_id}"


def committed_topic(gateway_id: str) -> str:
    """hub -> edge, QoS 1, not retained: ``{"ids": [...]}``, event and dead-letter ids the
    hub has committed (or kept as dead letters), so the gateway's outbox may forget them."""
    return f"{ROOT}/edge/{gateway_id}/committed"


def hub_status_subscription() -> str:
    """Every hub's retained ``online``/``offline`` (the edge resends only while one is up)."""
    return f"{ROOT}/hub/+/status"


def topic_kind(topic: str) -> str | None:
    """Which edge topic family a topic belongs to: events, deadletters, availability,
    status, command-results, outbox; None for anything else."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[:3] != ["chub", "v1", "edge"]:
        return None
    if len(parts) == 4 or parts[4] not in (
        "events",
        "deadletters",
        "availability",
        "status",
        "command-results",
        "outbox",
    ):
        return None
    return parts[4]
