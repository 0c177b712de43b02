"""The grid over the API: every role sees its own part and cannot reach across.

Beside the demo community (grids 1 and 2; vol.li serves grid 1, vol.wang grid 2) the
tests build a second community, "Elsewhere", with its own grid, building, household,
residents, staff, manager, volunteer and resident (``build_elsewhere``; the resident and
duty tests use it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from community_hub_tools.demo.seed import DEMO_PASSWORD
from hub.schema.duty import duty_rota
from hub.schema.grid import buildings, communities, grids, households, streets
from hub.schema.residents import family_contacts, residents
from hub.storage.db import Database
from hub.users.models import Role
from hub.users.service import create_user
from tests.api.people import Actor, Users


@dataclass(frozen=True)
class Elsewhere:
    """The second community's rows (usernames: staff.b, manager.b, vol.b, resident.b)."""

    community_id: int
    grid_id: int
    building_id: int
    household_id: int
    elderly_id: int  # an elderly resident living alone, with a family contact
    member_id: int  # the resident.b user's own resident row, same household
    contact_id: int
    rota_line_id: int  # vol.b, primary, all day


async def _insert(conn: AsyncConnection, table: sa.Table, **values: object) -> int:
    result = await conn.execute(table.insert().values(**values))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


async def build_elsewhere(db: Database) -> Elsewhere:
    async with db.write() as conn:
        street = await _insert(conn, streets, name="Elsewhere Street")
        community = await _insert(
            conn, communities, street_id=street, name="Elsewhere", timezone="UTC"
        )
        grid = await _insert(conn, grids, community_id=community, name="Grid E")
        building = await _insert(conn, buildings, grid_id=grid, name="Building E")
        household = await _insert(
            conn, households, building_id=building, unit="E1", address="Elsewhere, E1"
        )
        elderly = await _insert(
            conn,
            residents,
            household_id=household,
            full_name="Ma Elsewhere",
            phone="13900000999",
            birth_year=1940,
            is_elderly=True,
            lives_alone=True,
        )
        member = await _insert(
            conn, residents, household_id=household, full_name="Ma Junior", birth_year=1980
        )
        contact = await _insert(
            conn,
            family_contacts,
            resident_id=elderly,
            full_name="Ma Son",
            relation="child",
            phone="13700000999",
            priority=1,
        )
        ids: dict[str, int] = {}
        for username, role in (
            ("staff.b", Role.COMMUNITY_STAFF),
            ("manager.b", Role.PROPERTY_MANAGER),
            ("vol.b", Role.VOLUNTEER),
        ):
            ids[username] = await create_user(
                conn,
                username=username,
                password=DEMO_PASSWORD,
                full_name=username,
                role=role,
                community_id=community,
            )
        await create_user(
            conn,
            username="resident.b",
            password=DEMO_PASSWORD,
            full_name="Ma Junior",
            role=Role.RESIDENT,
            resident_id=member,
        )
        line = await _insert(
            conn,
            duty_rota,
            grid_id=grid,
            user_id=ids["vol.b"],
            position="primary",
            weekday=None,
            start_minute=0,
            end_minute=1440,
        )
    return Elsewhere(community, grid, building, household, elderly, member, contact, line)


@dataclass(frozen=True)
class Home:
    """The demo community's ids, looked up by name rather than assumed."""

    community_id: int
    grid_ids: tuple[int, int]
    building_ids: tuple[int, ...]  # buildings 1-4 (1-2 in grid 1, 3-4 in grid 2)
    household_of: dict[str, int]  # by resident name prefix


async def load_home(db: Database) -> Home:
    async with db.read() as conn:
        community = (
            await conn.execute(sa.select(communities.c.id).order_by(communities.c.id).limit(1))
        ).scalar_one()
        grid_ids = [
            int(r.id)
            for r in await conn.execute(
                sa.select(grids.c.id).where(grids.c.community_id == community).order_by(grids.c.id)
            )
        ]
        building_ids = tuple(
            int(r.id)
            for r in await conn.execute(
                sa.select(buildings.c.id)
                .where(buildings.c.grid_id.in_(grid_ids))
                .order_by(buildings.c.id)
            )
        )
        household_of = {
            str(r.full_name): int(r.household_id)
            for r in await conn.execute(
                sa.select(residents.c.full_name, residents.c.household_id)
                .join(households, households.c.id == residents.c.household_id)
                .where(households.c.building_id.in_(building_ids))
            )
        }
    assert len(grid_ids) == 2 and len(building_ids) == 4
    return Home(int(community), (grid_ids[0], grid_ids[1]), building_ids, household_of)


@pytest.fixture
async def elsewhere(api_db: Database) -> Elsewhere:
    return await build_elsewhere(api_db)


@pytest.fixture
async def home(api_db: Database) -> Home:
    return await load_home(api_db)


async def items(actor: Actor, path: str, **params: Any) -> list[dict[str, Any]]:
    response = await actor.client.get(path, headers=actor.headers, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"]), "these tests expect one page"
    found: list[dict[str, Any]] = body["items"]
    return found


async def ids(actor: Actor, path: str, **params: Any) -> set[int]:
    return {int(row["id"]) for row in await items(actor, path, **params)}


async def status_of(actor: Actor, path: str) -> int:
    return (await actor.client.get(path, headers=actor.headers)).status_code


def elsewhere_paths(e: Elsewhere) -> list[str]:
    return [
        f"/api/v1/communities/{e.community_id}",
        f"/api/v1/grids/{e.grid_id}",
        f"/api/v1/buildings/{e.building_id}",
        f"/api/v1/households/{e.household_id}",
    ]


async def test_admins_see_both_communities(
    as_user: Users, elsewhere: Elsewhere, home: Home
) -> None:
    admin = await as_user("admin")
    assert await ids(admin, "/api/v1/communities") == {home.community_id, elsewhere.community_id}
    assert await ids(admin, "/api/v1/grids") == {*home.grid_ids, elsewhere.grid_id}
    assert await ids(admin, "/api/v1/grids", community_id=elsewhere.community_id) == {
        elsewhere.grid_id
    }
    assert await ids(admin, "/api/v1/buildings", community_id=home.community_id) == set(
        home.building_ids
    )
    for path in elsewhere_paths(elsewhere):
        assert await status_of(admin, path) == 200, path


@pytest.mark.parametrize("username", ["staff", "manager"])
async def test_staff_and_managers_see_their_community_only(
    as_user: Users, elsewhere: Elsewhere, home: Home, username: str
) -> None:
    actor = await as_user(username)
    assert await ids(actor, "/api/v1/communities") == {home.community_id}
    assert await ids(actor, "/api/v1/grids") == set(home.grid_ids)
    assert await ids(actor, "/api/v1/buildings") == set(home.building_ids)
    households = await items(actor, "/api/v1/households")
    assert {h["id"] for h in households} == set(home.household_of.values())
    assert {h["community_id"] for h in households} == {home.community_id}
    # Asking for the other community by filter finds nothing rather than its rows.
    assert await ids(actor, "/api/v1/grids", community_id=elsewhere.community_id) == set()
    assert await ids(actor, "/api/v1/buildings", grid_id=elsewhere.grid_id) == set()
    assert await ids(actor, "/api/v1/households", building_id=elsewhere.building_id) == set()
    for path in elsewhere_paths(elsewhere):
        response = await actor.client.get(path, headers=actor.headers)
        assert response.status_code == 404, path
        assert "没有您可查看的" in response.json()["detail"]


@pytest.mark.parametrize("username", ["staff.b", "manager.b"])
async def test_the_other_communitys_people_do_not_see_ours(
    as_user: Users, elsewhere: Elsewhere, home: Home, username: str
) -> None:
    actor = await as_user(username)
    assert await ids(actor, "/api/v1/communities") == {elsewhere.community_id}
    assert await ids(actor, "/api/v1/grids") == {elsewhere.grid_id}
    assert await ids(actor, "/api/v1/households") == {elsewhere.household_id}
    for path in (
        f"/api/v1/communities/{home.community_id}",
        f"/api/v1/grids/{home.grid_ids[0]}",
        f"/api/v1/buildings/{home.building_ids[0]}",
        f"/api/v1/households/{home.household_of['孙丽华']}",
    ):
        assert await status_of(actor, path) == 404, path


async def test_a_volunteer_sees_the_grids_they_serve_and_their_addresses(
    as_user: Users, elsewhere: Elsewhere, home: Home
) -> None:
    grid1, grid2 = home.grid_ids
    wang = await as_user("vol.wang")  # grid 2 only
    assert await ids(wang, "/api/v1/grids") == {grid2}
    assert await ids(wang, "/api/v1/communities") == {home.community_id}
    assert await ids(wang, "/api/v1/buildings") == set(home.building_ids[2:])
    households = await items(wang, "/api/v1/households")
    assert {h["id"] for h in households} == {
        home.household_of["吴美芳"],
        home.household_of["郑建国"],
    }
    assert set(households[0]) == {"id", "building_id", "grid_id", "community_id", "unit", "address"}
    # The same community's other grid is as closed to them as another community.
    assert await ids(wang, "/api/v1/households", grid_id=grid1) == set()
    for path in [
        f"/api/v1/grids/{grid1}",
        f"/api/v1/buildings/{home.building_ids[0]}",
        f"/api/v1/households/{home.household_of['孙丽华']}",
        *elsewhere_paths(elsewhere),
    ]:
        assert await status_of(wang, path) == 404, path
    assert await status_of(wang, f"/api/v1/grids/{grid2}") == 200

    li = await as_user("vol.li")  # grid 1 only
    assert await ids(li, "/api/v1/grids") == {grid1}
    assert await status_of(li, f"/api/v1/households/{home.household_of['吴美芳']}") == 404

    b = await as_user("vol.b")
    assert await ids(b, "/api/v1/grids") == {elsewhere.grid_id}
    assert await ids(b, "/api/v1/communities") == {elsewhere.community_id}


async def test_a_volunteer_on_no_rota_sees_no_grid(
    as_user: Users, api_db: Database, home: Home
) -> None:
    async with api_db.write() as conn:
        await create_user(
            conn,
            username="vol.new",
            password=DEMO_PASSWORD,
            full_name="New volunteer",
            role=Role.VOLUNTEER,
            community_id=home.community_id,
        )
    new = await as_user("vol.new")
    for path in ("communities", "grids", "buildings", "households"):
        assert await ids(new, f"/api/v1/{path}") == set(), path


async def test_a_resident_sees_their_own_household_and_the_places_above_it(
    as_user: Users, elsewhere: Elsewhere, home: Home
) -> None:
    sun = await as_user("resident.sun")
    own = home.household_of["孙丽华"]
    assert await ids(sun, "/api/v1/households") == {own}
    assert await ids(sun, "/api/v1/buildings") == {home.building_ids[0]}
    assert await ids(sun, "/api/v1/grids") == {home.grid_ids[0]}
    assert await ids(sun, "/api/v1/communities") == {home.community_id}
    assert await status_of(sun, f"/api/v1/households/{own}") == 200
    # Neighbours in the same grid, the next building, the other grid, the other community.
    for path in [
        f"/api/v1/households/{home.household_of['周国强']}",
        f"/api/v1/buildings/{home.building_ids[1]}",
        f"/api/v1/grids/{home.grid_ids[1]}",
        *elsewhere_paths(elsewhere),
    ]:
        assert await status_of(sun, path) == 404, path

    b = await as_user("resident.b")
    assert await ids(b, "/api/v1/households") == {elsewhere.household_id}
    assert await status_of(b, f"/api/v1/households/{own}") == 404


async def test_filters_narrow_and_bad_filters_are_refused(as_user: Users, home: Home) -> None:
    staff = await as_user("staff")
    grid1, grid2 = home.grid_ids
    assert await ids(staff, "/api/v1/buildings", grid_id=grid2) == set(home.building_ids[2:])
    assert await ids(staff, "/api/v1/households", building_id=home.building_ids[1]) == {
        home.household_of["周国强"],
        home.household_of["钱淑兰"],
    }
    assert await ids(staff, "/api/v1/households", grid_id=grid1) == {
        home.household_of[name] for name in ("孙丽华", "周国强", "钱淑兰")
    }
    for path, params in (
        ("/api/v1/grids", {"community_id": "0"}),
        ("/api/v1/buildings", {"grid_id": "one"}),
        ("/api/v1/households", {"limit": "0"}),
    ):
        response = await staff.client.get(path, headers=staff.headers, params=params)
        assert response.status_code == 422, (path, params)


async def test_the_grid_needs_a_login(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/grids")).status_code == 401
