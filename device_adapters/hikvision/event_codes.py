"""(major, minor) event codes of Hikvision-style access controllers, as data per vendor.

Major types: 1 alarm, 2 exception, 3 operation, 5 event (PROTOCOLS.md 3). Vendors and
firmware differ in these tables, so the decoder never hard-codes a code: it looks the pair
up in ``VENDOR_TABLES[vendor]`` (the kind) and ``VENDOR_CODE_VALUES[vendor]`` (extra values
such as the verification ``method`` or a denial ``reason``). A code missing from the
vendor's table is not guessed: the decoder rejects the event so it is dead-lettered and a
person can add the row.

Adding a vendor (or a firmware whose codes differ) is a data change::

    VENDOR_TABLES["acme"] = with_overrides(HIKVISION, {(5, 22): "door.exit_button"})
    VENDOR_CODE_VALUES["acme"] = dict(HIKVISION_CODE_VALUES)

The ``hikvision`` rows come from the specification table in PROTOCOLS.md 3 (*built*,
not checked against a real controller's event log). ``example_oem`` is NOT a real
vendor's table: it only documents, and lets the tests exercise, how a vendor whose
firmware numbers some events differently is declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from device_adapters.kinds import KINDS

Code = tuple[int, int]

DEFAULT_VENDOR: Final = "hikvision"

# PROTOCOLS.md 3, one row per line of the specification table.
HIKVISION: Final[dict[Code, str]] = {
    (5, 1): "door.access_granted",  # valid card
    (5, 6): "door.access_denied",  # card without permission
    (5, 9): "door.access_denied",  # invalid card
    (5, 25): "door.opened",  # door opened normally
    (5, 26): "door.closed",  # door closed
    (5, 27): "door.forced_open",  # door forced open
    (5, 28): "door.held_open",  # door held open too long
    (5, 23): "door.exit_button",  # exit button
    (5, 75): "door.access_granted",  # face verified
    (5, 76): "door.access_denied",  # face verification failed
    (1, 0x40A): "door.duress",  # duress (stress) alarm
    (1, 0x404): "device.tamper",  # controller tamper
    (1, 0x406): "device.tamper",  # card-reader tamper
    (2, 0x403): "device.low_battery",  # low battery
    (2, 0x405): "device.power_cut",  # mains power off
}

# Values a code implies beyond its kind (string values only, merged into the event).
HIKVISION_CODE_VALUES: Final[dict[Code, dict[str, str]]] = {
    (5, 1): {"method": "card"},
    (5, 6): {"method": "card", "reason": "no_permission"},
    (5, 9): {"method": "card", "reason": "invalid_card"},
    (5, 75): {"method": "face"},
    (5, 76): {"method": "face", "reason": "face_not_verified"},
    (5, 23): {"method": "exit_button"},
    (1, 0x404): {"tamper": "controller"},
    (1, 0x406): {"tamper": "card_reader"},
}


def with_overrides(
    base: Mapping[Code, str],
    overrides: Mapping[Code, str | None],
) -> dict[Code, str]:
    """A copy of ``base`` with rows replaced, added, or removed (value ``None``)."""
    table = dict(base)
    for code, kind in overrides.items():
        if kind is None:
            table.pop(code, None)
        else:
            table[code] = kind
    return table


# ILLUSTRATIVE ONLY (see the module docstring): a firmware that reports the exit button
# as (5, 22), has no face reader, and reports a low backup battery as (2, 0x404).
EXAMPLE_OEM: Final[dict[Code, str]] = with_overrides(
    HIKVISION,
    {
        (5, 23): None,
        (5, 22): "door.exit_button",
        (5, 75): None,
        (5, 76): None,
        (2, 0x403): None,
        (2, 0x404): "device.low_battery",
    },
)
EXAMPLE_OEM_CODE_VALUES: Final[dict[Code, dict[str, str]]] = {
    **{code: v for code, v in HIKVISION_CODE_VALUES.items() if code in EXAMPLE_OEM},
    (5, 22): {"method": "exit_button"},
}

VENDOR_TABLES: dict[str, dict[Code, str]] = {
    DEFAULT_VENDOR: HIKVISION,
    "example_oem": EXAMPLE_OEM,
}
VENDOR_CODE_VALUES: dict[str, dict[Code, dict[str, str]]] = {
    DEFAULT_VENDOR: HIKVISION_CODE_VALUES,
    "example_oem": EXAMPLE_OEM_CODE_VALUES,
}


def check_table(table: Mapping[Code, str]) -> None:
    """Raise ValueError if a row names a kind that is not in the shared vocabulary."""
    unknown = sorted({kind for kind in table.values() if kind not in KINDS})
    if unknown:
        raise ValueError(f"event code table names unknown kinds: {', '.join(unknown)}")


for _table in VENDOR_TABLES.values():
    check_table(_table)
