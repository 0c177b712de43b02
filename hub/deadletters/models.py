"""The public shape of a dead letter (admins only)."""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, computed_field


class DeadLetterPublic(BaseModel):
    id: UUID
    received_at: datetime
    stored_at: datetime
    gateway_id: str
    source: str
    protocol: str
    device_id: str | None
    reason: str
    raw: bytes

    @computed_field  # type: ignore[prop-decorator]
    @property
    def raw_base64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def raw_text(self) -> str:
        """The bytes as text where they are text, escaped where they are not."""
        return self.raw.decode("utf-8", errors="backslashreplace")
