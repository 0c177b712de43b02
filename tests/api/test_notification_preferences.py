"""A person sets how they are reached when the inbox is closed: PUT/GET
/api/v1/auth/me/notifications (which channels, quiet hours). What the channels then do
with it is tests/hub/channels/test_sms.py's."""

from __future__ import annotations

import pytest

from tests.api.people import Users


async def test_a_volunteer_chooses_quiet_hours_and_no_texts_and_reads_them_back(
    as_user: Users,
) -> None:
    me = await as_user("vol.wang")
    url = "/api/v1/auth/me/notifications"
    first = await me.client.get(url, headers=me.headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"channels_off": [], "quiet_hours": None, "critical_always": True}
    chosen = {"channels_off": ["sms"], "quiet_hours": {"start": "22:00", "end": "07:00"}}
    saved = await me.client.put(url, headers=me.headers, json=chosen)
    assert saved.status_code == 200, saved.text
    again = (await me.client.get(url, headers=me.headers)).json()
    assert again == {**chosen, "critical_always": True}
    # Nobody's choice can turn critical alarms off.
    forced = await me.client.put(url, headers=me.headers, json={**chosen, "critical_always": False})
    assert forced.json()["critical_always"] is True


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"channels_off": ["pager"]}, ["body", "channels_off"]),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, ["body", "quiet_hours", "start"]),
        ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, ["body", "quiet_hours"]),
    ],
)
async def test_bad_settings_are_refused_naming_the_field(
    as_user: Users, body: dict[str, object], where: list[str]
) -> None:
    me = await as_user("vol.wang")
    answer = await me.client.put("/api/v1/auth/me/notifications", headers=me.headers, json=body)
    assert answer.status_code == 422, answer.text
    assert where in [p["loc"] for p in answer.json()["detail"]]
