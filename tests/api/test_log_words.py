"""A ticket's log in the reader's language: the hub's own entries (opening, dispatch,
escalation, time limits, joint handling) as well as people's actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.schema.tickets import tickets
from hub.storage.db import Database
from hub.timer_kinds import timer_kinds
from hub.timers.scheduler import Scheduler
from tests.api.people import Actor, Users

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
HAN = re.compile(r"[\u4e00-\u9fff]")
# The hub's English words, which a Chinese reader's notes must not show.
ENGLISH = re.compile(r"\b(told|users?|step|community_staff|grid|alert|category|limit)\b")


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def _log(actor: Actor, ticket_id: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = await actor.client.get(f"/api/v1/tickets/{ticket_id}", headers=actor.headers | headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["log"])


async def test_the_hubs_own_log_entries_are_said_in_the_readers_language(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    ticket_id, on_duty = sos
    staff = await as_user("staff")
    helper = await as_user("vol.wang" if on_duty != "vol.wang" else "vol.zhao")
    added = await staff.client.post(
        f"/api/v1/tickets/{ticket_id}/co-handlers",
        headers=staff.headers,
        json={"user_id": await helper.id(), "note": "bring the spare key"},
    )
    assert added.status_code == 201, added.text
    # Nobody accepts: the escalation chain runs to its end and both limits pass.
    clock = _Clock(datetime.now(UTC))
    scheduler = Scheduler(api_db, lambda _note: None, kinds=timer_kinds(), clock=clock)
    for _ in range(40):
        clock.at += timedelta(hours=2)
        await scheduler.tick()
    async with api_db.read() as conn:
        row = (await conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id))).one()
    assert row.response_overdue_at is not None and row.resolve_overdue_at is not None

    chinese = await _log(staff, ticket_id, ZH)
    actions = {e["action"] for e in chinese}
    assert {"registered", "dispatched", "co_handler_added", "response_overdue"} <= actions
    assert actions & {"escalated", "escalation_exhausted", "escalation_skipped"}
    for entry in chinese:
        if entry["note"]:
            # Every note is said in Chinese (user and grid numbers, names, stay as they are).
            assert entry["note_label"] != entry["note"], entry
            assert HAN.search(entry["note_label"]), entry
            assert not ENGLISH.search(entry["note_label"]), entry
    by_action = {e["action"]: e["note_label"] for e in chinese}
    assert by_action["co_handler_added"].endswith("bring the spare key")
    assert "共同处置" in by_action["co_handler_added"]
    assert by_action["registered"].startswith("由告警")
    assert "一键求助" in by_action["registered"] or "分类" in by_action["registered"]

    english = {e["action"]: e["note_label"] for e in await _log(staff, ticket_id, EN)}
    assert english["co_handler_added"].endswith("handles it jointly: bring the spare key")
    assert english["response_overdue"].startswith("the time to accept it (")
    assert english["registered"].startswith("opened from alert ")
