"""Wake a process's outbox relay the moment any process commits a notification.

On PostgreSQL, :func:`hub.notifications.outbox.enqueue` sends ``NOTIFY chub_outbox``
in the storing transaction; here one dedicated connection ``LISTEN``s and pokes
the relay, so an SOS committed by the hub process reaches a volunteer's stream
held by an API worker (or another hub) within milliseconds, not a poll later.
The relay still polls: a notification sent while this connection was down is
found by the next poll, and the connection is made again.

SQLite has no such signal between processes: there the relay's poll interval is
the bound (``HUB_API_LIVE_POLL_S`` in API workers, docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

from hub.notifications.outbox import WAKEUP_CHANNEL

log = logging.getLogger(__name__)

_RETRY_FIRST_S = 1.0
_RETRY_MAX_S = 30.0


def listens(database_url: str) -> bool:
    """Whether this store can wake other processes (PostgreSQL can, SQLite cannot)."""
    return make_url(database_url).get_backend_name() == "postgresql"


def _asyncpg_dsn(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _setter(event: asyncio.Event) -> Callable[..., None]:
    def set_it(*_args: Any) -> None:
        event.set()

    return set_it


async def listen_for_notifications(database_url: str, poke: Callable[[], None]) -> None:
    """Call ``poke`` for every committed notification, until cancelled.

    Runs forever, reconnecting with back-off; on each (re)connect it pokes once,
    since a notification may have been committed while it was away.
    """
    import asyncpg  # type: ignore[import-untyped]  # only with the postgres extra

    dsn = _asyncpg_dsn(database_url)
    delay = _RETRY_FIRST_S

    def on_notify(*_args: Any) -> None:
        poke()

    while True:
        connection: Any = None
        try:
            connection = await asyncpg.connect(dsn)
            lost = asyncio.Event()
            connection.add_termination_listener(_setter(lost))
            await connection.add_listener(WAKEUP_CHANNEL, on_notify)
            delay = _RETRY_FIRST_S
            poke()
            await lost.wait()
            log.warning("outbox wake-up connection lost; reconnecting")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database restarting; the poll covers meanwhile
            log.warning("outbox wake-up: %s; retrying in %.0f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), 2)
