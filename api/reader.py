"""Who reads an answer: their language and their community's time zone.

A person's language is their profile's choice, else the best their browser asks
for (Accept-Language), else their community's default (hub.i18n.locales.choose).
Pages opened before logging in have no profile: the ``chub_lang`` cookie, which the
pages set when a person picks a language or logs in, stands in for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from api.deps import Conn
from api.security import Authenticated
from hub.access.scope import Scope
from hub.grid.zones import community_zone
from hub.i18n import catalogs, times
from hub.i18n.locales import choose, supported
from hub.schema.grid import communities
from hub.storage.db import Database
from hub.users.models import UserPublic

LANGUAGE_COOKIE = "chub_lang"


@dataclass(frozen=True)
class Reader:
    """The language and zone of the person an answer is for."""

    language: str
    zone: ZoneInfo

    def text(self, message: str, /, **params: object) -> str:
        return catalogs.gettext(self.language, message, **params)

    def time(self, at: datetime, *, now: datetime | None = None) -> str:
        """``at`` in the community's zone, its day said relative to ``now`` (today, ...)."""
        return times.local_time(at, self.zone, self.language, now=now)

    def time_in_sentence(self, at: datetime, *, now: datetime | None = None) -> str:
        """:meth:`time` within a sentence: ``16:00 today`` / ``今天 16:00``."""
        return times.time_in_sentence(at, self.zone, self.language, now=now)

    def relative(self, delta: timedelta) -> str:
        """``5分钟后`` / ``in 5 minutes`` (negative: ago)."""
        return times.relative(delta, self.language)


def reader_for(user: UserPublic, scope: Scope, request: Request) -> Reader:
    """The reader a logged-in person is for this request."""
    language = choose(
        # ?lang= is a choice for this one answer (a report's language links).
        profile=supported(request.query_params.get("lang")) or user.locale,
        accept_language=request.headers.get("accept-language"),
        community=scope.community_locale,
    )
    return Reader(language, community_zone(scope.community_timezone))


async def _reader(request: Request, auth: Authenticated) -> Reader:
    reader = reader_for(auth[0], auth[1], request)
    request.state.reader = reader
    return reader


CurrentReader = Annotated[Reader, Depends(_reader)]


async def _first_community(conn: AsyncConnection) -> tuple[str | None, str | None]:
    # A hub serves one community, or a few of one street: before logging in, a page
    # speaks the first one's language.
    row = (
        await conn.execute(
            sa.select(communities.c.locale, communities.c.timezone)
            .order_by(communities.c.id)
            .limit(1)
        )
    ).first()
    return (row.locale, row.timezone) if row is not None else (None, None)


async def _visitor(request: Request, conn: Conn) -> Reader:
    return _visitor_from(request, *await _first_community(conn))


async def visitor_reader(request: Request, db: Database) -> Reader:
    """The visitor's reader for a route that must not hold a connection while it works
    (a login: its limiter writes at once, and parallel logins would wait on the pool);
    the community is read in a connection of its own, closed before this returns."""
    async with db.read() as conn:
        found = await _first_community(conn)
    return _visitor_from(request, *found)


def _visitor_from(request: Request, locale: str | None, zone: str | None) -> Reader:
    language = choose(
        profile=supported(request.query_params.get("lang"))
        or supported(request.cookies.get(LANGUAGE_COOKIE)),
        accept_language=request.headers.get("accept-language"),
        community=locale,
    )
    reader = Reader(language, community_zone(zone))
    request.state.reader = reader
    return reader


def request_reader(request: Request) -> Reader:
    """The reader of a request whose answer is an error: the one its route asked for,
    else the logged-in person's (api.security keeps who it is), else a visitor by their
    cookie or browser, in the default zone."""
    found = getattr(request.state, "reader", None)
    if isinstance(found, Reader):
        return found
    auth = getattr(request.state, "auth", None)
    if auth is not None:
        return reader_for(auth[0], auth[1], request)
    language = choose(
        profile=supported(request.query_params.get("lang"))
        or supported(request.cookies.get(LANGUAGE_COOKIE)),
        accept_language=request.headers.get("accept-language"),
        community=None,
    )
    return Reader(language, community_zone(None))


VisitorReader = Annotated[Reader, Depends(_visitor)]
