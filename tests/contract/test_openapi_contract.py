"""The API keeps the contract its OpenAPI document states, for inputs nobody thought of.

Schemathesis generates requests from /openapi.json (valid and invalid ones) and
sends them, logged in as community staff, a volunteer and a resident in turn (the
roles whose scopes differ most), to the app running on uvicorn over a seeded SQLite
file. Every answer must be a documented 2xx/4xx, never a server error, and match the
response schema. The live stream is left out: it never ends.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from api.app import create_app
from api.state import ApiContext
from community_hub_tools.broker.mosquitto import free_port
from community_hub_tools.demo.seed import DEMO_PASSWORD
from hub.notifications.base import NotificationHub
from hub.settings import Settings
from hub.storage.db import Database
from tests.support.hubdata import open_seeded_db

pytestmark = pytest.mark.e2e


class _Server:
    def __init__(self, db_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = db_dir
        self._ready = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            db: Database = await open_seeded_db(self._dir)
            # Its own data directory: GET /api/v1/push/key makes the hub's VAPID key there.
            settings = Settings(data_dir=self._dir)
            app = create_app(ApiContext(db=db, settings=settings, notifier=NotificationHub([])))
            config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
            self._server = uvicorn.Server(config)
            serving = asyncio.create_task(self._server.serve())
            for _ in range(600):  # uvicorn says when it listens by a flag, not an event
                if self._server.started:
                    self._ready.set()
                    break
                await asyncio.sleep(0.05)
            await serving
            await db.close()

        asyncio.run(main())

    def __enter__(self) -> _Server:
        self._thread.start()
        assert self._ready.wait(30), "the API did not start"
        return self

    def __exit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(15)


@pytest.fixture(scope="module")
def running_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    with _Server(tmp_path_factory.mktemp("contract")) as server:
        yield server


def _schema_as(api: _Server, username: str) -> OpenApiSchema:
    token = httpx.post(
        f"{api.url}/api/v1/auth/token",
        data={"username": username, "password": DEMO_PASSWORD},
    ).json()["access_token"]
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    schema.config.headers = {"Authorization": f"Bearer {token}"}
    return schema.exclude(path="/api/v1/notifications/stream")


# Staff reach the most code; a volunteer (vol.wang, on duty all day) and a resident
# take the 403s and empty scopes, with fewer examples to keep the run time modest.
ROLES = [("staff", 25), ("vol.wang", 8), ("resident.sun", 8)]


@pytest.mark.parametrize(("username", "examples"), ROLES, ids=[r[0] for r in ROLES])
def test_every_operation_keeps_its_contract(
    running_api: _Server, username: str, examples: int
) -> None:
    api_schema = _schema_as(running_api, username)
    # One Hypothesis run per operation, all failures reported together (schemathesis'
    # own pytest integration does not load under this pytest version).
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,  # the same cases on every run: CI stays reproducible
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            # Random ids name rows that do not exist, so a valid request may rightly get
            # 404 or 409: "valid input must be accepted" does not hold for this API.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # listed, then the test fails
            failures.append(f"{operation.label}: {exc}"[:3000])
    for failure in failures:
        print(failure, end="\n\n")
    assert operations > 30, f"only {operations} operations in the schema"
    assert not failures, f"{len(failures)} operations broke the contract:\n\n" + "\n\n".join(
        failures
    )
