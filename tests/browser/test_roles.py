"""Each role in a real browser, logged in through the login page at a phone's width.

Two communities are on the hub: the demo's and a second one, "Elsewhere", with its own
building and e-bike pile. Two repair tickets are open in the demo community, one in each
grid; the grid 2 one is dispatched to vol.wang. Each role lands on its own page, sees
the navigation links it may use and no others, sees its own data and not another's, is
told (and asks for no data) on a page that is not for it, fits a 360 px screen, and
logs out for good: the refresh token the tab held is refused afterwards.

Silent (duress) alerts and health readings are not asserted here: who sees those is
decided elsewhere (docs/auth.md) and tested with the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, Page, Request, ViewportSize, expect
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeviceFamily
from hub.devices.service import register_device
from hub.ingest.flows import store_batch
from hub.schema.grid import buildings, communities, grids, streets
from hub.storage.db import Database
from tests.browser.conftest import log_in
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import device_event, user_id_of
from tests.support.stack import Stack, running_stack, stack_settings

pytestmark = pytest.mark.e2e

PHONE: ViewportSize = {"width": 360, "height": 740}
ELSEWHERE_PILE = "ebike:EB-ELSEWHERE-01"
GRID1_TICKET = "1号楼楼道灯不亮"
GRID2_TICKET = "3号楼门禁卡住了"
PAGES = ("/dashboard", "/inbox", "/charging")
OUR_PILE = "ebike:EB-B1-01"  # the e-bike pile of 1号楼


@dataclass(frozen=True)
class RoleCase:
    username: str
    home: str
    nav: tuple[str, ...]  # the nav links, in order
    sees: tuple[tuple[str, str], ...]  # (selector on the home page, text it must contain)
    not_sees: tuple[tuple[str, str], ...] = field(default=())


CASES = (
    RoleCase(
        "admin",
        "/dashboard",
        ("Dashboard", "Inbox"),
        # Admins look after every community.
        sees=(("#buildings", "1号楼"), ("#buildings", "Building Elsewhere")),
    ),
    RoleCase(
        "manager",
        "/dashboard",
        ("Dashboard", "Inbox"),
        sees=(("#buildings", "1号楼"), ("#buildings", "4号楼")),
        not_sees=(("#buildings", "Building Elsewhere"),),
    ),
    RoleCase(
        "staff",
        "/dashboard",
        ("Dashboard", "Inbox"),
        sees=(("#buildings", "1号楼"), ("#buildings", "4号楼")),
        not_sees=(("#buildings", "Building Elsewhere"),),
    ),
    RoleCase(
        "vol.wang",  # grid 2
        "/inbox",
        ("Inbox",),
        sees=(("#tickets", GRID2_TICKET),),
        not_sees=(("#tickets", GRID1_TICKET),),
    ),
    RoleCase(
        "resident.sun",  # household 1号楼1单元101室
        "/charging",
        ("Charging",),
        sees=(
            ("#devices", "1号楼1单元101室门锁"),
            ("#stations", "1号楼电动车充电桩"),
        ),
        not_sees=(
            ("#devices", "2号楼1单元202室门锁"),  # another household's
            ("#stations", "E-bike pile, Elsewhere"),  # another community's
        ),
    ),
)


async def _insert(conn: AsyncConnection, table: sa.Table, **values: object) -> int:
    result = await conn.execute(table.insert().values(**values))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


async def _another_community(db: Database) -> None:
    """A second community, "Elsewhere": one grid, one building with an e-bike pile."""
    async with db.write() as conn:
        street = await _insert(conn, streets, name="Elsewhere Street")
        community = await _insert(
            conn, communities, street_id=street, name="Elsewhere", timezone="UTC"
        )
        grid = await _insert(conn, grids, community_id=community, name="Grid E")
        building = await _insert(conn, buildings, grid_id=grid, name="Building Elsewhere")
        await register_device(
            conn,
            device_id=ELSEWHERE_PILE,
            family=DeviceFamily.CHARGER.value,
            protocol="ebike",
            name="E-bike pile, Elsewhere",
            building_id=building,
        )
        # Both piles report a free port, so each would be listed if the scope let it.
        now = datetime.now(UTC) - timedelta(minutes=1)
        batch = [
            device_event(
                pile,
                DeviceFamily.CHARGER,
                "charger.port_status",
                {"port": 1, "status": "available", "availability": "available"},
                received_at=now,
            )
            for pile in (OUR_PILE, ELSEWHERE_PILE)
        ]
        await store_batch(conn, batch, [], now)


async def _grid_tickets(stack: Stack) -> None:
    """A repair ticket in each grid of the demo community; grid 2's goes to vol.wang."""
    async with stack.hub.db.read() as conn:
        rows = await conn.execute(sa.select(grids.c.name, grids.c.id))
        grid_ids = {row.name: row.id for row in rows}
    wang = await user_id_of(stack.hub.db, "vol.wang")
    api = f"{stack.api_url}/api/v1/tickets"
    async with httpx.AsyncClient(timeout=10) as client:
        staff = await stack.login(client, "staff")
        for title, grid in ((GRID1_TICKET, "第一网格"), (GRID2_TICKET, "第二网格")):
            body = {
                "title": title,
                "description": "居民到物业前台反映",
                "category": "facility_repair",
                "grid_id": grid_ids[grid],
            }
            opened = await client.post(api, json=body, headers=staff)
            assert opened.status_code == 201, opened.text
            if title == GRID2_TICKET:
                dispatched = await client.post(
                    f"{api}/{opened.json()['id']}/transitions",
                    json={"action": "dispatch", "assignee_id": wang},
                    headers=staff,
                )
                assert dispatched.status_code == 200, dispatched.text


async def _fits_the_screen(page: Page) -> None:
    widths = await page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth, location.pathname]"
    )
    assert widths[0] <= widths[1], f"{widths[2]} is {widths[0]} px wide on a {widths[1]} px screen"


async def _wait_for_content(page: Page, path: str) -> None:
    """The page has shown its data (or its refusal)."""
    ready = {
        "/dashboard": "#updated[data-state=fresh], #blocked",
        "/inbox": "#tickets > *, #blocked",
        "/charging": "#stations > *, #blocked",
    }[path]
    await expect(page.locator(ready).first).to_be_visible()


@pytest.mark.parametrize("case", CASES, ids=[c.username for c in CASES])
async def test_each_role_sees_its_pages_and_data_and_not_anothers(
    case: RoleCase,
    mosquitto: MosquittoProcess,
    tmp_path: Path,
    browser: Browser,
    artifacts: Path,
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        await _another_community(stack.hub.db)
        await _grid_tickets(stack)
        api = stack.api_url
        context = await browser.new_context(viewport=PHONE, locale="en-US")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await log_in(page, api, case.username, via="/login", lands_on=case.home)

        # The shared header: this role's pages, the current one marked, who is logged in.
        nav = page.locator("nav.site-nav")
        await expect(nav.locator(".links a")).to_have_text(list(case.nav))
        await expect(nav.locator("a[aria-current=page]")).to_have_attribute("href", case.home)
        await expect(nav.locator(".who")).to_have_attribute("data-role", await _role_of(page))
        await expect(nav.locator("#logout")).to_be_visible()

        await _wait_for_content(page, case.home)
        for selector, text in case.sees:
            await expect(page.locator(selector)).to_contain_text(text)
        for selector, text in case.not_sees:
            await expect(page.locator(selector)).not_to_contain_text(text)
        await _fits_the_screen(page)
        await page.screenshot(
            path=str(artifacts / f"role-{case.username}-{case.home.strip('/')}.png"),
            full_page=True,
        )

        for path in PAGES:
            label = path.strip("/").capitalize()
            if label in case.nav:
                await page.goto(f"{api}{path}")
                await _wait_for_content(page, path)
                await expect(page.locator("#blocked")).to_have_count(0)
                await _fits_the_screen(page)
            else:
                await _is_refused_without_asking_for_data(page, api, path, case, artifacts)

        # Log out: back at the login page, and the tab's refresh token is dead.
        await page.goto(f"{api}{case.home}")
        await _wait_for_content(page, case.home)
        refresh_token = await page.evaluate("JSON.parse(localStorage.getItem('chub.auth')).refresh")
        assert refresh_token
        await page.locator("#logout").click()
        await expect(page).to_have_url(f"{api}/login?bye=1")
        await expect(page.locator("#login-notice")).to_have_text("You are logged out.")
        assert await page.evaluate("localStorage.getItem('chub.auth')") is None
        async with httpx.AsyncClient(timeout=10) as client:
            refused = await client.post(
                f"{api}/api/v1/auth/refresh",
                json={"refresh_token": refresh_token},
                headers={"Accept-Language": "en-US"},  # as the English page's browser
            )
        assert refused.status_code == 401, refused.text
        assert "revoked" in refused.json()["detail"]
        # And the pages want a login again.
        await page.goto(f"{api}{case.home}")
        await expect(page).to_have_url(re_login(api, case.home))
        assert errors == []
        await context.close()


def re_login(api: str, path: str) -> str:
    return f"{api}/login?next={quote(path, safe='')}"


async def _role_of(page: Page) -> str:
    role = await page.evaluate("JSON.parse(localStorage.getItem('chub.auth')).role")
    assert isinstance(role, str)
    return role


async def _is_refused_without_asking_for_data(
    page: Page, api: str, path: str, case: RoleCase, artifacts: Path
) -> None:
    asked: list[str] = []

    def note(request: Request) -> None:
        if "/api/" in request.url:
            asked.append(request.url.removeprefix(api))

    await page.goto("about:blank")  # the last page's requests end here
    page.on("request", note)
    await page.goto(f"{api}{path}")
    blocked = page.locator("#blocked")
    await expect(blocked).to_be_visible()
    await expect(blocked.locator("h2")).to_contain_text("is not for your account")
    await expect(blocked).to_contain_text("You are logged in as")
    link = blocked.locator("a")
    await expect(link).to_have_attribute("href", case.home)
    await expect(link).to_have_text(f"Go to {case.home.strip('/').capitalize()}")
    # The navigation is still there, with this role's own pages only.
    await expect(page.locator("nav.site-nav .links a")).to_have_text(list(case.nav))
    await _fits_the_screen(page)
    page.remove_listener("request", note)
    assert asked == ["/api/v1/auth/me"], f"{path} asked for {asked}"
    await page.screenshot(
        path=str(artifacts / f"role-{case.username}-refused-{path.strip('/')}.png"),
        full_page=True,
    )


async def test_a_page_opened_without_logging_in_says_to_log_in_and_leads_back(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        api = stack.api_url
        page = await browser.new_page(viewport=PHONE, locale="en-US")
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/api/" in r.url else None)
        await page.goto(f"{api}/dashboard")
        await expect(page).to_have_url(re_login(api, "/dashboard"))
        await expect(page.locator("#login-notice")).to_have_text("Log in to open the dashboard.")
        assert asked == [], f"asked for data without a login: {asked}"
        await _fits_the_screen(page)
        await page.screenshot(path=str(artifacts / "login-asked-for-dashboard.png"))
        # Logging in leads to the page asked for (a manager may use it).
        await page.fill("#username", "manager")
        await page.fill("#password", "x")
        await page.click("button[type=submit]")
        await expect(page.locator("#form-error")).to_contain_text("wrong username or password")
        await log_in(page, api, "manager", via="/dashboard", lands_on="/dashboard")
        await expect(page.locator("#updated")).to_have_attribute("data-state", "fresh")


async def test_staff_dispatch_from_the_inbox_with_the_servers_reason_shown(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        api = stack.api_url
        await _grid_tickets(stack)
        async with httpx.AsyncClient(timeout=10) as client:
            wang = await stack.login(client, "vol.wang")
            found = await client.get(f"{api}/api/v1/tickets", headers=wang)
            (ticket,) = found.json()["items"]
            returned = await client.post(
                f"{api}/api/v1/tickets/{ticket['id']}/transitions",
                json={"action": "return", "reason": "away this week"},
                headers=wang,
            )
            assert returned.status_code == 200, returned.text
        page = await browser.new_page(viewport=PHONE, locale="en-US")
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await log_in(page, api, "staff", via="/login", lands_on="/dashboard")
        await page.locator("nav.site-nav a[data-nav=inbox]").click()
        await expect(page).to_have_url(f"{api}/inbox")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")

        card = page.locator("article.card", has_text=GRID2_TICKET)
        await expect(card.locator("[data-status]")).to_have_text("Returned")
        dispatch = card.locator(".action[data-for=dispatch]")
        await dispatch.locator("button").click()  # shows the volunteers of grid 2
        select = dispatch.locator("select")
        wang_id = await user_id_of(stack.hub.db, "vol.wang")
        zhao_id = await user_id_of(stack.hub.db, "vol.zhao")
        await expect(select.locator(f"option[value='{zhao_id}']")).to_have_count(1)
        await dispatch.locator("button").click()  # nobody chosen: refused on the page
        await expect(dispatch.locator(".error")).to_have_text("Choose a volunteer.")
        await expect(select).to_have_attribute("aria-invalid", "true")

        # The server's reason, shown where the action was tried.
        await select.select_option(str(wang_id))
        # A reload of the list (as a notification causes) keeps an unchanged card as it is.
        await page.evaluate("loadTickets()")
        await expect(select).to_have_value(str(wang_id))
        await dispatch.locator("button").click()
        await expect(dispatch.locator(".error")).to_contain_text(
            "vol.wang returned this ticket; dispatch it to someone else"
        )
        await _fits_the_screen(page)
        await page.screenshot(path=str(artifacts / "inbox-staff-dispatch-refused.png"))

        await select.select_option(str(zhao_id))
        await dispatch.locator("button").click()
        await expect(card.locator("[data-status]")).to_have_text("Dispatched")
        await expect(card.locator(".action[data-for=dispatch]")).to_have_count(0)
        async with httpx.AsyncClient(timeout=10) as client:
            staff = await stack.login(client, "staff")
            stored = await client.get(f"{api}/api/v1/tickets/{ticket['id']}", headers=staff)
        assert stored.json()["assignee_id"] == zhao_id
        assert errors == []
