"""The volunteer inbox in a real browser, on the real pipeline.

A watch's SOS frame goes into the edge, through Mosquitto to the hub; the
volunteer on duty has the inbox open at a phone's width and sees the alarm
appear without reloading, with the wearer's address and family contact, then
accepts it from the page. A dropped live connection is picked up again.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, ViewportSize, expect

from community_hub_tools.sim.watch import SimulatedWatch, send_once
from tests.browser.conftest import log_in
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import volunteer_on_duty_for
from tests.support.stack import running_stack, stack_settings

pytestmark = pytest.mark.e2e

SUN = "8800000101"  # 孙丽华's wristband, grid 1
PHONE: ViewportSize = {"width": 390, "height": 844}


async def test_an_sos_appears_live_and_the_volunteer_accepts_it(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        api = stack.api_url
        volunteer = await volunteer_on_duty_for(stack.hub.db, SUN, datetime.now(UTC))
        page = await browser.new_page(viewport=PHONE, locale="en-US")
        await log_in(page, api, volunteer, via="/inbox", lands_on="/inbox")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        await expect(page.locator(".empty")).to_be_visible()
        loads = []
        page.on("load", lambda _: loads.append(1))

        await send_once(
            "127.0.0.1",
            stack.edge_settings.watch_port,
            SimulatedWatch(SUN).alarm("sos"),
            expect_reply=True,
        )
        card = page.locator("article.card").first
        await expect(card).to_be_visible(timeout=15_000)
        await expect(card.locator("h2")).to_contain_text("孙丽华")
        await expect(card).to_contain_text("1号楼")
        family = card.locator("a[href^='tel:137']")  # family contact
        await expect(family).to_be_visible()
        # Grouped to read aloud (hub/i18n/formats.py), whole in the tel: address.
        await expect(family).to_contain_text(re.compile(r"137 \d{4} \d{4}$"))
        assert re.fullmatch(r"tel:137\d{8}", await family.get_attribute("href") or "")
        await expect(card.locator("[data-status]")).to_have_text("Dispatched")
        assert loads == [], "the page reloaded instead of updating live"
        await page.screenshot(path=str(artifacts / "inbox-sos-live.png"), full_page=True)

        await card.locator("button[data-action=accept]").click()
        await expect(card.locator("[data-status]")).to_have_text("Accepted")
        # On site needs a note: an empty one is refused with a message, not sent.
        start = card.locator(".action", has=page.locator("button[data-action=start]"))
        await start.locator("button").click()  # shows the note field
        await start.locator("button").click()  # sends nothing: the note is empty
        await expect(start.locator(".error")).to_contain_text("required")
        await start.locator("textarea").fill("with her now, she is fine")
        await start.locator("button").click()
        await expect(card.locator("[data-status]")).to_have_text("In progress")
        await page.screenshot(path=str(artifacts / "inbox-accepted.png"), full_page=True)

        async with httpx.AsyncClient(timeout=10) as client:
            headers = await stack.login(client, volunteer)
            ticket_id = int(await card.get_attribute("data-ticket-id") or 0)
            stored = (await client.get(f"{api}/api/v1/tickets/{ticket_id}", headers=headers)).json()
        assert stored["status"] == "in_progress"
        assert any("she is fine" in (entry.get("note") or "") for entry in stored["log"])


async def test_the_inbox_catches_up_after_its_live_connection_drops(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        api = stack.api_url
        volunteer = await volunteer_on_duty_for(stack.hub.db, SUN, datetime.now(UTC))
        context = await browser.new_context(viewport=PHONE, locale="en-US")
        page = await context.new_page()
        await log_in(page, api, volunteer, via="/inbox", lands_on="/inbox")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")

        await context.set_offline(True)  # the phone loses its network
        await page.evaluate("state.source.close(); state.source.onerror()")
        await expect(page.locator("#live")).to_have_attribute("data-state", "down")
        await send_once(
            "127.0.0.1",
            stack.edge_settings.watch_port,
            SimulatedWatch(SUN).alarm("sos"),
            expect_reply=True,
        )
        await context.set_offline(False)
        card = page.locator("article.card").first
        await expect(card).to_be_visible(timeout=20_000)
        await expect(card.locator("h2")).to_contain_text("孙丽华")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")


async def test_a_wrong_password_and_empty_fields_get_clear_messages(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        page = await browser.new_page(viewport=PHONE, locale="en-US")
        await page.goto(f"{stack.api_url}/login")
        await page.click("button[type=submit]")
        await expect(page.locator("#username-error")).to_have_text("Enter your username.")
        await expect(page.locator("#password-error")).to_have_text("Enter your password.")
        await page.fill("#username", "vol.li")
        await page.fill("#password", "not-the-password")
        await page.click("button[type=submit]")
        await expect(page.locator("#form-error")).to_contain_text("wrong username or password")
        await expect(page).to_have_url(f"{stack.api_url}/login")
