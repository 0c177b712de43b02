"""A person's own notification settings: GET/PUT /api/v1/auth/me/notifications.

Which channels may carry their notifications outside the open page and their quiet
hours; the rule (critical alarms ignore both) is hub/notifications/preferences.py's.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator, model_validator

from api.deps import Context
from api.errors import ErrorBody
from api.security import CurrentUser
from hub.notifications.preferences import CHOOSABLE, clock, preferences_of, save

router = APIRouter(prefix="/api/v1/auth/me", tags=["auth"])


class QuietHours(BaseModel):
    start: str = Field(description='local time of day "HH:MM" in the community\'s zone')
    end: str = Field(description='"HH:MM"; before the start: the quiet runs past midnight')

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        clock(value)  # ValueError: "not a time of day HH:MM"
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are the same time")
        return self


class NotificationSettings(BaseModel):
    channels_off: list[str] = Field(
        default_factory=list,
        max_length=len(CHOOSABLE),
        description=f"channels not to use for this person: any of {', '.join(CHOOSABLE)}",
    )
    quiet_hours: QuietHours | None = Field(
        default=None, description="no notifications but critical alarms in these hours"
    )
    critical_always: bool = Field(
        default=True,
        description="always true: an SOS, a fall or a fire reaches every channel, any hour",
    )

    @field_validator("channels_off")
    @classmethod
    def _known(cls, channels: list[str]) -> list[str]:
        unknown = [c for c in channels if c not in CHOOSABLE]
        if unknown:
            raise ValueError(f"unknown channel {unknown[0]!r}; use {', '.join(CHOOSABLE)}")
        return sorted(set(channels))


@router.get("/notifications")
async def my_notification_settings(user: CurrentUser, ctx: Context) -> NotificationSettings:
    """How you are reached when the inbox is closed."""
    async with ctx.db.read() as conn:
        found = (await preferences_of(conn, [user.id]))[user.id]
    quiet = (
        QuietHours(start=f"{found.quiet_start:%H:%M}", end=f"{found.quiet_end:%H:%M}")
        if found.quiet_start and found.quiet_end
        else None
    )
    return NotificationSettings(channels_off=sorted(found.channels_off), quiet_hours=quiet)


@router.put("/notifications", responses={422: {"model": ErrorBody}})
async def set_my_notification_settings(
    body: NotificationSettings, user: CurrentUser, ctx: Context
) -> NotificationSettings:
    """Choose the channels and quiet hours for your notifications. Critical alarms (SOS,
    fall, fire) still reach you on every channel at any hour."""
    quiet = (body.quiet_hours.start, body.quiet_hours.end) if body.quiet_hours else None
    async with ctx.db.write() as conn:
        await save(conn, user.id, body.channels_off, quiet, datetime.now(UTC))
    return body.model_copy(update={"critical_always": True})
