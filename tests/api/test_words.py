"""The words the API gives people, in the reader's language, times in the community's zone.

The reader's language is their profile's choice (PATCH /api/v1/auth/me), else their
browser's (Accept-Language), else the community's (the demo community: zh-CN). Codes
for machines (``status``, ``action``, ``kind``, ``loc``) stay as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from hub.alerts.words import what as kind_label
from hub.devices.words import online_label
from hub.schema.tickets import tickets
from hub.storage.db import Database
from tests.api.people import Actor, Users

EN = {"Accept-Language": "en-US,en;q=0.8"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
SUN = "watch:8800000101"  # 孙丽华's wristband (tests/api/conftest.py's sos fixture)


async def _get(actor: Actor, path: str, headers: dict[str, str] | None = None) -> Any:
    response = await actor.client.get(path, headers=actor.headers | (headers or {}))
    assert response.status_code == 200, response.text
    return response.json()


async def _act(
    actor: Actor, ticket_id: int, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    return await actor.client.post(
        f"/api/v1/tickets/{ticket_id}/transitions",
        headers=actor.headers | (headers or {}),
        json=body,
    )


def _offers(ticket: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(o["action"], o["label"], o["target_label"]) for o in ticket["action_details"]]


async def test_a_tickets_state_and_actions_in_the_readers_language(
    as_user: Users, sos: tuple[int, str]
) -> None:
    ticket_id, on_duty = sos
    volunteer = await as_user(on_duty)
    path = f"/api/v1/tickets/{ticket_id}"

    # No profile choice, no browser preference: the community's language.
    ticket = await _get(volunteer, path)
    assert (ticket["status"], ticket["status_label"]) == ("dispatched", "已派单")
    assert _offers(ticket) == [("accept", "接单", "已接单"), ("return", "退回", "已退回")]
    assert ticket["actions"] == ["accept", "return"]  # the codes are unchanged

    ticket = await _get(volunteer, path, EN)
    assert ticket["status_label"] == "Dispatched"
    assert _offers(ticket) == [("accept", "Accept", "Accepted"), ("return", "Return", "Returned")]

    # The list says each ticket's state too.
    listed = await _get(volunteer, "/api/v1/tickets", EN)
    assert {t["id"]: t["status_label"] for t in listed["items"]}[ticket_id] == "Dispatched"

    # The profile's choice wins over the browser's.
    chose = await volunteer.client.patch(
        "/api/v1/auth/me", headers=volunteer.headers | ZH, json={"locale": "en"}
    )
    assert chose.status_code == 200 and chose.json()["language"] == "en"
    accepted = await _act(volunteer, ticket_id, ZH, action="accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status_label"] == "Accepted"
    assert _offers(accepted.json()) == [
        ("return", "Return", "Returned"),
        ("start", "Verify on site", "In progress"),
    ]
    # The audit trail says each step and where it led in words too.
    assert [
        (e["action"], e["action_label"], e["to_status_label"]) for e in accepted.json()["log"]
    ] == [
        ("registered", "Registered", "Registered"),
        ("dispatched", "Dispatched", "Dispatched"),
        ("accept", "Accept", "Accepted"),
    ]


async def test_a_refused_action_says_why_in_the_readers_language(
    as_user: Users, sos: tuple[int, str]
) -> None:
    ticket_id, on_duty = sos
    volunteer = await as_user(on_duty)

    too_soon = await _act(volunteer, ticket_id, action="resolve", note="done")
    assert too_soon.status_code == 409
    assert too_soon.json()["detail"] == (
        "工单当前为“已派单”，不能“办结”；可执行：接单、退回（您可执行：接单、退回）"
    )
    too_soon = await _act(volunteer, ticket_id, EN, action="resolve", note="done")
    assert too_soon.json()["detail"] == (
        "cannot “Resolve” a ticket that is “Dispatched”; allowed: Accept, Return "
        "(yours: Accept, Return)"
    )

    no_reason = await _act(volunteer, ticket_id, action="return")
    assert no_reason.status_code == 422
    [problem] = no_reason.json()["detail"]
    assert (problem["loc"], problem["type"]) == (["body", "reason"], "value_error")
    assert problem["msg"] == "执行“退回”时必须填写"
    [problem] = (await _act(volunteer, ticket_id, EN, action="return")).json()["detail"]
    assert problem["msg"] == "required to “Return” a ticket"

    staff = await as_user("staff")
    not_theirs = await _act(staff, ticket_id, EN, action="accept")
    assert not_theirs.status_code == 403
    assert not_theirs.json()["detail"] == (
        "your role (community_staff) may not “Accept” tickets; that is for volunteer"
    )


async def test_a_time_in_a_refusal_is_the_communitys_local_time(
    as_user: Users, sos: tuple[int, str], api_db: Database
) -> None:
    """2030-01-02 03:04 UTC is 11:04 in Asia/Shanghai, the demo community's zone."""
    ticket_id, on_duty = sos
    volunteer, staff = await as_user(on_duty), await as_user("staff")
    await volunteer.ok(ticket_id, "accept")
    await volunteer.ok(ticket_id, "start", note="on site")
    await volunteer.ok(ticket_id, "request_extension", reason="waiting for the plumber")
    async with api_db.write() as conn:
        await conn.execute(
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .values(resolve_due_at=datetime(2030, 1, 2, 3, 4, tzinfo=UTC))
        )
    earlier = "2030-01-01T00:00:00+00:00"
    grant = await _act(staff, ticket_id, action="grant_extension", new_due_at=earlier)
    assert grant.status_code == 422
    [problem] = grant.json()["detail"]
    assert problem["loc"] == ["body", "new_due_at"]
    assert problem["msg"] == "必须晚于当前的办结期限 2030年1月2日 11:04"
    grant = await _act(staff, ticket_id, EN, action="grant_extension", new_due_at=earlier)
    [problem] = grant.json()["detail"]
    assert problem["msg"] == "must be later than the current resolve-by time, Jan 2, 2030 11:04"


async def test_alerts_devices_and_the_dashboard_say_kinds_and_states_in_words(
    as_user: Users, sos: tuple[int, str]
) -> None:
    staff = await as_user("staff")

    dashboard = await _get(staff, "/api/v1/dashboard")
    [alert] = [a for a in dashboard["active_alerts"] if a["device_id"] == SUN]
    assert (alert["kind"], alert["kind_label"], alert["severity_label"]) == (
        "wristband.sos",
        "一键求助",
        "紧急",
    )
    assert dashboard["alert_kind_labels"]["wristband.sos"] == "一键求助"
    dashboard = await _get(staff, "/api/v1/dashboard", EN)
    [alert] = [a for a in dashboard["active_alerts"] if a["device_id"] == SUN]
    assert (alert["kind_label"], alert["severity_label"]) == ("SOS", "Critical")

    alerts = await _get(staff, "/api/v1/alerts", ZH)
    assert {a["kind_label"] for a in alerts["items"] if a["kind"] == "wristband.sos"} == {
        "一键求助"
    }
    events = await _get(staff, f"/api/v1/devices/{SUN}/events", EN)
    sos_events = [e for e in events["items"] if e["kind"] == "wristband.sos"]
    assert sos_events and {e["kind_label"] for e in sos_events} == {"SOS"}

    # Every device says whether it is reachable, and a low battery, in words.
    words = {True: "在线", False: "离线", None: "未上报"}
    devices = (await _get(staff, "/api/v1/devices?limit=200"))["items"]
    assert devices
    for device in devices:
        assert device["online_label"] == words[device["online"]]
        low = device["battery_pct"] is not None and device["battery_pct"] < 20
        assert device["battery_label"] == ("低电量" if low else None)
    english = (await _get(staff, "/api/v1/devices?limit=200", EN))["items"]
    assert {d["online_label"] for d in english} <= {"Online", "Offline", "Not reported yet"}


def test_the_event_kind_vocabulary_has_words_for_people() -> None:
    # One vocabulary (hub.alerts.words): the alarm titles' {what} and the API's labels.
    assert kind_label("door.held_open", "zh-CN") == "门禁长时间未关"
    assert kind_label("door.held_open", "en") == "door held open"
    assert kind_label("wristband.fall", "zh-CN") == "跌倒报警"
    assert online_label(False, "zh-CN") == "离线"


async def test_the_device_charts_are_titled_in_the_readers_language(
    as_user: Users, sos: tuple[int, str], client: httpx.AsyncClient
) -> None:
    staff = await as_user("staff")
    charts = await _get(staff, f"/api/v1/devices/{SUN}/charts")
    assert {c["title"] for c in charts["charts"]} == {"心率", "血压"}
    svg = await client.get(
        f"/api/v1/devices/{SUN}/charts/heart_rate.svg", headers=staff.headers | EN
    )
    assert svg.status_code == 200
    assert "<title>Heart rate, last 24 hours</title>" in svg.text
    svg = await client.get("/api/v1/dashboard/charts/alerts.svg", headers=staff.headers)
    assert "<title>每日新增告警（按类型）</title>" in svg.text
    assert "一键求助" in svg.text  # the legend names the kind in words
    assert 'data-series="wristband.sos"' in svg.text  # and the bars keep its code


async def test_unknown_things_are_not_found_in_the_readers_language(
    as_user: Users, client: httpx.AsyncClient
) -> None:
    staff = await as_user("staff")
    missing = await client.get("/api/v1/tickets/999999", headers=staff.headers)
    assert (missing.status_code, missing.json()) == (404, {"detail": "没有您可查看的工单 999999"})
    missing = await client.get("/api/v1/alerts/999999", headers=staff.headers | EN)
    assert missing.json() == {"detail": "no alert 999999 visible to you"}
    rows = await client.get("/api/v1/devices/no-such-device", headers=staff.headers)
    assert rows.json() == {"detail": "没有您可查看的设备 'no-such-device'"}


async def test_the_profiles_language_applies_to_refusals_from_any_route(as_user: Users) -> None:
    """A route that does not ask for its reader still refuses in the person's language."""
    sun = await as_user("resident.sun")
    await sun.client.patch("/api/v1/auth/me", headers=sun.headers, json={"locale": "en"})
    cancel = await sun.client.post("/api/v1/reservations/999999/cancel", headers=sun.headers | ZH)
    assert (cancel.status_code, cancel.json()) == (
        404,
        {"detail": "no reservation 999999 of yours"},
    )
    await sun.client.patch("/api/v1/auth/me", headers=sun.headers, json={"locale": None})
    cancel = await sun.client.post("/api/v1/reservations/999999/cancel", headers=sun.headers)
    assert cancel.json() == {"detail": "您没有编号为 999999 的预约"}
