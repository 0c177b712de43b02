"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from hypothesis import settings

from community_hub_tools.broker.mosquitto import PORTS_VARIABLE, port_range
from tests.support.brokers import MosquittoProcess, free_port, start_mosquitto
from tests.support.postgres import PostgresServer, find_server

if TYPE_CHECKING:
    from community_hub_tools.broker.embedded import EmbeddedBroker

# `--hypothesis-profile few`: the property tests try fewer examples (the run at the
# lowest dependency bounds, tests/contract/test_dependency_bounds.py, tests versions).
settings.register_profile("few", max_examples=10)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker (and what it starts) picks free ports from a slice
    of its own: two workers could otherwise both find a port free and both bind it."""
    worker: dict[str, object] | None = getattr(config, "workerinput", None)
    if worker is None:
        return
    index = int(str(worker["workerid"]).removeprefix("gw"))
    count = int(str(worker["workercount"]))
    # The range this run was given, so a run inside a worker's run divides that slice.
    low, high = port_range()
    size = (high - low) // count
    start = low + index % count * size
    os.environ[PORTS_VARIABLE] = f"{start}-{start + size}"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """A real Mosquitto on 127.0.0.1 (``.host``, ``.port``) with the shipped tuning.

    Function-scoped: every test gets an empty broker with its own persistence
    directory. ``.stop()``, ``.kill()`` and ``.restart()`` are available.
    Skipped when Mosquitto is not installed (an error when ``CI=true``).
    """
    broker = start_mosquitto(tmp_path / "mosquitto", free_port())
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (see tests/support/postgres.py for where it comes from)."""
    server = find_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test (asyncpg URL), dropped afterwards.

    Skipped when no PostgreSQL is available (an error when ``CI=true``).
    """
    with postgres_server.fresh_database() as url:
        yield url


@pytest_asyncio.fixture
async def embedded_broker() -> AsyncIterator[EmbeddedBroker]:
    """The demo's embedded amqtt broker (``.host``, ``.port``), on a free port.

    It runs on the test's event loop: clients in the test must not block that
    loop while they wait for the broker (use ``asyncio.to_thread`` or poll
    with ``asyncio.sleep``).
    """
    # Imported here: the demo extra (amqtt) is not needed to collect the other tests.
    from community_hub_tools.broker.embedded import EmbeddedBroker

    broker = EmbeddedBroker(host="127.0.0.1", port=free_port())
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
