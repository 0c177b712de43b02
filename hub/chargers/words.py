"""A charging port's state in the five words residents know: 空闲, 充电中, 已预约, 故障, 离线.

The API keeps ``availability`` as its code; the label goes next to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from hub.chargers.models import (
    Availability,
    ChargerAvailability,
    PortAvailability,
    ReservationStatus,
)
from hub.i18n.catalogs import NP_, Label, label

PORT_WORDS: Final[Mapping[str, Label]] = {
    Availability.AVAILABLE: NP_("charging port", "Free"),
    Availability.CHARGING: NP_("charging port", "Charging"),
    Availability.RESERVED: NP_("charging port", "Reserved"),
    Availability.OUT_OF_ORDER: NP_("charging port", "Out of order"),
    # No state known: to a resident the port is simply not answering.
    Availability.UNKNOWN: NP_("charging port", "Offline"),
}


def port_label(availability: Availability | str, tag: str) -> str:
    """A charging port's state in the five words residents know."""
    return label(PORT_WORDS, availability, tag)


def labelled(charger: ChargerAvailability, tag: str) -> ChargerAvailability:
    """The charger with each port's ``availability_label`` and the summary's labels."""
    ports: list[PortAvailability] = [
        p.model_copy(update={"availability_label": port_label(p.availability, tag)})
        for p in charger.ports
    ]
    labels = {a: port_label(a, tag) for a in Availability}
    return charger.model_copy(update={"ports": ports, "summary_labels": labels})


RESERVATION_WORDS: Final[Mapping[str, Label]] = {
    ReservationStatus.ACTIVE: NP_("reservation", "Active"),
    ReservationStatus.CANCELLED: NP_("reservation", "Cancelled"),
    ReservationStatus.EXPIRED: NP_("reservation", "Expired"),
    ReservationStatus.USED: NP_("reservation", "Used"),
}


def reservation_label(status: ReservationStatus | str, tag: str) -> str:
    """A reservation's state: 进行中, 已取消, 已过期, 已使用."""
    return label(RESERVATION_WORDS, status, tag)
