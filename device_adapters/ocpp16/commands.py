"""Builders for central-system -> charge point calls (OCPP 1.6J down-link).

Each returns the ``ocpp.v16.call`` payload dataclass that ``ChargePoint.call``
sends (the class name is the action). Arguments are checked here, so a bad
command fails before it reaches a charger. :data:`COMMANDS` turns the hub's
``charger.*`` commands into these calls for the edge's OCPP server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeAlias

from ocpp.v16 import call  # type: ignore[import-untyped]

from device_adapters.commands import (
    CHECK_TIME,
    CommandRefused,
    SessionCall,
    SessionCommands,
    SessionFacts,
    int_param,
    text_param,
)
from device_adapters.model import DeviceCommand
from device_adapters.ocpp16.normalize import DEVICE_ID_PREFIX

# An ``ocpp.v16.call`` dataclass instance (the ocpp package ships no type information).
CallPayload: TypeAlias = Any

MAX_ID_TAG: Final = 20  # IdToken is a CiString20Type
DEFAULT_RESERVATION_MINUTES: Final = 30
MAX_RESERVATION_MINUTES: Final = 24 * 60


def _id_tag(id_tag: str) -> str:
    if not isinstance(id_tag, str) or not id_tag or len(id_tag) > MAX_ID_TAG:
        raise ValueError(f"id_tag must be 1 to {MAX_ID_TAG} characters")
    return id_tag


def _integer(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}")
    return value


def ocpp_datetime(value: datetime) -> str:
    """An aware datetime as OCPP wants it: UTC, ISO 8601, millisecond precision, ``Z``."""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def remote_start(connector_id: int | None, id_tag: str) -> CallPayload:
    """RemoteStartTransaction on ``connector_id`` (None: the charger picks one)."""
    if connector_id is not None:
        _integer(connector_id, "connector_id", 1)
    return call.RemoteStartTransaction(id_tag=_id_tag(id_tag), connector_id=connector_id)


def remote_stop(transaction_id: int) -> CallPayload:
    return call.RemoteStopTransaction(transaction_id=_integer(transaction_id, "transaction_id", 0))


def reserve_now(
    connector_id: int, expiry: datetime, id_tag: str, reservation_id: int
) -> CallPayload:
    """ReserveNow until ``expiry``; connector 0 reserves any connector (if supported)."""
    return call.ReserveNow(
        connector_id=_integer(connector_id, "connector_id", 0),
        expiry_date=ocpp_datetime(expiry),
        id_tag=_id_tag(id_tag),
        reservation_id=_integer(reservation_id, "reservation_id", 0),
    )


def cancel_reservation(reservation_id: int) -> CallPayload:
    return call.CancelReservation(reservation_id=_integer(reservation_id, "reservation_id", 0))


def unlock_connector(connector_id: int) -> CallPayload:
    return call.UnlockConnector(connector_id=_integer(connector_id, "connector_id", 1))


# The answer status that means the charger did it.
_ACCEPTED: Final[dict[str, str]] = {
    "charger.remote_start": "Accepted",
    "charger.remote_stop": "Accepted",
    "charger.reserve": "Accepted",
    "charger.cancel_reservation": "Accepted",
    "charger.unlock_connector": "Unlocked",
}


def build(command: DeviceCommand, facts: SessionFacts) -> SessionCall:
    """The OCPP call for a ``charger.*`` command; CommandRefused for bad parameters.

    ``charger.remote_stop`` by ``port`` needs the transaction running on that port,
    which only the session knows (``facts.transaction_on_port``).
    """
    accepted = _ACCEPTED.get(command.kind)
    if accepted is None:
        raise CommandRefused(f"unsupported command kind {command.kind}")
    try:
        return SessionCall(payload=_payload(command, facts), accepted_status=accepted)
    except CommandRefused:
        raise
    except ValueError as exc:
        raise CommandRefused(f"bad params: {exc}") from exc


def _payload(command: DeviceCommand, facts: SessionFacts) -> CallPayload:
    kind, params = command.kind, command.params
    if kind == "charger.remote_start":
        port = int_param(command, "port") if "port" in params else None
        return remote_start(port, text_param(command, "id_tag"))
    if kind == "charger.remote_stop":
        if "transaction_id" in params:
            return remote_stop(int_param(command, "transaction_id"))
        port = int_param(command, "port")
        transaction_id = facts.transaction_on_port(port)
        if transaction_id is None:
            raise CommandRefused(f"no transaction known to this gateway on port {port}")
        return remote_stop(transaction_id)
    if kind == "charger.reserve":
        minutes = int_param(command, "minutes", default=DEFAULT_RESERVATION_MINUTES)
        if not 1 <= minutes <= MAX_RESERVATION_MINUTES:
            raise CommandRefused(f"params.minutes must be 1..{MAX_RESERVATION_MINUTES}")
        return reserve_now(
            int_param(command, "port"),
            facts.now + timedelta(minutes=minutes),
            text_param(command, "id_tag"),
            int_param(command, "reservation_id"),
        )
    if kind == "charger.cancel_reservation":
        return cancel_reservation(int_param(command, "reservation_id"))
    return unlock_connector(int_param(command, "port"))


COMMANDS = SessionCommands(
    kinds=frozenset(_ACCEPTED),
    device_prefix=DEVICE_ID_PREFIX,
    device_noun=f"an OCPP charger ({DEVICE_ID_PREFIX}...)",
    build=build,
    # On arrival a stop by port is only checked: the transaction is looked up when sent.
    check_facts=SessionFacts(now=CHECK_TIME, transaction_on_port=lambda port: 0),
)
