"""What each of the hub's two MQTT connections subscribes to, alone or in a group of hubs."""

from __future__ import annotations

from typing import Literal

from chub_mqtt.topics import (
    ALARMS_SUBSCRIPTION,
    AVAILABILITY_SUBSCRIPTION,
    COMMAND_RESULTS_SUBSCRIPTION,
    DEAD_LETTERS_SUBSCRIPTION,
    EVENTS_SUBSCRIPTION,
    GATEWAY_OUTBOX_SUBSCRIPTION,
    GATEWAY_STATUS_SUBSCRIPTION,
    TELEMETRY_SUBSCRIPTION,
)

Session = Literal["main", "alarms"]

# What each connection reads. The main session of a hub from before the alarm
# connection existed was subscribed to every lane; it unsubscribes from that.
_SUBSCRIPTIONS: dict[Session, list[tuple[str, int]]] = {
    "alarms": [(ALARMS_SUBSCRIPTION, 1)],
    "main": [
        (TELEMETRY_SUBSCRIPTION, 1),
        (DEAD_LETTERS_SUBSCRIPTION, 1),
        (AVAILABILITY_SUBSCRIPTION, 1),
        (GATEWAY_STATUS_SUBSCRIPTION, 1),
        (GATEWAY_OUTBOX_SUBSCRIPTION, 1),
        (COMMAND_RESULTS_SUBSCRIPTION, 1),
    ],
}
_OUTGROWN: dict[Session, list[str]] = {"alarms": [], "main": [EVENTS_SUBSCRIPTION]}

# With a group, what the hubs share out; the rest every hub reads in full.
_SHARED_IN_GROUP = frozenset(
    {TELEMETRY_SUBSCRIPTION, DEAD_LETTERS_SUBSCRIPTION, COMMAND_RESULTS_SUBSCRIPTION}
)


def _shared(shared_group: str, topic: str) -> str:
    return f"$share/{shared_group}/{topic}"


def subscriptions(session: Session, shared_group: str | None) -> list[tuple[str, int]]:
    """What one connection subscribes to; with a group, the bulk as shared subscriptions.

    With ``$share/<group>/<filter>`` the broker hands each message to one hub of
    the group, round robin, instead of to every hub (docs/scale-out.md): telemetry,
    dead letters and command results. Every hub reads the rest in full:
    - alarms: a shared alarm queued for a hub that died would wait for that hub
      to restart; the event-id lock keeps each to one alert;
    - device availability and gateway status: retained state, which a broker
      does not send to a shared subscription when it is made (MQTT 5, 4.8.2), so
      a new group would never learn it; and each hub applying every report in
      order leaves the latest one standing, where a round robin could let an
      older report, handled late by another hub, overwrite a newer one.
    """
    return [
        (_shared(shared_group, topic) if shared_group and topic in _SHARED_IN_GROUP else topic, q)
        for topic, q in _SUBSCRIPTIONS[session]
    ]


def outgrown(session: Session, shared_group: str | None) -> list[str]:
    """Filters a persistent session may still hold from an earlier configuration.

    A hub that joins a group drops the plain form of what it now shares, or it
    would get those messages twice: once for itself and once as its share of
    the group; and the shared form of what it now reads in full (alarms and
    retained state were shared once), for the same reason.
    """
    if shared_group is None:
        return _OUTGROWN[session]
    return _OUTGROWN[session] + [
        topic if topic in _SHARED_IN_GROUP else _shared(shared_group, topic)
        for topic, _ in _SUBSCRIPTIONS[session]
    ]
