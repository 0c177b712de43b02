"""The people's pages in Simplified Chinese and English, at the community's local time.

Each role's page (a volunteer's inbox, the property manager's and community staff's
dashboard, a resident's charging page) and the login page are opened by a browser that
asks for Chinese and by one that asks for English. The browser's own zone is New York:
a time on the page must still be Shanghai's, the demo community's. The language switch
sets the ``chub_lang`` cookie and, logged in, the account's language; it holds after a
reload and after logging in again, from another browser too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from device_adapters.model import DeviceFamily
from hub.ingest.flows import store_batch
from hub.schema.alerts import alerts
from hub.schema.grid import grids
from hub.settings import Settings
from tests.browser.conftest import log_in
from tests.browser.test_hardening import running_api
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import device_event, user_id_of
from tests.support.stack import Stack, running_stack, stack_settings

pytestmark = pytest.mark.e2e

PHONE: ViewportSize = {"width": 390, "height": 844}
SHANGHAI = ZoneInfo("Asia/Shanghai")
BROWSER_ZONE = "America/New_York"
PILE = "ebike:EB-B1-01"  # the e-bike pile of 1号楼
LOCK = "z2m:b1_101_front_door"  # a property device: its alerts reach property managers
TICKET = "3号楼门禁卡住了"
LANGUAGES = ("zh-CN", "en")
LOG_IN = {"zh-CN": "登录", "en": "Log in"}
LOG_OUT = {"zh-CN": "退出登录", "en": "Log out"}


@dataclass(frozen=True)
class Case:
    username: str
    home: str
    heading: dict[str, str]  # the page's h1 in each language
    time: str  # the selector of a time whose instant the test knows
    ready: str  # shown once the page has its data


CASES = (
    Case(
        "vol.wang",
        "/inbox",
        {"zh-CN": "待办", "en": "Inbox"},
        "article[data-ticket-id] time[data-time=created]",
        "#tickets article",
    ),
    Case(
        "manager",
        "/dashboard",
        {"zh-CN": "工作台", "en": "Dashboard"},
        "#alerts li[data-kind='lock.tamper'] time[data-time=opened]",
        "#updated[data-state=fresh]",
    ),
    Case(
        "staff",
        "/dashboard",
        {"zh-CN": "工作台", "en": "Dashboard"},
        "#alerts li[data-kind='lock.tamper'] time[data-time=opened]",
        "#updated[data-state=fresh]",
    ),
    Case(
        "resident.sun",
        "/charging",
        {"zh-CN": "充电", "en": "Charging"},
        "#mine [data-status=active] time[data-time=starts]",
        "#mine article",
    ),
)


def local_time(at: datetime, language: str, now: datetime) -> str:
    """What the page must show for ``at``: Shanghai's day and 24-hour clock."""
    local, today = at.astimezone(SHANGHAI), now.astimezone(SHANGHAI).date()
    clock = local.strftime("%H:%M")
    days = (local.date() - today).days
    zh = language == "zh-CN"
    if days == 0:
        return f"今天 {clock}" if zh else f"Today {clock}"
    if days == -1:
        return f"昨天 {clock}" if zh else f"Yesterday {clock}"
    if local.year == today.year:
        day = f"{local.month}月{local.day}日" if zh else f"{local:%b} {local.day}"
    else:
        day = (
            f"{local.year}年{local.month}月{local.day}日"
            if zh
            else f"{local:%b} {local.day}, {local.year}"
        )
    return f"{day} {clock}"


async def _phone(browser: Browser, language: str) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport=PHONE, locale=language, timezone_id=BROWSER_ZONE)
    return context, await context.new_page()


async def _known_times(stack: Stack) -> dict[str, datetime]:
    """A ticket dispatched to vol.wang, a lock alert three days old, a reservation of
    resident.sun's: the instants each page shows, by username."""
    api = stack.api_url
    async with stack.hub.db.write() as conn:
        grid = (
            await conn.execute(sa.select(grids.c.id).where(grids.c.name == "第一网格"))
        ).scalar_one()
        opened = (datetime.now(UTC) - timedelta(days=3)).replace(second=0, microsecond=0)
        await conn.execute(
            alerts.insert().values(
                device_id=LOCK,
                kind="lock.tamper",
                severity="high",
                status="open",
                opened_at=opened,
                last_event_at=opened,
                event_count=1,
                summary="门锁被撬：1号楼1单元101室",
                grid_id=grid,
            )
        )
        now = datetime.now(UTC) - timedelta(minutes=1)
        port = {"port": 1, "status": "available", "availability": "available"}
        event = device_event(
            PILE, DeviceFamily.CHARGER, "charger.port_status", port, received_at=now
        )
        await store_batch(conn, [event], [], now)
        grid2 = (
            await conn.execute(sa.select(grids.c.id).where(grids.c.name == "第二网格"))
        ).scalar_one()
    wang = await user_id_of(stack.hub.db, "vol.wang")
    async with httpx.AsyncClient(timeout=10) as client:
        staff = await stack.login(client, "staff")
        body = {
            "title": TICKET,
            "description": "门卫室反映：刷卡后门打不开",
            "category": "facility_repair",
        }
        ticket = await client.post(
            f"{api}/api/v1/tickets", json=body | {"grid_id": grid2}, headers=staff
        )
        assert ticket.status_code == 201, ticket.text
        dispatched = await client.post(
            f"{api}/api/v1/tickets/{ticket.json()['id']}/transitions",
            json={"action": "dispatch", "assignee_id": wang},
            headers=staff,
        )
        assert dispatched.status_code == 200, dispatched.text
        sun = await stack.login(client, "resident.sun")
        reserved = await client.post(
            f"{api}/api/v1/chargers/{PILE}/ports/1/reservations", json={"minutes": 30}, headers=sun
        )
        assert reserved.status_code in (200, 201), reserved.text
    instants = {
        "vol.wang": ticket.json()["created_at"],
        "resident.sun": reserved.json()["starts_at"],
    }
    known = {name: datetime.fromisoformat(at) for name, at in instants.items()}
    return known | {"manager": opened, "staff": opened}


async def _lang(page: Page) -> str | None:
    return await page.locator("html").get_attribute("lang")


@pytest.mark.parametrize("case", CASES, ids=[c.username for c in CASES])
async def test_each_page_in_chinese_and_english_at_the_community_time(
    case: Case, mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        known = (await _known_times(stack))[case.username]
        api = stack.api_url
        errors: list[str] = []
        for language in LANGUAGES:
            context, page = await _phone(browser, language)
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{api}/login")
            assert await _lang(page) == language
            await expect(page.locator("#login h2")).to_have_text(LOG_IN[language])
            await expect(page.locator("button[type=submit]")).to_have_text(LOG_IN[language])
            await page.screenshot(path=str(artifacts / f"lang-login-{language}.png"))

            await log_in(page, api, case.username, via="/login", lands_on=case.home)
            await expect(page.locator(case.ready).first).to_be_visible()
            assert await _lang(page) == language
            await expect(page.locator("header.bar h1")).to_have_text(case.heading[language])
            await expect(page.locator("#logout")).to_have_text(LOG_OUT[language])
            # The browser is in New York; the page says Shanghai's time, 24-hour.
            shown = page.locator(case.time).first
            expected = local_time(known, language, datetime.now(UTC))
            await expect(shown).to_contain_text(expected)
            new_york = known.astimezone(ZoneInfo(BROWSER_ZONE)).strftime("%H:%M")
            assert new_york not in (await shown.text_content() or "")
            await page.screenshot(
                path=str(artifacts / f"lang-{case.username}-{language}.png"), full_page=True
            )
            if language == "en":  # last: the account's choice would outlast the test's turn
                await _switch_there_and_back(page, case)
            assert errors == []
            await context.close()


async def _switch_there_and_back(page: Page, case: Case) -> None:
    """English → 中文, kept over a reload → English, from the role's own page."""
    await page.get_by_role("group", name="Language").get_by_role("button", name="中文").click()
    await expect(page.locator("header.bar h1")).to_have_text(case.heading["zh-CN"])
    await page.reload()
    await expect(page.locator(case.ready).first).to_be_visible()
    await expect(page.locator("#logout")).to_have_text(LOG_OUT["zh-CN"])
    assert await _lang(page) == "zh-CN"
    await page.get_by_role("group", name="语言").get_by_role("button", name="English").click()
    await expect(page.locator("header.bar h1")).to_have_text(case.heading["en"])
    await expect(page.locator("#logout")).to_have_text(LOG_OUT["en"])


async def test_the_switch_holds_after_reloading_and_logging_in_again(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        await _known_times(stack)
        api = stack.api_url

        async def profile_locale() -> str | None:
            async with httpx.AsyncClient(timeout=10) as client:
                me = await client.get(
                    f"{api}/api/v1/auth/me", headers=await stack.login(client, "vol.wang")
                )
            locale: str | None = me.json()["locale"]
            return locale

        # A Chinese phone switches the login page to English: a cookie, for a year.
        context, page = await _phone(browser, "zh-CN")
        await page.goto(f"{api}/login")
        assert await _lang(page) == "zh-CN"
        switch = page.get_by_role("group", name="语言")
        await expect(switch.locator("[aria-pressed=true]")).to_have_text("中文")
        await switch.get_by_role("button", name="English").click()
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator("#login h2")).to_have_text("Log in")
        cookie = next(c for c in await context.cookies() if c["name"] == "chub_lang")
        assert cookie["value"] == "en" and cookie["path"] == "/"
        assert cookie["sameSite"] == "Lax"
        assert cookie["expires"] > (datetime.now(UTC) + timedelta(days=360)).timestamp()
        await page.reload()
        assert await _lang(page) == "en"

        # Logged in, the page stays English; no language was chosen for the account.
        await log_in(page, api, "vol.wang", via="/login", lands_on="/inbox")
        await expect(page.locator("#tickets article").first).to_be_visible()
        assert await _lang(page) == "en"
        assert await profile_locale() is None

        # Back to Chinese from the inbox: the account keeps it, a reload keeps it.
        await page.get_by_role("group", name="Language").get_by_role("button", name="中文").click()
        await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        await expect(page.locator("header.bar h1")).to_have_text("待办")
        await expect(page.locator("#tickets [data-status]").first).to_have_text("已派单")
        assert await profile_locale() == "zh-CN"
        await page.reload()
        await expect(page.locator("#logout")).to_have_text("退出登录")
        assert await _lang(page) == "zh-CN"
        await page.screenshot(path=str(artifacts / "lang-switched-inbox-zh-CN.png"))
        await page.locator("#logout").click()
        await expect(page.locator("#login-notice")).to_have_text("您已退出登录。")
        await context.close()

        # Another phone, in English: the login page is English, but after logging in the
        # account's Chinese follows, and the cookie now says so.
        context, page = await _phone(browser, "en-US")
        await page.goto(f"{api}/login")
        assert await _lang(page) == "en"
        await log_in(page, api, "vol.wang", via="/login", lands_on="/inbox")
        await expect(page.locator("#logout")).to_have_text("退出登录")
        assert await _lang(page) == "zh-CN"
        cookie = next(c for c in await context.cookies() if c["name"] == "chub_lang")
        assert cookie["value"] == "zh-CN"

        # A stale cookie is put right by the account, with one reload and no more.
        await context.add_cookies([{"name": "chub_lang", "value": "en", "url": api}])
        loads: list[int] = []
        page.on("load", lambda _: loads.append(1))
        await page.reload()
        await expect(page.locator("#logout")).to_have_text("退出登录")
        await expect(page.locator("#tickets article").first).to_be_visible()
        assert await _lang(page) == "zh-CN"
        assert len(loads) == 2, loads  # the reload asked for, and the one the account made

        # Switched to English there; logging in again elsewhere brings English.
        await page.get_by_role("group", name="语言").get_by_role("button", name="English").click()
        await expect(page.locator("#logout")).to_have_text("Log out")
        assert await profile_locale() == "en"
        await context.close()
        context, page = await _phone(browser, "zh-CN")
        await log_in(page, api, "vol.wang", via="/inbox", lands_on="/inbox")
        await expect(page.locator("#logout")).to_have_text("Log out")
        assert await _lang(page) == "en"
        await context.close()


async def test_the_api_docs_page_speaks_the_language_around_swagger_ui(
    tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    async with running_api(tmp_path, Settings()) as running:
        context, page = await _phone(browser, "zh-CN")
        await page.goto(f"{running.url}/docs")
        assert await _lang(page) == "zh-CN"
        await expect(page).to_have_title("接口文档 · 智慧社区")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Community Hub")
        await page.screenshot(path=str(artifacts / "lang-docs-zh-CN.png"))
        await page.get_by_role("group", name="语言").get_by_role("button", name="English").click()
        await expect(page).to_have_title("API · Community Hub")
        assert await _lang(page) == "en"
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Community Hub")
        await page.screenshot(path=str(artifacts / "lang-docs-en.png"))
        await context.close()


async def test_times_and_phone_numbers_are_written_as_the_server_writes_them(
    tmp_path: Path, browser: Browser
) -> None:
    """Hub.time, Hub.relative and Hub.phone on the login page (the first community's
    zone), in a New York browser: the year shows only when it is not this one."""
    last_year = datetime(datetime.now(UTC).year - 1, 3, 1, 5, 7, tzinfo=UTC)  # 13:07 there
    expected = {
        "zh-CN": (f"{last_year.year}年3月1日 13:07", "5分钟后到期", "3小时前"),
        "en": (f"Mar 1, {last_year.year} 13:07", "due in 5 minutes", "3 hours ago"),
    }
    phones = {
        "13920000000": "139 2000 0000",
        "+86 13920000000": "+86 139 2000 0000",
        "01088886666": "010 8888 6666",
        "075588886666": "0755 8888 6666",
        "12345": "12345",
        "139-2000-0000 ext 5": "139-2000-0000 ext 5",  # not only digits: left as written
    }
    async with running_api(tmp_path, Settings()) as running:
        for language, (dated, due, ago) in expected.items():
            context, page = await _phone(browser, language)
            await page.goto(f"{running.url}/login")
            shown = await page.evaluate(
                """([at, phones]) => [
                    Hub.time(at),
                    _("due %(when)s", {
                        when: Hub.relative(new Date(Date.now() + 300000).toISOString()),
                    }),
                    Hub.relative(new Date(Date.now() - 3 * 3600000).toISOString()),
                    Hub.zone,
                    phones.map((p) => Hub.phone(p)),
                ]""",
                [last_year.isoformat(), list(phones)],
            )
            assert shown == [dated, due, ago, "Asia/Shanghai", list(phones.values())]
            await context.close()
