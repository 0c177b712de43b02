"""Commands as people ask for them and as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from device_adapters.model import CommandKind, CommandStatus, Scalar

# Which device family and protocol each command kind applies to.
COMMAND_TARGETS: dict[str, tuple[str, frozenset[str]]] = {
    "lock.unlock": ("lock", frozenset({"z2m_lock"})),
    "lock.lock": ("lock", frozenset({"z2m_lock"})),
    "charger.remote_start": ("charger", frozenset({"ocpp16"})),
    "charger.remote_stop": ("charger", frozenset({"ocpp16"})),
    "charger.reserve": ("charger", frozenset({"ocpp16"})),
    "charger.cancel_reservation": ("charger", frozenset({"ocpp16"})),
    "charger.unlock_connector": ("charger", frozenset({"ocpp16"})),
    "ebike.start": ("charger", frozenset({"ebike"})),
    "ebike.stop": ("charger", frozenset({"ebike"})),
    # Sent from a ticket (hub/tickets/watch_commands.py), not the device route.
    "wristband.locate": ("wristband", frozenset({"watch", "iw"})),
    "wristband.call": ("wristband", frozenset({"watch", "iw"})),
    "wristband.monitor": ("wristband", frozenset({"watch"})),
    "wristband.message": ("wristband", frozenset({"watch", "iw"})),
}


class CommandCreate(BaseModel):
    kind: CommandKind
    params: dict[str, Scalar] = Field(default_factory=dict)
    ttl_s: Annotated[int, Field(ge=5, le=86_400, description="seconds the command may wait")] = 300
    reason: Annotated[
        str,
        Field(max_length=500, description="why: kept in the audit trail", validate_default=True),
    ] = ""

    @field_validator("reason")
    @classmethod
    def _unlock_needs_a_reason(cls, reason: str, info: ValidationInfo) -> str:
        if info.data.get("kind") == "lock.unlock" and not reason.strip():
            raise ValueError("a remote unlock needs a reason (it is kept in the audit trail)")
        return reason


class CommandPublic(BaseModel):
    id: UUID
    device_id: str
    gateway_id: str
    kind: str
    params: dict[str, Scalar]
    status: CommandStatus
    issued_by: int
    reason: str
    issued_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    result_at: datetime | None
    detail: str
