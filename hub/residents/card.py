"""What a person handling a ticket may know of the resident it concerns.

Name, phone, home address and family contacts: enough to reach and help them.
Nothing of their health history, birth year or signs of life: a volunteer sees
the alarm on the ticket, not the record behind it.
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.schema.grid import buildings, households
from hub.schema.residents import family_contacts, residents


class ContactCard(BaseModel):
    full_name: str
    relation: str
    phone: str


class ResidentCard(BaseModel):
    resident_id: int
    full_name: str
    phone: str | None
    address: str
    building: str
    unit: str
    contacts: list[ContactCard]


async def resident_card(conn: AsyncConnection, resident_id: int) -> ResidentCard | None:
    row = (
        await conn.execute(
            sa.select(
                residents.c.id,
                residents.c.full_name,
                residents.c.phone,
                households.c.address,
                households.c.unit,
                buildings.c.name.label("building"),
            )
            .select_from(
                residents.join(households, households.c.id == residents.c.household_id).join(
                    buildings, buildings.c.id == households.c.building_id
                )
            )
            .where(residents.c.id == resident_id)
        )
    ).first()
    if row is None:
        return None
    contacts = await conn.execute(
        sa.select(family_contacts.c.full_name, family_contacts.c.relation, family_contacts.c.phone)
        .where(family_contacts.c.resident_id == resident_id)
        .order_by(family_contacts.c.priority, family_contacts.c.id)
    )
    return ResidentCard(
        resident_id=row.id,
        full_name=row.full_name,
        phone=row.phone,
        address=row.address,
        building=row.building,
        unit=row.unit,
        contacts=[
            ContactCard(full_name=c.full_name, relation=c.relation, phone=c.phone) for c in contacts
        ],
    )
