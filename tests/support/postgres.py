"""A real PostgreSQL for tests: a fresh database per test on whichever server is at hand.

Where the server comes from, in order:
1. ``HUB_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres@db:5432/postgres``), an
   account that may CREATE DATABASE;
2. a server already listening on 127.0.0.1:5432 (user ``postgres``, trust auth);
3. a private cluster started from Debian's binaries
   (``/usr/lib/postgresql/*/bin/initdb`` and ``pg_ctl``) on a free port in a temp
   directory, stopped at the end of the session.

None of them: the test is skipped, except with ``CI=true``, where that is an error
(a skipped store test would hide a broken PostgreSQL path).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from community_hub_tools.broker.mosquitto import free_port
from tests.support.missing import missing

INSTALL_HINT = (
    "PostgreSQL is not available: set HUB_TEST_POSTGRES_URL, run a server on "
    "127.0.0.1:5432, or install Debian's `postgresql` package (scripts/test does)"
)
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from sync code, even inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@dataclass
class PostgresServer:
    """A server the tests may create databases on; ``admin_url`` names its maintenance DB."""

    admin_url: URL
    data_dir: Path | None = None  # set for a private cluster, which we stop ourselves
    pg_ctl: str | None = None
    _owner: list[str] = field(default_factory=list)  # command prefix to run pg_ctl as
    _template: str | None = None

    def database_url(self, name: str) -> str:
        """The hub's SQLAlchemy URL (asyncpg driver) for database ``name``."""
        url = self.admin_url.set(drivername="postgresql+asyncpg", database=name)
        return url.render_as_string(hide_password=False)

    async def _admin(self, sql: str) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        url = self.admin_url.set(drivername="postgresql+asyncpg")
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                await conn.exec_driver_sql(sql)
        finally:
            await engine.dispose()

    def create_database(self, template: str | None = None) -> str:
        name = f"hub_test_{uuid.uuid4().hex[:12]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        _run(self._admin(f'CREATE DATABASE "{name}"{copy}'))
        return name

    def drop_database(self, name: str) -> None:
        # FORCE: a hub process killed by the test may leave a session behind for a moment.
        _run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    @contextmanager
    def fresh_database(self, template: str | None = None) -> Iterator[str]:
        """A new database's SQLAlchemy URL (empty, or a copy of ``template``), dropped afterwards.

        Copying a migrated and seeded template is much faster than migrating and
        seeding each test's database (the seed hashes every demo password).
        """
        name = self.create_database(template)
        try:
            yield self.database_url(name)
        finally:
            self.drop_database(name)

    def seeded_template(self) -> str:
        """A database migrated to head and seeded with the demo, made once per session."""
        if self._template is None:
            name = self.create_database()
            _run(_migrate_and_seed(self.database_url(name)))
            self._template = name
        return self._template

    def stop(self) -> None:
        if self._template is not None:
            self.drop_database(self._template)
            self._template = None
        if self.pg_ctl is None or self.data_dir is None:
            return
        subprocess.run(
            [*self._owner, self.pg_ctl, "-D", str(self.data_dir), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


async def _migrate_and_seed(url: str) -> None:
    from community_hub_tools.demo.seed import seed_demo
    from hub.storage.db import Database

    db = Database.open(url)
    try:
        await db.migrate()
        async with db.write() as conn:
            await seed_demo(conn)
    finally:
        await db.close()  # a template must have no connections when it is copied


def _server_binaries() -> tuple[str, str] | None:
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        initdb, pg_ctl = f"{bindir}/initdb", f"{bindir}/pg_ctl"
        if os.access(initdb, os.X_OK) and os.access(pg_ctl, os.X_OK):
            return initdb, pg_ctl
    return None


def _private_cluster() -> PostgresServer | None:
    binaries = _server_binaries()
    if binaries is None:
        return None
    initdb, pg_ctl = binaries
    root = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    data = root / "data"
    owner: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root; Debian's package creates a postgres user.
        os.chmod(root, 0o777)
        shutil.chown(root, "postgres")
        owner = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*owner, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -k {root} -c fsync=off"
    subprocess.run(
        [*owner, pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(root / "log"), "start"],
        check=True,
        capture_output=True,
    )
    url = make_url(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    return PostgresServer(url, data_dir=data, pg_ctl=pg_ctl, _owner=owner)


def find_server() -> PostgresServer:
    """The server for this test session; skips (or, with CI=true, fails) if there is none."""
    configured = os.environ.get("HUB_TEST_POSTGRES_URL")
    if configured:
        return PostgresServer(make_url(configured))
    default = make_url(DEFAULT_URL)
    if _reachable(str(default.host), int(default.port or 5432)):
        return PostgresServer(default)
    try:
        private = _private_cluster()
    except (OSError, subprocess.CalledProcessError) as exc:
        private = None
        reason = f"{INSTALL_HINT} (starting a private cluster failed: {exc})"
    else:
        reason = INSTALL_HINT
    if private is not None:
        return private
    missing(reason)
