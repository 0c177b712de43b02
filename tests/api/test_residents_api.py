"""Residents over the API: who sees whom, in which view, and who may change what."""

from __future__ import annotations

from typing import Any

import pytest

from hub.storage.db import Database
from tests.api.people import Actor, Users
from tests.api.test_grid_api import Elsewhere, Home, build_elsewhere, items, load_home

RECORD_ONLY = {"birth_year", "is_elderly", "lives_alone", "activity", "community_id"}


@pytest.fixture
async def elsewhere(api_db: Database) -> Elsewhere:
    return await build_elsewhere(api_db)


@pytest.fixture
async def home(api_db: Database) -> Home:
    return await load_home(api_db)


def names(rows: list[dict[str, Any]]) -> set[str]:
    return {str(r["full_name"]) for r in rows}


async def get(actor: Actor, path: str, **params: Any) -> tuple[int, Any]:
    response = await actor.client.get(path, headers=actor.headers, params=params)
    return response.status_code, response.json()


async def send(actor: Actor, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = await actor.client.request(method, path, headers=actor.headers, json=body)
    return response.status_code, (response.json() if response.content else None)


async def _resident_id(actor: Actor, name: str) -> int:
    found = await items(actor, "/api/v1/residents", q=name)
    assert len(found) == 1, found
    return int(found[0]["id"])


HOME = {"孙丽华", "孙晓燕", "周国强", "吴美芳", "郑建国", "钱淑兰"}


async def test_staff_see_whole_records_of_their_community_only(
    as_user: Users, elsewhere: Elsewhere
) -> None:
    staff = await as_user("staff")
    rows = await items(staff, "/api/v1/residents")
    assert names(rows) == HOME
    assert {r["view"] for r in rows} == {"record"}
    assert await items(staff, "/api/v1/residents", household_id=elsewhere.household_id) == []
    sun = await _resident_id(staff, "丽华")  # a part of the name
    code, body = await get(staff, f"/api/v1/residents/{sun}")
    assert code == 200 and body["birth_year"] == 1938 and body["is_elderly"] is True
    assert [c["full_name"] for c in body["contacts"]] == ["孙晓燕"]
    assert "activity" in body
    for other in (elsewhere.elderly_id, elsewhere.member_id):
        code, body = await get(staff, f"/api/v1/residents/{other}")
        assert code == 404 and "您看不到居民" in body["detail"]

    b = await as_user("staff.b")
    assert names(await items(b, "/api/v1/residents")) == {"Ma Elsewhere", "Ma Junior"}
    assert (await get(b, f"/api/v1/residents/{sun}"))[0] == 404


async def test_admins_see_everyone(as_user: Users, elsewhere: Elsewhere) -> None:
    admin = await as_user("admin")
    assert names(await items(admin, "/api/v1/residents")) == HOME | {"Ma Elsewhere", "Ma Junior"}
    assert (await get(admin, f"/api/v1/residents/{elsewhere.elderly_id}"))[0] == 200


async def test_filters_for_staff(as_user: Users, home: Home) -> None:
    staff = await as_user("staff")
    grid1, grid2 = home.grid_ids
    assert names(await items(staff, "/api/v1/residents", grid_id=grid2)) == {
        "吴美芳",
        "郑建国",
    }
    assert names(
        await items(staff, "/api/v1/residents", household_id=home.household_of["孙丽华"])
    ) == {"孙丽华", "孙晓燕"}
    assert names(await items(staff, "/api/v1/residents", building_id=home.building_ids[1])) == {
        "周国强",
        "钱淑兰",
    }
    assert names(await items(staff, "/api/v1/residents", elderly="false")) == {"孙晓燕"}
    assert names(await items(staff, "/api/v1/residents", grid_id=grid1, lives_alone="true")) == {
        "周国强",
        "钱淑兰",
    }
    # A name search treats % and _ literally.
    assert await items(staff, "/api/v1/residents", q="%") == []
    code, _ = await get(staff, "/api/v1/residents", q="x" * 101)
    assert code == 422


async def test_property_managers_see_names_and_addresses_only(
    as_user: Users, elsewhere: Elsewhere
) -> None:
    manager = await as_user("manager")
    rows = await items(manager, "/api/v1/residents")
    assert names(rows) == HOME
    for row in rows:
        assert row["view"] == "listing"
        assert set(row) == {
            "view", "id", "full_name", "household_id", "building_id", "grid_id", "unit", "address"
        }  # fmt: skip
    code, body = await get(manager, f"/api/v1/residents/{rows[0]['id']}")
    assert code == 200 and "contacts" not in body and "phone" not in body
    # Filtering on a flag would reveal it.
    for flag in ("elderly", "lives_alone"):
        code, body = await get(manager, "/api/v1/residents", **{flag: "true"})
        assert code == 403 and f"`{flag}`" in body["detail"]
    assert (await get(manager, f"/api/v1/residents/{elsewhere.elderly_id}"))[0] == 404


async def test_volunteers_see_the_elderly_of_their_grids_in_the_contact_view(
    as_user: Users, elsewhere: Elsewhere, home: Home
) -> None:
    staff = await as_user("staff")
    # A younger resident in grid 2: a volunteer of grid 2 must not see them.
    code, young = await send(
        staff,
        "POST",
        "/api/v1/residents",
        {"household_id": home.household_of["吴美芳"], "full_name": "Wu Grandson"},
    )
    assert code == 201, young
    assert await _resident_id(staff, "wu GRANDSON") == young["id"]  # any case
    wang = await as_user("vol.wang")
    rows = await items(wang, "/api/v1/residents")
    assert names(rows) == {"吴美芳", "郑建国"}
    for row in rows:
        assert row["view"] == "contact" and not RECORD_ONLY & set(row)
    code, body = await get(wang, f"/api/v1/residents/{rows[0]['id']}")
    assert code == 200 and body["contacts"] and not RECORD_ONLY & set(body)
    sun = await _resident_id(staff, "孙丽华")
    for hidden in (young["id"], sun, elsewhere.elderly_id):
        assert (await get(wang, f"/api/v1/residents/{hidden}"))[0] == 404, hidden
    code, body = await get(wang, "/api/v1/residents", lives_alone="true")
    assert code == 403

    li = await as_user("vol.li")  # grid 1
    assert names(await items(li, "/api/v1/residents")) == {
        "孙丽华",
        "周国强",
        "钱淑兰",
    }
    b = await as_user("vol.b")
    assert names(await items(b, "/api/v1/residents")) == {"Ma Elsewhere"}


async def test_residents_see_their_household(as_user: Users, elsewhere: Elsewhere) -> None:
    sun = await as_user("resident.sun")
    rows = await items(sun, "/api/v1/residents")
    assert names(rows) == {"孙丽华", "孙晓燕"}
    assert {r["view"] for r in rows} == {"contact"}
    staff = await as_user("staff")
    zhou = await _resident_id(staff, "周国强")
    for hidden in (zhou, elsewhere.elderly_id):
        assert (await get(sun, f"/api/v1/residents/{hidden}"))[0] == 404
    b = await as_user("resident.b")
    assert names(await items(b, "/api/v1/residents")) == {"Ma Elsewhere", "Ma Junior"}


async def test_staff_add_and_change_residents_of_their_community(
    as_user: Users, home: Home
) -> None:
    staff = await as_user("staff")
    code, created = await send(
        staff,
        "POST",
        "/api/v1/residents",
        {
            "household_id": home.household_of["周国强"],
            "full_name": "  Zhou Xiaoming  ",
            "phone": "+86 139-0000-1234",
            "birth_year": 1950,
            "is_elderly": True,
        },
    )
    assert code == 201, created
    assert created["full_name"] == "Zhou Xiaoming" and created["view"] == "record"
    assert created["lives_alone"] is False and created["contacts"] == []
    path = f"/api/v1/residents/{created['id']}"
    code, changed = await send(
        staff,
        "PATCH",
        path,
        {"household_id": home.household_of["吴美芳"], "phone": None, "lives_alone": True},
    )
    assert code == 200, changed
    assert changed["phone"] is None and changed["grid_id"] == home.grid_ids[1]
    assert changed["birth_year"] == 1950  # left out: kept
    assert (await send(staff, "PATCH", path, {}))[0] == 200


async def test_writes_outside_scope_are_refused(
    as_user: Users, elsewhere: Elsewhere, home: Home
) -> None:
    new = {"household_id": home.household_of["孙丽华"], "full_name": "Somebody"}
    staff = await as_user("staff")
    sun = await _resident_id(staff, "孙丽华")
    for username in ("manager", "vol.li", "resident.sun"):
        actor = await as_user(username)
        code, body = await send(actor, "POST", "/api/v1/residents", new)
        assert code == 403 and "社区工作人员" in body["detail"], username
        code, _ = await send(actor, "PATCH", f"/api/v1/residents/{sun}", {"full_name": "X"})
        assert code == 403, username
    # Into another community's household: refused, naming the field.
    code, body = await send(
        staff,
        "POST",
        "/api/v1/residents",
        {"household_id": elsewhere.household_id, "full_name": "Intruder"},
    )
    assert code == 422 and body["detail"][0]["loc"] == ["body", "household_id"]
    assert "not in your community" in body["detail"][0]["msg"]
    # Changing, or adding contacts to, another community's resident: not found.
    other = f"/api/v1/residents/{elsewhere.elderly_id}"
    assert (await send(staff, "PATCH", other, {"full_name": "X"}))[0] == 404
    contact = {"full_name": "A", "relation": "friend", "phone": "13712345678"}
    assert (await send(staff, "POST", f"{other}/contacts", contact))[0] == 404
    assert (
        await send(staff, "PATCH", f"{other}/contacts/{elsewhere.contact_id}", {"relation": "son"})
    )[0] == 404
    assert (await send(staff, "DELETE", f"{other}/contacts/{elsewhere.contact_id}"))[0] == 404
    # Moving our resident to another community's household.
    code, body = await send(
        staff, "PATCH", f"/api/v1/residents/{sun}", {"household_id": elsewhere.household_id}
    )
    assert code == 422 and body["detail"][0]["loc"] == ["body", "household_id"]
    # The other community's staff cannot reach ours either.
    b = await as_user("staff.b")
    assert (await send(b, "PATCH", f"/api/v1/residents/{sun}", {"full_name": "X"}))[0] == 404
    # Admins may write anywhere.
    admin = await as_user("admin")
    code, _ = await send(
        admin,
        "POST",
        "/api/v1/residents",
        {"household_id": elsewhere.household_id, "full_name": "Ma Cousin"},
    )
    assert code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "call me"}, "phone"),
        ({"phone": "123"}, "phone"),
        ({"birth_year": 1850}, "birth_year"),
        ({"birth_year": 2999}, "birth_year"),
        ({"birth_year": "1950"}, "birth_year"),
        ({"full_name": "   "}, "full_name"),
        ({"full_name": "a\x00b"}, "full_name"),
        ({"is_elderly": "yes"}, "is_elderly"),
        ({"household_id": 999999}, "household_id"),
        ({"household_id": 0}, "household_id"),
        ({"nickname": "x"}, "nickname"),
    ],
)
async def test_invalid_residents_are_refused_with_the_field_named(
    as_user: Users, home: Home, body: dict[str, Any], field: str
) -> None:
    staff = await as_user("staff")
    request = {"household_id": home.household_of["孙丽华"], "full_name": "Valid Name"} | body
    code, answer = await send(staff, "POST", "/api/v1/residents", request)
    assert code == 422, answer
    assert any(field in problem["loc"] for problem in answer["detail"]), answer


async def test_a_patch_may_not_null_a_required_field(as_user: Users) -> None:
    staff = await as_user("staff")
    sun = await _resident_id(staff, "孙丽华")
    for field in ("full_name", "household_id", "is_elderly"):
        code, body = await send(staff, "PATCH", f"/api/v1/residents/{sun}", {field: None})
        assert code == 422 and field in str(body["detail"]), field


async def test_family_contacts_are_added_changed_and_removed(
    as_user: Users, elsewhere: Elsewhere
) -> None:
    staff = await as_user("staff")
    sun = await _resident_id(staff, "孙丽华")
    base = f"/api/v1/residents/{sun}/contacts"
    code, contact = await send(
        staff,
        "POST",
        base,
        {"full_name": "Neighbour Liu", "relation": "neighbour", "phone": "13511112222"},
    )
    assert code == 201 and contact["priority"] == 1 and contact["resident_id"] == sun
    code, changed = await send(staff, "PATCH", f"{base}/{contact['id']}", {"priority": 2})
    assert code == 200 and changed["priority"] == 2 and changed["phone"] == "13511112222"
    code, body = await get(staff, f"/api/v1/residents/{sun}")
    assert [c["full_name"] for c in body["contacts"]] == ["孙晓燕", "Neighbour Liu"]
    # A contact of someone else, through this resident's path: not found.
    code, _ = await send(staff, "PATCH", f"{base}/{elsewhere.contact_id}", {"priority": 3})
    assert code == 404
    for bad in ({"phone": "x"}, {"priority": 0}, {"relation": ""}, {"phone": None}):
        code, _ = await send(staff, "PATCH", f"{base}/{contact['id']}", bad)
        assert code == 422, bad
    code, _ = await send(staff, "POST", base, {"full_name": "No Phone", "relation": "friend"})
    assert code == 422
    assert (await send(staff, "DELETE", f"{base}/{contact['id']}"))[0] == 204
    assert (await send(staff, "DELETE", f"{base}/{contact['id']}"))[0] == 404
    code, body = await get(staff, f"/api/v1/residents/{sun}")
    assert [c["full_name"] for c in body["contacts"]] == ["孙晓燕"]
    vol = await as_user("vol.li")
    assert (await send(vol, "DELETE", f"{base}/{body['contacts'][0]['id']}"))[0] == 403
