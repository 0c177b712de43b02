"""Commands: create (checked against the device), track, expire, take results."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import (
    FINAL_COMMAND_STATUSES,
    CommandResult,
    CommandStatus,
    DeviceCommand,
)
from hub.commands.models import COMMAND_TARGETS, CommandCreate, CommandPublic
from hub.errors import Conflict
from hub.i18n.catalogs import N_
from hub.schema.commands import device_commands
from hub.schema.devices import devices

_FINAL = tuple(s.value for s in FINAL_COMMAND_STATUSES)


class CommandRefused(Conflict, ValueError):
    """A command that cannot be sent to this device (the reason is for the person)."""


def to_wire(command: CommandPublic) -> DeviceCommand:
    return DeviceCommand(
        command_id=command.id,
        device_id=command.device_id,
        gateway_id=command.gateway_id,
        kind=command.kind,  # a CommandKind: checked on creation
        params=command.params,
        issued_at=command.issued_at,
        expires_at=command.expires_at,
    )


async def create(
    conn: AsyncConnection, device_id: str, request: CommandCreate, issued_by: int, now: datetime
) -> CommandPublic:
    row = (
        await conn.execute(
            sa.select(
                devices.c.family, devices.c.protocol, devices.c.registered, devices.c.gateway_id
            ).where(devices.c.id == device_id)
        )
    ).first()
    if row is None:
        raise LookupError(device_id)
    if not row.registered:
        # Whoever answers for an unregistered id is unknown: commands go to registered devices.
        raise CommandRefused(N_("this device is not registered; register it before commanding it"))
    family, protocols = COMMAND_TARGETS[request.kind]
    if row.family != family or row.protocol not in protocols:
        raise CommandRefused(
            N_("%(kind)s does not apply to a %(family)s speaking %(protocol)s"),
            kind=request.kind,
            family=row.family,
            protocol=row.protocol,
        )
    if row.gateway_id is None:
        raise CommandRefused(N_("no gateway has heard from this device yet, so none can reach it"))
    values = {
        "id": uuid.uuid4(),
        "device_id": device_id,
        "gateway_id": row.gateway_id,
        "kind": request.kind,
        "params": request.params,
        "status": CommandStatus.PENDING.value,
        "issued_by": issued_by,
        "reason": request.reason,
        "issued_at": now,
        "expires_at": now + timedelta(seconds=request.ttl_s),
        "sent_at": None,
        "result_at": None,
        "detail": "",
    }
    await conn.execute(device_commands.insert().values(values))
    return CommandPublic.model_validate(values)


async def get(conn: AsyncConnection, command_id: uuid.UUID) -> CommandPublic | None:
    row = (
        await conn.execute(sa.select(device_commands).where(device_commands.c.id == command_id))
    ).first()
    return CommandPublic.model_validate(dict(row._mapping)) if row else None


async def list_for_device(
    conn: AsyncConnection, device_id: str, limit: int, offset: int
) -> tuple[list[CommandPublic], int]:
    where = device_commands.c.device_id == device_id
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(device_commands).where(where))
    ).scalar_one()
    rows = await conn.execute(
        sa.select(device_commands)
        .where(where)
        .order_by(device_commands.c.issued_at.desc())
        .limit(limit)
        .offset(offset)
    )
    return [CommandPublic.model_validate(dict(r._mapping)) for r in rows], int(total)


async def mark_sent(conn: AsyncConnection, command_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        device_commands.update()
        .where(
            device_commands.c.id == command_id,
            device_commands.c.status == CommandStatus.PENDING.value,
        )
        .values(status=CommandStatus.SENT.value, sent_at=at)
    )


async def unsent(conn: AsyncConnection, now: datetime) -> list[CommandPublic]:
    """Commands stored but not yet on the broker, still within their time to live."""
    rows = await conn.execute(
        sa.select(device_commands)
        .where(
            device_commands.c.status == CommandStatus.PENDING.value,
            device_commands.c.expires_at > now,
        )
        .order_by(device_commands.c.issued_at)
    )
    return [CommandPublic.model_validate(dict(r._mapping)) for r in rows]


async def expire_unsent(conn: AsyncConnection, now: datetime) -> int:
    """Commands that never left the hub before their time to live ran out.

    A command already with the edge is the edge's to expire or time out; it
    reports that back.
    """
    result = await conn.execute(
        device_commands.update()
        .where(
            device_commands.c.status == CommandStatus.PENDING.value,
            device_commands.c.expires_at <= now,
        )
        .values(
            status=CommandStatus.EXPIRED.value,
            result_at=now,
            detail="expired before it could be sent to the gateway",
        )
    )
    return result.rowcount


async def apply_results(
    conn: AsyncConnection, results: Sequence[tuple[str, CommandResult]]
) -> tuple[int, list[tuple[str, CommandResult, str]]]:
    """Record what the edge reports; a final status is never overwritten.

    A result is accepted only from the gateway the command was sent to, about the
    device it was sent to. Returns how many commands changed, and the results
    refused, each with its gateway and the reason.
    """
    changed = 0
    refused: list[tuple[str, CommandResult, str]] = []
    for gateway, result in results:
        sent_to = (
            await conn.execute(
                sa.select(device_commands.c.gateway_id, device_commands.c.device_id).where(
                    device_commands.c.id == result.command_id
                )
            )
        ).first()
        if sent_to is None:
            refused.append((gateway, result, f"no command {result.command_id}"))
            continue
        if (sent_to.gateway_id, sent_to.device_id) != (gateway, result.device_id):
            refused.append(
                (
                    gateway,
                    result,
                    f"command {result.command_id} went to {sent_to.device_id} through gateway "
                    f"{sent_to.gateway_id!r}, not {result.device_id} through {gateway!r}",
                )
            )
            continue
        update = await conn.execute(
            device_commands.update()
            .where(
                device_commands.c.id == result.command_id,
                device_commands.c.status.not_in(_FINAL),
            )
            .values(status=result.status.value, detail=result.detail, result_at=result.at)
        )
        changed += update.rowcount
    return changed, refused
