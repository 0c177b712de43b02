"""The hub's refusals are mapped to HTTP in one place: a route that lets one through
answers with its status and sentence, and no route needs its own except clauses."""

from __future__ import annotations

import httpx
import pytest

from api.app import create_app
from api.state import ApiContext
from hub.errors import Conflict, Forbidden, HubError, InvalidInput, NotFound
from hub.settings import Settings
from hub.storage.db import Database


@pytest.mark.parametrize(
    ("refusal", "status", "detail"),
    [
        (NotFound("no ticket 7 visible to you"), 404, "no ticket 7 visible to you"),
        (Forbidden("role volunteer may not close tickets"), 403, None),
        (Conflict("the ticket was changed meanwhile"), 409, None),
        (
            InvalidInput("minutes", "at most 240", where="body"),
            422,
            [{"type": "value_error", "loc": ["body", "minutes"], "msg": "at most 240"}],
        ),
    ],
)
async def test_each_kind_of_refusal_has_its_status_and_reason(
    api_db: Database, refusal: HubError, status: int, detail: object
) -> None:
    app = create_app(ApiContext(db=api_db, settings=Settings()))

    @app.get("/test/refuse")
    async def refuse() -> None:
        raise refusal

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        answer = await client.get("/test/refuse")
    assert answer.status_code == status
    assert answer.json() == {"detail": detail if detail is not None else str(refusal)}


def test_domain_refusals_belong_to_the_family() -> None:
    from hub.alerts.service import AlertNotFound, AlertStateConflict
    from hub.chargers.reservations import ReservationConflict, ReservationNotFound
    from hub.duty.service import InvalidRotaInput, RotaForbidden
    from hub.tickets.service import TicketNotVisible
    from hub.tickets.workflow import IllegalTransition

    assert issubclass(AlertNotFound, NotFound) and issubclass(TicketNotVisible, NotFound)
    assert issubclass(ReservationNotFound, NotFound) and issubclass(RotaForbidden, Forbidden)
    assert issubclass(AlertStateConflict, Conflict) and issubclass(ReservationConflict, Conflict)
    assert issubclass(IllegalTransition, Conflict) and issubclass(InvalidRotaInput, InvalidInput)
    # Still the builtin kinds older callers catch.
    assert issubclass(TicketNotVisible, LookupError) and issubclass(InvalidRotaInput, ValueError)


async def test_a_refusal_is_said_in_the_readers_language_with_local_times(
    api_db: Database,
) -> None:
    """A refusal made of a catalog message and its values is said per reader: the
    community's language by default (Chinese), the browser's if it asks; a time in the
    community's zone (2030-01-02 03:04 UTC is 11:04 in Asia/Shanghai)."""
    from datetime import UTC, datetime

    app = create_app(ApiContext(db=api_db, settings=Settings()))

    @app.get("/test/refuse")
    async def refuse() -> None:
        raise InvalidInput(
            "new_due_at",
            "must be later than the current resolve-by time, %(time)s",
            time=datetime(2030, 1, 2, 3, 4, tzinfo=UTC),
        )

    @app.get("/test/missing")
    async def missing() -> None:
        raise NotFound("no ticket %(id)s visible to you", id=7)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        chinese = await client.get("/test/refuse")
        english = await client.get("/test/refuse", headers={"Accept-Language": "en"})
        missing_zh = await client.get("/test/missing")
        client.cookies.set("chub_lang", "en")  # the pages' language switch, before a login
        missing_en = await client.get("/test/missing")
    assert chinese.json()["detail"] == [
        {
            "type": "value_error",
            "loc": ["body", "new_due_at"],
            "msg": "必须晚于当前的办结期限 2030年1月2日 11:04",
        }
    ]
    assert english.json()["detail"][0]["msg"] == (
        "must be later than the current resolve-by time, Jan 2, 2030 11:04"
    )
    assert missing_zh.json() == {"detail": "没有您可查看的工单 7"}
    assert missing_en.json() == {"detail": "no ticket 7 visible to you"}
