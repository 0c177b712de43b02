"""The resident behind a ticket, as its handler sees them: how to reach them, nothing more."""

from __future__ import annotations

from tests.api.people import Users


async def test_the_assigned_volunteer_sees_name_address_and_contacts_only(
    as_user: Users, sos: tuple[int, str]
) -> None:
    ticket_id, volunteer = sos
    handler = await as_user(volunteer)
    answer = await handler.client.get(
        f"/api/v1/tickets/{ticket_id}/resident", headers=handler.headers
    )
    assert answer.status_code == 200, answer.text
    card = answer.json()
    # As the community wrote them, whatever the reader's language.
    assert card["full_name"] == "孙丽华"
    assert (card["address"], card["building"], card["unit"]) == (
        "朝阳花园社区1号楼1单元101室",
        "1号楼",
        "1单元101室",
    )
    assert [(c["full_name"], c["relation"]) for c in card["contacts"]] == [("孙晓燕", "女儿")]
    assert card["contacts"][0]["phone"].startswith("137")
    # No health history or anything beyond reaching them.
    assert set(card) == {
        "resident_id",
        "full_name",
        "phone",
        "address",
        "building",
        "unit",
        "contacts",
    }


async def test_people_who_may_not_see_the_ticket_do_not_see_the_resident(
    as_user: Users, sos: tuple[int, str]
) -> None:
    ticket_id, volunteer = sos
    other = "vol.wang" if volunteer != "vol.wang" else "vol.zhao"
    other_household = await as_user.family_of("吴美芳", "family.wu")
    for actor in (await as_user(other), other_household):
        answer = await actor.client.get(
            f"/api/v1/tickets/{ticket_id}/resident", headers=actor.headers
        )
        assert answer.status_code == 404, answer.text
    staff = await as_user("staff")
    answer = await staff.client.get(f"/api/v1/tickets/{ticket_id}/resident", headers=staff.headers)
    assert answer.status_code == 200
