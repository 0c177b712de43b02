"""Who a rule's or an escalation step's target means, for one grid and resident, right now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.duty.service import on_duty
from hub.notifications.base import ExternalContact, Recipients
from hub.policy.document import RulesDocument, Target
from hub.schema.residents import family_contacts
from hub.users.models import Role

ROLE_TARGETS = {
    Target.COMMUNITY_STAFF: Role.COMMUNITY_STAFF,
    Target.PROPERTY_MANAGER: Role.PROPERTY_MANAGER,
}
_POSITIONS = {
    Target.PRIMARY: ("primary",),
    Target.BACKUP: ("backup",),
    Target.GRID_WORKER: ("grid_worker",),
    Target.ON_DUTY: ("primary", "backup", "grid_worker"),
}


@dataclass(frozen=True)
class Reach:
    recipients: Recipients
    contacts: tuple[ExternalContact, ...] = ()

    @property
    def empty(self) -> bool:
        return self.recipients.empty and not self.contacts

    def describe(self) -> str:
        people = [self.recipients.describe()] if not self.recipients.empty else []
        people += [f"{c.relation} {c.name} ({c.phone})" for c in self.contacts]
        return "; ".join(people) or "nobody"


async def on_duty_users(
    conn: AsyncConnection, grid_id: int | None, target: Target, at: datetime
) -> list[int]:
    if grid_id is None or target not in _POSITIONS:
        return []
    found: list[int] = []
    for position in _POSITIONS[target]:
        for user_id in await on_duty(conn, grid_id, at, position):
            if user_id not in found:
                found.append(user_id)
    return found


async def reach(
    conn: AsyncConnection,
    targets: list[Target],
    *,
    rules: RulesDocument,
    community_id: int | None,
    grid_id: int | None,
    resident_id: int | None,
    at: datetime,
) -> Reach:
    """Everyone the targets mean here and now (nobody on duty: an empty part)."""
    user_ids: list[int] = []
    roles: list[Role] = []
    contacts: list[ExternalContact] = []
    for target in targets:
        if target in _POSITIONS:
            user_ids += [
                u for u in await on_duty_users(conn, grid_id, target, at) if u not in user_ids
            ]
        elif target in ROLE_TARGETS and community_id is not None:
            if ROLE_TARGETS[target] not in roles:
                roles.append(ROLE_TARGETS[target])
        elif target is Target.FAMILY and resident_id is not None:
            rows = await conn.execute(
                sa.select(family_contacts)
                .where(family_contacts.c.resident_id == resident_id)
                .order_by(family_contacts.c.priority, family_contacts.c.id)
            )
            contacts += [
                ExternalContact(name=r.full_name, phone=r.phone, relation=r.relation) for r in rows
            ]
        elif target is Target.POLICE and rules.police_contact is not None:
            police = rules.police_contact
            contacts.append(
                ExternalContact(name=police.name, phone=police.phone, relation="police")
            )
    return Reach(
        Recipients(user_ids=tuple(user_ids), roles=tuple(roles), community_id=community_id),
        tuple(contacts),
    )
