"""The public shape of a dead letter (admins only)."""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field, computed_field


class DeadLetterPublic(BaseModel):
    id: UUID
    received_at: datetime
    stored_at: datetime
    gateway_id: str
    source: str
    protocol: str
    device_id: str | None
    reason: str
    # Never serialised as it is: pydantic would decode the bytes as UTF-8 and fail
    # (a 500 for the whole page) on the first letter that is not text.
    raw: bytes = Field(exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def raw_base64(self) -> str:
        """The exact bytes received, standard base64."""
        return base64.b64encode(self.raw).decode("ascii")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def raw_text(self) -> str:
        """The bytes as text where they are text, escaped where they are not."""
        return self.raw.decode("utf-8", errors="backslashreplace")
