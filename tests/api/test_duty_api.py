"""Volunteers and the duty rota over the API: reading in scope, changing as staff, checked
inputs, and who is on duty now."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hub.schema.users import users
from hub.storage.db import Database
from tests.api.people import Actor, Users
from tests.api.test_grid_api import Elsewhere, Home, build_elsewhere, items, load_home

ROTA = "/api/v1/duty/rota"


@pytest.fixture
async def elsewhere(api_db: Database) -> Elsewhere:
    return await build_elsewhere(api_db)


@pytest.fixture
async def home(api_db: Database) -> Home:
    return await load_home(api_db)


@pytest.fixture
async def user_ids(api_db: Database, elsewhere: Elsewhere) -> dict[str, int]:
    async with api_db.read() as conn:
        rows = await conn.execute(sa.select(users.c.username, users.c.id))
        return {str(r.username): int(r.id) for r in rows}


async def send(actor: Actor, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = await actor.client.request(method, path, headers=actor.headers, json=body)
    return response.status_code, (response.json() if response.content else None)


def line(grid_id: int, user_id: int, **changes: Any) -> dict[str, Any]:
    return {
        "grid_id": grid_id,
        "user_id": user_id,
        "position": "backup",
        "weekday": None,
        "start_minute": 0,
        "end_minute": 1440,
    } | changes


async def test_who_reads_which_rota_lines(
    as_user: Users, elsewhere: Elsewhere, home: Home, user_ids: dict[str, int]
) -> None:
    admin = await as_user("admin")
    everything = await items(admin, ROTA)
    assert elsewhere.rota_line_id in {r["id"] for r in everything}
    for username in ("staff", "manager"):
        rows = await items(await as_user(username), ROTA)
        assert {r["community_id"] for r in rows} == {home.community_id}, username
        assert len(rows) == len(everything) - 1
    wang = await as_user("vol.wang")
    own = await items(wang, ROTA)
    assert {r["user_id"] for r in own} == {user_ids["vol.wang"]} and len(own) == 1
    # Asking for someone else's lines finds none.
    assert await items(wang, ROTA, user_id=user_ids["vol.li"]) == []
    b = await as_user("staff.b")
    assert [r["id"] for r in await items(b, ROTA)] == [elsewhere.rota_line_id]
    code, body = await send(await as_user("resident.sun"), "GET", ROTA)
    assert code == 403 and body["detail"].startswith("居民无权")


async def test_rota_filters(as_user: Users, home: Home, user_ids: dict[str, int]) -> None:
    staff = await as_user("staff")
    grid1, grid2 = home.grid_ids
    backups = await items(staff, ROTA, position="backup")
    assert {(r["grid_id"], r["user_id"]) for r in backups} == {
        (grid1, user_ids["vol.zhao"]),
        (grid2, user_ids["vol.zhao"]),
    }
    primaries = await items(staff, ROTA, grid_id=grid1, position="primary")
    assert [r["full_name"] for r in primaries] == ["李娜", "陈杰"]
    code, _ = await send(staff, "GET", f"{ROTA}?position=boss")
    assert code == 422


async def test_staff_add_change_and_remove_a_line(
    as_user: Users, home: Home, user_ids: dict[str, int]
) -> None:
    staff = await as_user("staff")
    grid1, _ = home.grid_ids
    code, created = await send(staff, "POST", ROTA, line(grid1, user_ids["vol.wang"]))
    assert code == 201, created
    assert created["full_name"] == "王芳" and created["community_id"] == 1
    # Backup all day: on duty now.
    code, now = await send(staff, "GET", f"/api/v1/duty/now?grid_id={grid1}")
    assert code == 200
    assert user_ids["vol.wang"] in {p["user_id"] for p in now["backup"]}
    path = f"{ROTA}/{created['id']}"
    code, changed = await send(
        staff, "PATCH", path, {"weekday": 6, "start_minute": 1320, "end_minute": 360}
    )
    assert code == 200, changed
    assert (changed["weekday"], changed["start_minute"], changed["end_minute"]) == (6, 1320, 360)
    assert changed["position"] == "backup"  # left out: kept
    # The same line twice is a conflict.
    code, body = await send(
        staff,
        "POST",
        ROTA,
        line(grid1, user_ids["vol.wang"], weekday=6, start_minute=1320, end_minute=360),
    )
    assert code == 409 and str(created["id"]) in body["detail"]
    assert (await send(staff, "DELETE", path))[0] == 204
    assert (await send(staff, "DELETE", path))[0] == 404
    assert created["id"] not in {r["id"] for r in await items(staff, ROTA)}


async def test_rota_writes_outside_scope_are_refused(
    as_user: Users, elsewhere: Elsewhere, home: Home, user_ids: dict[str, int]
) -> None:
    grid1, _ = home.grid_ids
    ours = line(grid1, user_ids["vol.li"], position="backup")
    for username in ("manager", "vol.li", "resident.sun"):
        actor = await as_user(username)
        code, body = await send(actor, "POST", ROTA, ours)
        assert code == 403 and "社区工作人员" in body["detail"], username
        assert (await send(actor, "DELETE", f"{ROTA}/1"))[0] == 403, username
    staff = await as_user("staff")
    # A grid of another community, or a person of another community, named in the body.
    code, body = await send(staff, "POST", ROTA, line(elsewhere.grid_id, user_ids["vol.li"]))
    assert code == 422 and body["detail"][0]["loc"] == ["body", "grid_id"]
    code, body = await send(staff, "POST", ROTA, line(grid1, user_ids["vol.b"]))
    assert code == 422 and body["detail"][0]["loc"] == ["body", "user_id"]
    # Another community's line: not found, to change or remove.
    other = f"{ROTA}/{elsewhere.rota_line_id}"
    assert (await send(staff, "PATCH", other, {"weekday": 1}))[0] == 404
    assert (await send(staff, "DELETE", other))[0] == 404
    # Moving one of ours into another community's grid.
    first = (await items(staff, ROTA))[0]
    code, body = await send(staff, "PATCH", f"{ROTA}/{first['id']}", {"grid_id": elsewhere.grid_id})
    assert code == 422 and body["detail"][0]["loc"] == ["body", "grid_id"]
    # And the other way round.
    b = await as_user("staff.b")
    assert (await send(b, "DELETE", f"{ROTA}/{first['id']}"))[0] == 404
    assert first["id"] in {r["id"] for r in await items(staff, ROTA)}
    admin = await as_user("admin")
    code, _ = await send(admin, "POST", ROTA, line(elsewhere.grid_id, user_ids["staff.b"]))
    assert code == 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weekday": 7}, "weekday"),
        ({"weekday": -1}, "weekday"),
        ({"start_minute": 1440}, "start_minute"),
        ({"end_minute": 1441}, "end_minute"),
        ({"start_minute": 600, "end_minute": 600}, "body"),
        ({"position": "boss"}, "position"),
        ({"user_id": "4"}, "user_id"),
        ({"grid_id": 999999}, "grid_id"),
        ({"shift": "night"}, "shift"),
    ],
)
async def test_invalid_lines_are_refused_with_the_reason(
    as_user: Users, home: Home, user_ids: dict[str, int], changes: dict[str, Any], field: str
) -> None:
    staff = await as_user("staff")
    code, body = await send(
        staff, "POST", ROTA, line(home.grid_ids[0], user_ids["vol.wang"]) | changes
    )
    assert code == 422, body
    assert any(field in problem["loc"] for problem in body["detail"]), body


async def test_only_volunteers_and_staff_of_the_grids_community_go_on_the_rota(
    as_user: Users, home: Home, user_ids: dict[str, int]
) -> None:
    staff = await as_user("staff")
    for username in ("resident.sun", "manager", "admin"):
        code, body = await send(staff, "POST", ROTA, line(home.grid_ids[0], user_ids[username]))
        assert code == 422 and body["detail"][0]["loc"] == ["body", "user_id"], username
    code, _ = await send(staff, "POST", ROTA, line(home.grid_ids[0], user_ids["staff"]))
    assert code == 201


async def test_a_patch_is_checked_as_a_whole(as_user: Users) -> None:
    staff = await as_user("staff")
    first = (await items(staff, ROTA))[0]  # vol.li, 08:00-20:00
    path = f"{ROTA}/{first['id']}"
    code, body = await send(staff, "PATCH", path, {"end_minute": first["start_minute"]})
    assert code == 422 and body["detail"][0]["loc"] == ["body", "end_minute"]
    code, body = await send(staff, "PATCH", path, {"position": None})
    assert code == 422 and "position" in str(body["detail"])


async def test_who_is_on_duty_now(as_user: Users, elsewhere: Elsewhere, home: Home) -> None:
    grid1, grid2 = home.grid_ids
    wang = await as_user("vol.wang")
    code, now = await send(wang, "GET", f"/api/v1/duty/now?grid_id={grid2}")
    assert code == 200
    assert [p["full_name"] for p in now["primary"]] == ["王芳"]
    assert [p["full_name"] for p in now["backup"]] == ["赵磊"]
    assert [p["full_name"] for p in now["grid_worker"]] == ["黄敏"]
    # A grid they do not serve, or of another community: not found.
    assert (await send(wang, "GET", f"/api/v1/duty/now?grid_id={grid1}"))[0] == 404
    staff = await as_user("staff")
    assert (await send(staff, "GET", f"/api/v1/duty/now?grid_id={elsewhere.grid_id}"))[0] == 404
    code, now = await send(staff, "GET", f"/api/v1/duty/now?grid_id={grid1}")
    assert code == 200 and len(now["primary"]) == 1  # day or night shift, never both
    assert (await send(staff, "GET", "/api/v1/duty/now"))[0] == 422
    resident = await as_user("resident.sun")
    assert (await send(resident, "GET", f"/api/v1/duty/now?grid_id={grid1}"))[0] == 403


async def test_volunteers_with_the_grids_they_serve(
    as_user: Users, elsewhere: Elsewhere, home: Home
) -> None:
    grid1, grid2 = home.grid_ids
    demo = {"vol.li", "vol.chen", "vol.wang", "vol.zhao"}
    for username in ("staff", "manager"):
        rows = await items(await as_user(username), "/api/v1/volunteers")
        assert {r["username"] for r in rows} == demo, username
    staff = await as_user("staff")
    by_name = {r["username"]: r for r in await items(staff, "/api/v1/volunteers")}
    assert [(g["grid_id"], g["positions"]) for g in by_name["vol.zhao"]["grids"]] == [
        (grid1, ["backup"]),
        (grid2, ["backup"]),
    ]
    on_grid2 = await items(staff, "/api/v1/volunteers", grid_id=grid2)
    assert {r["username"] for r in on_grid2} == {"vol.wang", "vol.zhao"}
    assert await items(staff, "/api/v1/volunteers", grid_id=elsewhere.grid_id) == []
    assert await items(staff, "/api/v1/volunteers", community_id=elsewhere.community_id) == []
    b = await as_user("staff.b")
    assert {r["username"] for r in await items(b, "/api/v1/volunteers")} == {"vol.b"}
    admin = await as_user("admin")
    assert {r["username"] for r in await items(admin, "/api/v1/volunteers")} == demo | {"vol.b"}
    for username in ("vol.li", "resident.sun"):
        code, _ = await send(await as_user(username), "GET", "/api/v1/volunteers")
        assert code == 403, username
