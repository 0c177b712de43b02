"""Builders for central-system -> charge point calls (OCPP 1.6J down-link).

Each returns the ``ocpp.v16.call`` payload dataclass that ``ChargePoint.call``
sends (the class name is the action). Arguments are checked here, so a bad
command fails before it reaches a charger.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

from ocpp.v16 import call  # type: ignore[import-untyped]

# An ``ocpp.v16.call`` dataclass instance (the ocpp package ships no type information).
CallPayload: TypeAlias = Any

MAX_ID_TAG: Final = 20  # IdToken is a CiString20Type


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
