"""Reading and replacing a community's rules document.

A community without a stored document runs the shipped defaults
(``default_rules.json``). Validated documents are cached by (community,
version), so the ingest path pays one small SELECT per batch, not a
validation. The cache is per process while a (community, version) pair is only
unique per database (two test databases, two stores in one process, a rolled
back replacement), so a cached document is used only if the stored one is equal
to it.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import Conflict
from hub.i18n.catalogs import N_
from hub.policy.document import STORED, RulesDocument
from hub.schema.rules import community_rules

_parsed: dict[tuple[int, int], tuple[object, RulesDocument]] = {}


@cache
def default_rules() -> RulesDocument:
    text = resources.files("hub.policy").joinpath("default_rules.json").read_text("utf-8")
    return RulesDocument.model_validate(json.loads(text))


async def rules_for(conn: AsyncConnection, community_id: int | None) -> RulesDocument:
    if community_id is None:
        return default_rules()
    row = (
        await conn.execute(
            sa.select(community_rules.c.version, community_rules.c.document).where(
                community_rules.c.community_id == community_id
            )
        )
    ).first()
    if row is None:
        return default_rules()
    key = (community_id, int(row.version))
    cached = _parsed.get(key)
    if cached is not None and cached[0] == row.document:
        return cached[1]
    # Stored: checks added since it was saved must not stop this community's alarms.
    doc = RulesDocument.model_validate(row.document, context={STORED: True})
    _parsed[key] = (row.document, doc)
    return doc


async def stored_version(conn: AsyncConnection, community_id: int) -> int:
    """0 while the community runs the defaults."""
    version = (
        await conn.execute(
            sa.select(community_rules.c.version).where(
                community_rules.c.community_id == community_id
            )
        )
    ).scalar()
    return int(version) if version is not None else 0


class VersionConflict(Conflict):
    """The rules changed since the caller read them (409)."""


async def replace_rules(
    conn: AsyncConnection,
    community_id: int,
    document: RulesDocument,
    *,
    expected_version: int | None,
    user_id: int,
    now: datetime,
) -> int:
    """Store a validated document; returns its new version.

    ``expected_version`` (the version the editor read) guards against two
    people overwriting each other; None skips the check.
    """
    current = await stored_version(conn, community_id)
    if expected_version is not None and expected_version != current:
        raise VersionConflict(
            N_(
                "the rules changed meanwhile (version %(current)s, you edited %(edited)s); "
                "reload them and apply your change again"
            ),
            current=current,
            edited=expected_version,
        )
    body = document.model_dump(mode="json")
    if current == 0:
        await conn.execute(
            community_rules.insert().values(
                community_id=community_id,
                document=body,
                version=1,
                updated_at=now,
                updated_by=user_id,
            )
        )
        return 1
    result = await conn.execute(
        community_rules.update()
        .where(
            community_rules.c.community_id == community_id,
            community_rules.c.version == current,
        )
        .values(document=body, version=current + 1, updated_at=now, updated_by=user_id)
    )
    if result.rowcount != 1:
        raise VersionConflict(N_("the rules changed meanwhile; reload them and try again"))
    return current + 1
