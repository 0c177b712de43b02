"""Which event kinds open alerts, and which of those become tickets.

Kept as data so a community can change it without code; the alarms issue
turns this into per-community, validated configuration.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlertRule:
    kind: str
    opens_ticket: bool
    ticket_category: str
    title: str  # formatted with who= and where=
    response_minutes: int
    resolve_minutes: int


ALERT_RULES: dict[str, AlertRule] = {
    rule.kind: rule
    for rule in (
        AlertRule("wristband.sos", True, "elderly_sos", "SOS: {who} at {where}", 5, 60),
        AlertRule("wristband.fall", True, "elderly_fall", "Fall detected: {who} at {where}", 5, 60),
    )
}
