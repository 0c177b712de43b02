"""Single intake (一号受理) through the HTTP API: staff and residents opening tickets, and
the grid QR code's public report form."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin
from xml.etree import ElementTree

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from api.routes.report_form import RATE_LIMIT
from api.state import ApiContext
from hub.notifications.outbox import OutboxRelay
from hub.settings import JwtSettings, QrSettings, Settings
from hub.storage.db import Database
from hub.tickets.intake import grid_from_token, grid_report_token
from tests.api.people import Actor, Users
from tests.support.hubdata import RecordingNotifier, households_by_grid

SECRET = Settings().jwt.secret.get_secret_value()
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
async def grids(api_db: Database) -> dict[int, list[int]]:
    """Households by grid id, in seeding order (grid 1 first)."""
    return await households_by_grid(api_db)


async def _open(actor: Actor, **body: Any) -> httpx.Response:
    return await actor.client.post("/api/v1/tickets", headers=actor.headers, json=body)


def _field_error(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    named = [e for e in response.json()["detail"] if e["loc"][-1] == field]
    assert named, response.json()
    return str(named[0]["msg"])


# --- Staff and residents.


async def test_staff_take_in_a_ticket_for_a_grid_of_their_community(
    as_user: Users, grids: dict[int, list[int]], outbox: OutboxRelay, notes: RecordingNotifier
) -> None:
    staff = await as_user("staff")
    grid_id = min(grids)
    household = grids[grid_id][0]
    response = await _open(
        staff,
        title="Broken lamp in the stairwell",
        description="Building 1, third floor: the lamp has been out since Monday.",
        category="facility_repair",
        grid_id=grid_id,
        household_id=household,
    )
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert ticket["source"] == "staff" and ticket["category"] == "facility_repair"
    assert (ticket["grid_id"], ticket["household_id"]) == (grid_id, household)
    assert ticket["description"].startswith("Building 1, third floor")
    assert ticket["level"] == "grid" and ticket["confidential"] is False
    assert ticket["reported_by"] == await staff.id()
    assert ticket["response_due_at"] and ticket["resolve_due_at"]
    # A staff category waits for staff to dispatch; they are told so, after the commit.
    assert ticket["status"] == "registered" and "dispatch" in ticket["actions"]
    await outbox.deliver_due()
    assert any(n.ticket_id == ticket["id"] for n in notes.seen)
    assert (await staff.get(ticket["id"])).status_code == 200


async def test_staff_intake_inputs_are_checked(as_user: Users, grids: dict[int, list[int]]) -> None:
    staff = await as_user("staff")
    grid1, grid2 = sorted(grids)[:2]
    good = {"title": "Leak", "description": "Water in the basement", "grid_id": grid1}

    message = _field_error(await _open(staff, **good, category="plumbing"), "category")
    assert "plumbing" in message and "facility_repair" in message and "resident_report" in message
    _field_error(await _open(staff, **good), "category")  # staff must name one
    missing_grid = {k: v for k, v in good.items() if k != "grid_id"}
    assert "required" in _field_error(
        await _open(staff, **missing_grid, category="general"), "grid_id"
    )
    assert "not in your community" in _field_error(
        await _open(staff, **{**good, "grid_id": 9999}, category="general"), "grid_id"
    )
    assert f"not in grid {grid1}" in _field_error(
        await _open(staff, **good, category="general", household_id=grids[grid2][0]),
        "household_id",
    )
    _field_error(await _open(staff, **{**good, "title": "  "}, category="general"), "title")
    _field_error(
        await _open(staff, **{**good, "description": "x" * 2001}, category="general"), "description"
    )
    _field_error(await _open(staff, **good, category="general", priority="high"), "priority")

    volunteer = await as_user("vol.wang")
    refused = await _open(volunteer, **good, category="general")
    assert refused.status_code == 403 and "volunteer" in refused.json()["detail"]


async def test_a_resident_reports_for_their_own_household(
    as_user: Users, grids: dict[int, list[int]]
) -> None:
    sun = await as_user("resident.sun")
    response = await _open(sun, title="Noise at night", description="Drilling after 23:00")
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert ticket["source"] == "resident" and ticket["category"] == "resident_report"
    assert ticket["reported_by"] == await sun.id() and ticket["resident_id"] is not None
    household = ticket["household_id"]
    assert household is not None and household in grids[ticket["grid_id"]]
    # resident_report is a volunteer category: it goes to whoever is on duty in the grid.
    assert ticket["status"] == "dispatched" and ticket["assignee_id"] is not None
    assert (await sun.get(ticket["id"])).status_code == 200
    staff = await as_user("staff")
    assert (await staff.get(ticket["id"])).json()["source"] == "resident"

    repair = await _open(sun, title="Lift", description="stuck", category="facility_repair")
    assert repair.status_code == 201 and repair.json()["category"] == "facility_repair"
    message = _field_error(
        await _open(sun, title="Help", description="x", category="elderly_sos"), "category"
    )
    assert "elderly_sos" in message and "resident_report" in message
    assert "security_duress" not in message  # confidential: never a resident's choice
    assert "leave it out" in _field_error(
        await _open(sun, title="t", description="d", grid_id=min(grids)), "grid_id"
    )


# --- The grid QR code and its public form.


async def _qr(actor: Actor, grid_id: int, **params: str) -> httpx.Response:
    return await actor.client.get(
        f"/api/v1/grids/{grid_id}/report-qr.svg", headers=actor.headers, params=params
    )


async def test_the_grid_qr_code_is_an_svg_with_a_signed_report_address(
    as_user: Users, grids: dict[int, list[int]]
) -> None:
    staff = await as_user("staff")
    grid_id = min(grids)
    response = await _qr(staff, grid_id)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{SVG}svg"
    paths = root.findall(f".//{SVG}path")
    assert paths and all(p.get("d") for p in paths)
    # The poster's title, in the staff member's language: 扫码报事 (scan to report).
    title = root.find(f"{SVG}title")
    assert title is not None and (title.text or "").startswith("扫码报事：")

    url = response.headers["x-report-url"]
    assert url.startswith("http://hub.test/report/")
    token = url.rsplit("/", 1)[1]
    assert token == grid_report_token(grid_id, SECRET)
    assert grid_from_token(token, SECRET) == grid_id
    assert grid_from_token(token, "another secret") is None

    public = await _qr(staff, grid_id, base_url="https://report.example.org/hub")
    assert public.headers["x-report-url"] == f"https://report.example.org/hub/report/{token}"
    assert (await _qr(staff, grid_id, base_url="javascript:alert(1)")).status_code == 422
    assert (await _qr(staff, 9999)).status_code == 404
    for role in ("vol.wang", "resident.sun"):
        assert (await _qr(await as_user(role), grid_id)).status_code == 403
    assert (await _qr(await as_user("admin"), grid_id)).status_code == 200


async def test_the_report_form_page_renders_for_phones_without_outside_assets(
    client: httpx.AsyncClient, grids: dict[int, list[int]]
) -> None:
    token = grid_report_token(min(grids), SECRET)
    page = await client.get(f"/report/{token}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert 'name="viewport"' in html and "<style" not in html
    assert 'method="post"' in html
    # The form posts to the report endpoint, relative to wherever the hub is mounted.
    [action] = re.findall(r'<form[^>]* action="([^"]+)"', html)
    assert urljoin(f"https://hub.example.org/x/report/{token}", action) == (
        f"https://hub.example.org/x/api/v1/problem-reports/{token}"
    )
    for field in ("reporter_name", "reporter_phone", "category", "description"):
        assert f'name="{field}"' in html
    assert 'value="resident_report" selected' in html and 'value="facility_repair"' in html
    assert "elderly_sos" not in html and "security_duress" not in html
    assert not re.search(r"<(script|img)\b", html)
    # The one stylesheet, relative to the page too.
    [sheet] = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert urljoin(f"https://hub.example.org/x/report/{token}", sheet) == (
        "https://hub.example.org/x/static/app.css"
    )
    assert "http://" not in html and "https://" not in html
    # The community's language, or the browser's, or the language cookie's.
    assert '<html lang="zh-CN"' in html and "<h1>问题上报</h1>" in html
    english = await client.get(f"/report/{token}", headers={"Accept-Language": "en"})
    assert "<h1>Report a problem</h1>" in english.text and "Your name" in english.text
    chosen = await client.get(f"/report/{token}?lang=en", headers={"Accept-Language": "zh"})
    assert '<html lang="en"' in chosen.text
    assert (await client.get("/report/g1.AAAAAAAAAAAAAAAA")).status_code == 404
    assert (await client.get("/report/not-a-token")).status_code == 404


def _report(**overrides: str) -> dict[str, str]:
    return {
        "reporter_name": "Ma Jun",
        "reporter_phone": "138 0013 8000",
        "category": "resident_report",
        "description": "The north gate does not close.\nIt bangs all night.",
        **overrides,
    }


async def test_a_public_report_opens_a_ticket_staff_can_see(
    as_user: Users,
    client: httpx.AsyncClient,
    grids: dict[int, list[int]],
    outbox: OutboxRelay,
    notes: RecordingNotifier,
) -> None:
    grid_id = min(grids)
    token = grid_report_token(grid_id, SECRET)
    response = await client.post(f"/api/v1/problem-reports/{token}", json=_report())
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["grid_id"] == grid_id and "Ma Jun" in receipt["message"]

    staff = await as_user("staff")
    ticket = (await staff.get(receipt["ticket_id"])).json()
    assert ticket["source"] == "resident" and ticket["grid_id"] == grid_id
    assert (ticket["reporter_name"], ticket["reporter_phone"]) == ("Ma Jun", "138 0013 8000")
    assert ticket["household_id"] is None and ticket["reported_by"] is None
    assert "north gate does not close" in ticket["title"]
    assert ticket["description"].endswith("It bangs all night.")
    # Its title is made from the category's label: in each reader's language.
    grid = (await staff.client.get(f"/api/v1/grids/{grid_id}", headers=staff.headers)).json()
    line = "The north gate does not close."
    assert ticket["title"] == f"居民反映（{grid['name']}）：{line}"
    english = await staff.client.get(
        f"/api/v1/tickets/{receipt['ticket_id']}",
        headers={**staff.headers, "Accept-Language": "en"},
    )
    assert english.json()["title"] == f"Resident report ({grid['name']}): {line}"
    assert english.json()["category_label"] == "Resident report"
    await outbox.deliver_due()
    assert any(n.ticket_id == receipt["ticket_id"] for n in notes.seen)

    # The browser's form post gets a page that says so, and escapes what it echoes.
    form = await client.post(
        f"/api/v1/problem-reports/{token}",
        data=_report(reporter_name="<b>Li</b>", category="general"),
    )
    assert form.status_code == 201
    assert form.headers["content-type"].startswith("text/html")
    # In the community's language (Chinese): the browser asked for none.
    assert "谢谢您，&lt;b&gt;Li&lt;/b&gt;：您反映的问题已受理" in form.text
    assert "<b>Li</b>" not in form.text


async def test_a_forged_or_altered_code_is_not_found(
    client: httpx.AsyncClient, grids: dict[int, list[int]]
) -> None:
    grid1, grid2 = sorted(grids)[:2]
    signature = grid_report_token(grid1, SECRET).split(".", 1)[1]
    for token in (
        f"g{grid2}.{signature}",  # another grid with grid 1's signature
        grid_report_token(grid1, "a guessed secret"),
        grid_report_token(9999, SECRET),  # signed, but no such grid
        "g1",
        "x" * 40,
    ):
        response = await client.post(f"/api/v1/problem-reports/{token}", json=_report())
        assert response.status_code == 404, token


async def test_bad_report_inputs_are_refused_with_the_reason(
    client: httpx.AsyncClient, grids: dict[int, list[int]]
) -> None:
    token = grid_report_token(min(grids), SECRET)
    url = f"/api/v1/problem-reports/{token}"
    bad_phone = await client.post(url, json=_report(reporter_phone="call me"))
    assert _field_error(bad_phone, "reporter_phone") == (
        "电话号码为6到20位数字，可以以 + 开头（可含空格和短横线）"
    )
    english = {"Accept-Language": "en"}
    assert _field_error(
        await client.post(url, json=_report(reporter_phone="123"), headers=english),
        "reporter_phone",
    ) == (
        "a phone number is 6 to 20 digits, optionally starting with + (spaces and dashes allowed)"
    )
    message = _field_error(await client.post(url, json=_report(category="elderly_sos")), "category")
    assert "resident_report" in message
    empty = await client.post(url, json=_report(description=""))
    assert _field_error(empty, "description") == "不能为空"
    long = await client.post(url, json=_report(description="x" * 2001), headers=english)
    assert _field_error(long, "description") == "at most 2000 characters"
    nameless = await client.post(url, json={"reporter_phone": "13800138000"})
    assert _field_error(nameless, "reporter_name") == "必填"
    not_json = await client.post(
        url, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422 and "JSON" in not_json.text

    # The form page shows what went wrong, keeps what was typed, and escapes it.
    page = await client.post(
        url, data=_report(reporter_phone="call me", description="<script>x</script>")
    )
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "未能提交，请检查：" in page.text and "电话: 电话号码为6到20位数字" in page.text
    [action] = re.findall(r'<form[^>]* action="([^"]+)"', page.text)
    assert urljoin(f"http://hub.test{url}", action) == f"http://hub.test{url}"
    assert "&lt;script&gt;x&lt;/script&gt;" in page.text and "<script>" not in page.text


async def test_reports_are_rate_limited_per_address(
    client: httpx.AsyncClient, grids: dict[int, list[int]]
) -> None:
    url = f"/api/v1/problem-reports/{grid_report_token(min(grids), SECRET)}"
    for _ in range(RATE_LIMIT):  # every attempt counts, refused ones too
        assert (await client.post(url, json=_report(reporter_phone="x"))).status_code == 422
    limited = await client.post(url, json=_report())
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.json()["detail"].startswith("您的地址提交次数过多，请于")
    page = await client.post(url, data=_report(), headers={"Accept-Language": "en"})
    assert page.status_code == 429
    assert "too many reports from your address; try again at " in page.text


async def test_a_property_manager_opens_only_the_propertys_tickets(
    as_user: Users, grids: dict[int, list[int]]
) -> None:
    manager = await as_user("manager")
    grid_id = min(grids)
    repair = await _open(
        manager,
        title="Gate 2 sticks",
        description="The east gate of building 2 sticks half open.",
        category="facility_repair",
        grid_id=grid_id,
    )
    assert repair.status_code == 201, repair.text
    seen = await manager.client.get(
        f"/api/v1/tickets/{repair.json()['id']}", headers=manager.headers
    )
    assert seen.status_code == 200, seen.text
    # Elderly care is the staff's: a ticket the manager could not open afterwards is refused.
    care = await _open(
        manager,
        title="Check on Mrs Sun",
        description="Not seen at the gate since Monday.",
        category="elderly_welfare",
        grid_id=grid_id,
    )
    assert care.status_code == 403, care.text
    assert "elderly_welfare" in care.json()["detail"] and "staff" in care.json()["detail"]


async def test_the_qr_key_is_its_own_and_rotates_without_breaking_printed_codes(
    api_db: Database, grids: dict[int, list[int]]
) -> None:
    """Codes put up under the JWT secret keep working once HUB_QR_SECRET is set (the old
    key listed as previous), new codes use the new key, and changing the JWT secret
    (logging everyone out) no longer touches the codes on the walls."""
    grid_id = min(grids)
    printed = grid_report_token(grid_id, SECRET)  # signed with the JWT secret, as before
    new_key, other_jwt = "Qr7-" + "kV2x9LmP3sT8wZ1nB6cH4jR0yF5gD" * 2, "J" + SECRET[::-1]
    settings = Settings(
        jwt=JwtSettings(secret=SecretStr(other_jwt)),
        qr=QrSettings(secret=SecretStr(new_key), previous_secrets=[SecretStr(SECRET)]),
    )
    app = create_app(ApiContext(db=api_db, settings=settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        assert (await client.get(f"/report/{printed}")).status_code == 200
        fresh = grid_report_token(grid_id, new_key)
        assert (await client.get(f"/report/{fresh}")).status_code == 200
        signed_by_jwt = grid_report_token(grid_id, other_jwt)
        assert (await client.get(f"/report/{signed_by_jwt}")).status_code == 404
    # Once the old codes are replaced and the old key dropped, they stop working.
    settings = Settings(
        jwt=JwtSettings(secret=SecretStr(other_jwt)), qr=QrSettings(secret=SecretStr(new_key))
    )
    app = create_app(ApiContext(db=api_db, settings=settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        assert (await client.get(f"/report/{printed}")).status_code == 404
        assert (
            await client.get(f"/report/{grid_report_token(grid_id, new_key)}")
        ).status_code == 200


def test_qr_previous_secrets_read_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_QR_PREVIOUS_SECRETS", "first-old-key, second-old-key")
    assert Settings().qr_accepted_secrets()[1:] == ["first-old-key", "second-old-key"]
