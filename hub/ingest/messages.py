"""MQTT messages into what a batch carries, believing only what the topic vouches for.

The broker's ACL lets a gateway publish only under ``chub/v1/edge/<its id>/``, so
the topic is the one part of a message the sender cannot choose freely. A
message is believed only if its payload agrees with its topic (docs/trust.md):

- events: the payload's ``gateway_id`` and ``device_id`` are the topic's, the
  topic's lane is the event's, and the event's kind travels on that lane (an
  event cannot jump to the alarm lane or leave it);
- availability: gateway and device agree with the topic;
- dead letters: the gateway agrees with the topic;
- command results: the device agrees with the topic, and the topic's gateway is
  kept for the store, which accepts a result only from the gateway the command
  was sent to;
- every message, and every event's values and raw bytes, within the size bounds.

Anything else becomes a dead letter made by the hub, with the message's bytes
(cut to the bound), the topic as its source and the reason.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

from pydantic import ValidationError

from chub_mqtt.topics import topic_kind
from device_adapters.kinds import KINDS
from device_adapters.model import (
    MESSAGE_MAX_BYTES,
    CommandResult,
    DeadLetter,
    DeviceAvailability,
    DeviceEvent,
    Lane,
    OutboxReport,
    event_bound_violation,
)
from hub.bridge.mqtt_bridge import Incoming
from hub.ingest.flows import Parsed

# Dead letters made by the hub get ids derived from the message itself, so a
# redelivered bad message maps onto the same record.
_DEAD_LETTER_NAMESPACE = uuid.UUID("6f1f3c4e-8a51-4c1b-9a57-2d3b8b1a9e01")


class Untrusted(ValueError):
    """A message whose payload disagrees with its topic, or is over a bound."""


def gateway_of(topic: str) -> str:
    parts = topic.split("/")
    return parts[3] if len(parts) > 3 and parts[3] else "unknown"


def _last_level(topic: str) -> str:
    return topic.rsplit("/", 1)[-1]


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid {where}: {first['msg']}{more}"[:1000]


def _agree(what: str, in_topic: str, in_payload: str) -> None:
    if in_topic != in_payload:
        raise Untrusted(f"topic names {what} {in_topic!r} but the payload {in_payload!r}")


def _confirm(parsed: Parsed, item: Incoming, item_id: uuid.UUID) -> None:
    """Tell the sending gateway its item is settled once this batch commits (edge outbox)."""
    parsed.confirm.setdefault(gateway_of(item.topic), []).append(str(item_id))


def _event(parsed: Parsed, item: Incoming) -> DeviceEvent:
    event = DeviceEvent.model_validate_json(item.payload)
    # Settled even if refused below: the refusal is kept as a dead letter.
    _confirm(parsed, item, event.event_id)
    _agree("gateway", gateway_of(item.topic), event.gateway_id)
    _agree("device", _last_level(item.topic), event.device_id)
    if item.lane is not event.lane:
        raise Untrusted(f"event on the {item.lane} lane says it belongs to the {event.lane} lane")
    info = KINDS.get(event.kind)
    # A kind outside the catalogue (a third-party adapter's) may only be telemetry.
    expected = info.lane if info is not None else Lane.TELEMETRY
    if event.lane is not expected:
        raise Untrusted(f"{event.kind} travels on the {expected} lane, not {event.lane}")
    too_big = event_bound_violation(event)
    if too_big is not None:
        raise Untrusted(too_big)
    return event


def hub_dead_letter(item: Incoming, reason: str, now: datetime) -> DeadLetter:
    """A dead letter for a message the hub could not use (the store bounds its bytes)."""
    digest = hashlib.sha256(item.topic.encode() + b"\0" + item.payload).hexdigest()
    return DeadLetter(
        dead_letter_id=uuid.uuid5(_DEAD_LETTER_NAMESPACE, digest),
        gateway_id=gateway_of(item.topic)[:64],
        source=f"mqtt {item.topic}"[:256],
        protocol="mqtt",
        received_at=now,
        reason=reason[:1000],
        raw=item.payload,
    )


def _take_event(parsed: Parsed, item: Incoming, _now: datetime) -> None:
    if item.lane is None:
        raise ValueError(f"no lane in topic {item.topic}")
    parsed.events.append(_event(parsed, item))


def _take_dead_letter(parsed: Parsed, item: Incoming, _now: datetime) -> None:
    letter = DeadLetter.model_validate_json(item.payload)
    _confirm(parsed, item, letter.dead_letter_id)
    _agree("gateway", gateway_of(item.topic), letter.gateway_id)
    parsed.letters.append(letter)


def _take_availability(parsed: Parsed, item: Incoming, _now: datetime) -> None:
    report = DeviceAvailability.model_validate_json(item.payload)
    _agree("gateway", gateway_of(item.topic), report.gateway_id)
    _agree("device", _last_level(item.topic), report.device_id)
    parsed.availability.append(report)


def _take_command_result(parsed: Parsed, item: Incoming, _now: datetime) -> None:
    result = CommandResult.model_validate_json(item.payload)
    _agree("device", _last_level(item.topic), result.device_id)
    parsed.results.append((gateway_of(item.topic), result))


def _take_outbox_report(parsed: Parsed, item: Incoming, _now: datetime) -> None:
    report = OutboxReport.model_validate_json(item.payload)
    _agree("gateway", gateway_of(item.topic), report.gateway_id)
    parsed.outbox_reports.append(report)


def _take_gateway_status(parsed: Parsed, item: Incoming, now: datetime) -> None:
    if item.payload not in (b"online", b"offline"):
        raise ValueError(f"gateway status must be online or offline, on {item.topic}")
    parsed.gateways.append((gateway_of(item.topic), item.payload == b"online", now))


# What each kind of topic (chub_mqtt.topics.topic_kind) carries into a batch. A topic
# kind the hub subscribes to without an entry here becomes a dead letter.
TOPIC_HANDLERS: Final[Mapping[str, Callable[[Parsed, Incoming, datetime], None]]] = {
    "events": _take_event,
    "deadletters": _take_dead_letter,
    "availability": _take_availability,
    "command-results": _take_command_result,
    "status": _take_gateway_status,
    "outbox": _take_outbox_report,
}


def parse_into(parsed: Parsed, item: Incoming, now: datetime) -> None:
    """Add one message to ``parsed``: as what it carries, or as a dead letter."""
    kind = topic_kind(item.topic)
    try:
        if len(item.payload) > MESSAGE_MAX_BYTES:
            raise Untrusted(f"message of {len(item.payload)} bytes; at most {MESSAGE_MAX_BYTES}")
        take = TOPIC_HANDLERS.get(kind) if kind is not None else None
        if take is None:
            raise ValueError(f"no handler for topic {item.topic}")
        take(parsed, item, now)
    except ValidationError as exc:
        parsed.letters.append(hub_dead_letter(item, _reason(exc), now))
    except ValueError as exc:  # Untrusted included
        parsed.letters.append(hub_dead_letter(item, str(exc), now))


def parse(items: list[Incoming], now: datetime) -> Parsed:
    parsed = Parsed()
    for item in items:
        parse_into(parsed, item, now)
    return parsed
