"""Resident charging in a real browser: a port one resident reserves shows as reserved to
another, the owner can cancel it, and the problem report form checks its fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, Page, ViewportSize, expect

from community_hub_tools.demo.seed import DEMO_PASSWORD
from device_adapters.model import DeviceFamily
from hub.ingest.flows import store_batch
from hub.schema.residents import residents
from hub.storage.db import Database
from hub.users.models import Role
from hub.users.service import create_user
from tests.browser.conftest import log_in
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import device_event
from tests.support.stack import running_stack, stack_settings

pytestmark = pytest.mark.e2e

PILE = "ebike:EB-B1-01"  # the e-bike pile of 1号楼
PHONE: ViewportSize = {"width": 390, "height": 844}


async def _free_ports_and_a_neighbour(db: Database) -> None:
    """Ports 1 and 2 of the pile free; 吴美芳's family gets a login."""
    now = datetime.now(UTC) - timedelta(minutes=1)
    batch = [
        device_event(
            PILE,
            DeviceFamily.CHARGER,
            "charger.port_status",
            {"port": port, "status": "available", "availability": "available"},
            received_at=now,
        )
        for port in (1, 2)
    ]
    async with db.write() as conn:
        await store_batch(conn, batch, [], now)
        wu = (
            await conn.execute(sa.select(residents.c.id).where(residents.c.full_name == "吴美芳"))
        ).scalar_one()
        await create_user(
            conn,
            username="wu.family",
            password=DEMO_PASSWORD,
            full_name="吴美芳家属",
            role=Role.RESIDENT,
            resident_id=wu,
        )


async def _charging_page(browser: Browser, api: str, username: str) -> Page:
    page = await browser.new_page(viewport=PHONE, locale="en-US")
    await log_in(page, api, username, via="/login", lands_on="/charging")  # a resident's home
    return page


async def test_a_port_reserved_by_one_resident_shows_reserved_to_another(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        await _free_ports_and_a_neighbour(stack.hub.db)
        sun = await _charging_page(browser, stack.api_url, "resident.sun")
        wu = await _charging_page(browser, stack.api_url, "wu.family")
        port = f"[data-port='{PILE}:1']"
        await expect(wu.locator(port)).to_have_attribute("data-availability", "available")

        await sun.locator(f"[data-reserve='{PILE}:1']").click()
        await expect(sun.locator(port)).to_contain_text("reserved for you")
        await expect(sun.locator("#mine [data-status=active]")).to_contain_text("port 1")
        # One reservation at a time: the server's reason is shown, not swallowed.
        await sun.locator(f"[data-reserve='{PILE}:2']").click()
        await expect(sun.locator("#reserve-error")).to_contain_text("Could not reserve port 2")
        await expect(sun.locator("#reserve-error")).to_contain_text("cancel it first")
        await sun.screenshot(path=str(artifacts / "charging-reserved.png"), full_page=True)

        await wu.reload()
        await expect(wu.locator(port)).to_have_attribute("data-availability", "reserved")
        await expect(wu.locator(port)).not_to_contain_text("for you")
        await expect(wu.locator(f"[data-reserve='{PILE}:1']")).to_have_count(0)

        await sun.locator("#mine [data-status=active] button").click()
        await expect(sun.locator("#mine [data-status=cancelled]")).to_be_visible()
        await wu.reload()
        await expect(wu.locator(port)).to_have_attribute("data-availability", "available")


async def test_the_problem_report_form_checks_fields_and_files_a_ticket(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        page = await _charging_page(browser, stack.api_url, "resident.sun")
        await page.click("#report button[type=submit]")
        await expect(page.locator("#report-title-error")).to_contain_text("what is wrong")
        await expect(page.locator("#report-description-error")).to_contain_text("details")
        await page.fill("#report-title-input", "Port 2 does not start")
        await page.fill("#report-description", "The light stays red after plugging in.")
        await page.click("#report button[type=submit]")
        await expect(page.locator("#report-done")).to_contain_text("is registered")


async def test_a_charger_that_reported_no_ports_says_so(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser
) -> None:
    """Not "0 of 0 free" (共0个口，空闲0个): the pile has reported no ports yet."""
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        english = await _charging_page(browser, stack.api_url, "resident.sun")
        card = english.locator(f"[data-charger='{PILE}']")
        await expect(card.locator(".meta")).to_have_text("No port information yet")
        await expect(card.locator("li")).to_have_count(0)
        chinese = await browser.new_page(viewport=PHONE, locale="zh-CN")
        await log_in(chinese, stack.api_url, "resident.sun", via="/login", lands_on="/charging")
        card = chinese.locator(f"[data-charger='{PILE}']")
        await expect(card.locator(".meta")).to_have_text("暂无充电口信息")
