"""The points ledger: awards are rows, written at most once; balances are sums.

Nothing here ever updates or deletes a row. The ledger's unique constraint
(user, ticket, reason) makes every award idempotent: a retried request, or a
second writer racing the first, inserts nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.points.models import (
    Award,
    AwardReason,
    LeaderboardRow,
    PointsAccount,
    PointsEntry,
    PointsHistory,
)
from hub.policy.document import Category, RulesDocument
from hub.schema.points import points_ledger
from hub.schema.tickets import tickets
from hub.schema.users import users
from hub.storage.upsert import insert_ignoring_duplicates
from hub.users.models import Role, UserPublic


def closure_awards(
    category: Category | None, assignee_id: int | None, co_handler_ids: Iterable[int]
) -> list[Award]:
    """On verified closure: the category's points to the assignee, co-handler points to the rest.

    An unknown category (None) is worth nothing; awards of 0 points are not written.
    """
    if category is None:
        return []
    awards: list[Award] = []
    if assignee_id is not None and category.points > 0:
        awards.append(Award(assignee_id, category.points, AwardReason.CLOSURE))
    if category.co_handler_points > 0:
        awards.extend(
            Award(user_id, category.co_handler_points, AwardReason.CO_HANDLING)
            for user_id in sorted(set(co_handler_ids))
            if user_id != assignee_id
        )
    return awards


def rating_awards(rules: RulesDocument, assignee_id: int | None, score: int) -> list[Award]:
    """The resident's score earns the assignee the bonus the community set for it (maybe none)."""
    bonus = rules.points_for_rating.get(str(score), 0)
    if assignee_id is None or bonus <= 0:
        return []
    return [Award(assignee_id, bonus, AwardReason.RATING)]


async def record(
    conn: AsyncConnection,
    ticket_id: int,
    awards: Sequence[Award],
    *,
    at: datetime,
    note: str = "",
    created_by: int | None = None,
) -> list[Award]:
    """Write awards for a ticket; returns those that were new (the others were paid before)."""
    if not awards:
        return []
    # Inside the caller's write transaction, so what was there is still there at the insert;
    # the unique constraint still guards against any other writer.
    paid = {
        (int(r.user_id), str(r.reason))
        for r in await conn.execute(
            sa.select(points_ledger.c.user_id, points_ledger.c.reason).where(
                points_ledger.c.ticket_id == ticket_id
            )
        )
    }
    new = [a for a in awards if (a.user_id, a.reason.value) not in paid]
    await insert_ignoring_duplicates(
        conn,
        points_ledger,
        [
            {
                "user_id": a.user_id,
                "ticket_id": ticket_id,
                "points": a.points,
                "reason": a.reason.value,
                "note": note[:300],
                "at": at,
                "created_by": created_by,
            }
            for a in new
        ],
    )
    return new


async def balance(conn: AsyncConnection, user_id: int) -> int:
    total = (
        await conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(points_ledger.c.points), 0)).where(
                points_ledger.c.user_id == user_id
            )
        )
    ).scalar_one()
    return int(total)


async def history(
    conn: AsyncConnection, user_id: int, *, limit: int, offset: int, language: str | None = None
) -> PointsHistory:
    """``language``: the reader's, for the tickets' titles (None: as stored)."""
    total = (
        await conn.execute(
            sa.select(sa.func.count())
            .select_from(points_ledger)
            .where(points_ledger.c.user_id == user_id)
        )
    ).scalar_one()
    rows = await conn.execute(
        sa.select(
            points_ledger.c.ticket_id,
            tickets.c.title.label("ticket_title"),
            tickets.c.titles.label("ticket_titles"),
            points_ledger.c.reason,
            points_ledger.c.points,
            points_ledger.c.note,
            points_ledger.c.at,
        )
        .select_from(points_ledger.outerjoin(tickets, tickets.c.id == points_ledger.c.ticket_id))
        .where(points_ledger.c.user_id == user_id)
        .order_by(points_ledger.c.at.desc(), points_ledger.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return PointsHistory(
        items=[
            PointsEntry(
                ticket_id=r.ticket_id,
                ticket_title=(r.ticket_titles or {}).get(language or "") or r.ticket_title,
                reason=r.reason,
                points=r.points,
                note=r.note,
                at=r.at,
            )
            for r in rows
        ],
        total=int(total),
        limit=limit,
        offset=offset,
    )


async def account(
    conn: AsyncConnection,
    user: UserPublic,
    community_id: int | None,
    *,
    limit: int,
    offset: int,
    language: str | None = None,
) -> PointsAccount:
    return PointsAccount(
        user_id=user.id,
        full_name=user.full_name,
        role=user.role,
        community_id=community_id,
        balance=await balance(conn, user.id),
        history=await history(conn, user.id, limit=limit, offset=offset, language=language),
    )


async def leaderboard(
    conn: AsyncConnection, community_id: int | None, since: datetime | None, *, limit: int
) -> list[LeaderboardRow]:
    """People of a community (None: everywhere) by points earned since a moment (None: ever)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if community_id is not None:
        conditions.append(users.c.community_id == community_id)
    if since is not None:
        conditions.append(points_ledger.c.at >= since)
    earned = sa.func.sum(points_ledger.c.points).label("points")
    rows = await conn.execute(
        sa.select(
            users.c.id,
            users.c.full_name,
            users.c.role,
            earned,
            sa.func.count(points_ledger.c.id).label("awards"),
        )
        .select_from(points_ledger.join(users, users.c.id == points_ledger.c.user_id))
        .where(*conditions)
        .group_by(users.c.id, users.c.full_name, users.c.role)
        .order_by(earned.desc(), users.c.id)
        .limit(limit)
    )
    board: list[LeaderboardRow] = []
    for position, r in enumerate(rows, start=1):
        points = int(r.points)
        # Ties share a rank (1, 1, 3): the rank of the first row with these points.
        rank = board[-1].rank if board and board[-1].points == points else position
        board.append(
            LeaderboardRow(
                rank=rank,
                user_id=int(r.id),
                full_name=r.full_name,
                role=Role(r.role),
                points=points,
                awards=int(r.awards),
            )
        )
    return board
