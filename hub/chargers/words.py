"""A charging port's state in the five words residents know: 空闲, 充电中, 已预约, 故障, 离线.

The API keeps ``availability`` as its code; the label goes next to it.
"""

from __future__ import annotations

from hub.chargers.models import (
    Availability,
    ChargerAvailability,
    PortAvailability,
    ReservationStatus,
)
from hub.i18n.catalogs import pgettext


def port_label(availability: Availability | str, tag: str) -> str:
    """A charging port's state in the five words residents know."""
    A = Availability
    words: dict[str, str] = {
        A.AVAILABLE: pgettext(tag, "charging port", "Free"),
        A.CHARGING: pgettext(tag, "charging port", "Charging"),
        A.RESERVED: pgettext(tag, "charging port", "Reserved"),
        A.OUT_OF_ORDER: pgettext(tag, "charging port", "Out of order"),
        # No state known: to a resident the port is simply not answering.
        A.UNKNOWN: pgettext(tag, "charging port", "Offline"),
    }
    return words.get(availability, str(availability))


def labelled(charger: ChargerAvailability, tag: str) -> ChargerAvailability:
    """The charger with each port's ``availability_label`` and the summary's labels."""
    ports: list[PortAvailability] = [
        p.model_copy(update={"availability_label": port_label(p.availability, tag)})
        for p in charger.ports
    ]
    labels = {a: port_label(a, tag) for a in Availability}
    return charger.model_copy(update={"ports": ports, "summary_labels": labels})


def reservation_label(status: ReservationStatus | str, tag: str) -> str:
    """A reservation's state: 进行中, 已取消, 已过期, 已使用."""
    R = ReservationStatus
    words: dict[str, str] = {
        R.ACTIVE: pgettext(tag, "reservation", "Active"),
        R.CANCELLED: pgettext(tag, "reservation", "Cancelled"),
        R.EXPIRED: pgettext(tag, "reservation", "Expired"),
        R.USED: pgettext(tag, "reservation", "Used"),
    }
    return words.get(status, str(status))
