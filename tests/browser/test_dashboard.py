"""The dashboard in a real browser, on the real pipeline.

A watch's heartbeat and SOS go into the edge, through Mosquitto to the hub; the
volunteer on duty handles the ticket and community staff close it. The staff's
dashboard, at a phone's width, shows the buildings' health, the SOS among the
active alerts, both charts with bars, and the wristband's history.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from community_hub_tools.sim.watch import SimulatedWatch, send_once
from tests.browser.conftest import log_in
from tests.browser.test_languages import local_time
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import volunteer_on_duty_for
from tests.support.stack import Stack, poll, running_stack, stack_settings

pytestmark = pytest.mark.e2e

SUN = "8800000101"  # 孙丽华's wristband, 1号楼, grid 1
WU = "8800000301"  # 吴美芳's wristband, 3号楼, grid 2
WRISTBAND = f"watch:{SUN}"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESK: ViewportSize = {"width": 1280, "height": 900}
# What a machine reads and a person must not: an ISO stamp, a raw key.
MACHINE_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\d\d:\d\d:\d\d[Z+]|_[a-z]")


async def _sos_handled_and_closed(stack: Stack) -> None:
    """A heartbeat and an SOS from 孙丽华's wristband; the SOS's ticket ends closed."""
    api, port = stack.api_url, stack.edge_settings.watch_port
    volunteer = await volunteer_on_duty_for(stack.hub.db, SUN, datetime.now(UTC))
    watch = SimulatedWatch(SUN)
    await send_once("127.0.0.1", port, watch.heartbeat(), expect_reply=True)
    await send_once("127.0.0.1", port, watch.alarm("sos"), expect_reply=True)
    async with httpx.AsyncClient(timeout=10) as client:
        # Staff, not the property manager: elderly-care tickets and alerts (an SOS) are
        # kept from property managers (hub/access/scope.py, docs/auth.md).
        staff = await stack.login(client, "staff")
        handler = await stack.login(client, volunteer)
        found = await poll(client, f"{api}/api/v1/tickets", staff)
        items = found["items"]
        assert isinstance(items, list)
        ticket_id = items[0]["id"]
        for headers, action, note in (
            (handler, "accept", None),
            (handler, "start", "with her now"),
            (handler, "resolve", "she had pressed it by mistake; all well"),
            (staff, "verify", None),
            (staff, "close", None),
        ):
            body = {"action": action} | ({"note": note} if note else {})
            if action == "resolve":
                body["disposition"] = "accidental"  # an alarm ticket says what it was
            response = await client.post(
                f"{api}/api/v1/tickets/{ticket_id}/transitions", json=body, headers=headers
            )
            assert response.status_code == 200, response.text
        # The heartbeat travels on the telemetry lane: wait until both events are stored.
        for _ in range(150):
            history = await client.get(f"{api}/api/v1/devices/{WRISTBAND}/events", headers=staff)
            if len(history.json()["items"]) >= 2:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the wristband's events did not arrive: {history.text}")


async def test_staff_see_buildings_alerts_charts_and_a_devices_history(
    mosquitto: MosquittoProcess,
    tmp_path: Path,
    browser: Browser,
    artifacts: Path,
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        await _sos_handled_and_closed(stack)
        page = await browser.new_page(viewport=PHONE, locale="en-US")
        await page.clock.install()  # the 30 s refresh runs when the test says so
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await log_in(page, stack.api_url, "staff", via="/dashboard", lands_on="/dashboard")
        await expect(page.locator("#updated")).to_have_attribute("data-state", "fresh")

        # Building health: four buildings; the SOS (acknowledged, not cleared) is a fault.
        cards = page.locator("article.building")
        await expect(cards).to_have_count(4)
        b1 = cards.filter(has_text="1号楼")
        await expect(b1.locator("[data-count=faulted] .n")).to_have_text("1")
        await expect(b1).to_have_attribute("data-health", "bad")
        await expect(
            cards.filter(has_text="4号楼").locator("[data-count=faulted] .n")
        ).to_have_text("0")

        # The SOS among the active alerts; nothing is open against a time limit any more.
        alert = page.locator("#alerts li.alert[data-kind='wristband.sos']")
        await expect(alert).to_be_visible()
        await expect(alert).to_contain_text("1号楼")
        await expect(alert.locator("[data-status]")).to_have_text("acknowledged")
        await expect(page.locator("[data-limit=alerts] .n")).to_have_text("1")
        await expect(page.locator("[data-limit=overdue] .n")).to_have_text("0")

        # Both charts, each with a title and an accessible name, and with bars.
        alerts_chart = page.locator("svg#chart-alerts")
        await expect(alerts_chart).to_have_attribute("role", "img")
        await expect(alerts_chart).to_have_attribute(
            "aria-label",
            re.compile(r"^Alerts opened per day, by kind\. 1 alert in 14 days, 1 kind;"),
        )
        sos_bar = alerts_chart.locator("rect.bar[data-series='wristband.sos']")
        await expect(sos_bar).to_have_count(1)
        await expect(sos_bar).to_have_attribute("data-value", "1")
        # The legend says the kind in words (the browser asks for English); the bars and
        # legend items keep the kind's code in data-series.
        await expect(alerts_chart.locator(".legend-item")).to_have_text(["SOS"])
        await expect(
            alerts_chart.locator(".legend-item[data-series='wristband.sos']")
        ).to_have_count(1)
        close_chart = page.locator("svg#chart-close")
        await expect(close_chart.locator("title").first).to_have_text(
            "Median time to close, by day closed"
        )
        await expect(close_chart).to_have_attribute(
            "aria-label", re.compile("1 ticket closed in 14 days")
        )
        await expect(close_chart.locator("rect.bar")).to_have_count(1)
        await expect(close_chart.locator(".reference")).to_have_count(1)
        await page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

        # A building's devices, then a device's detail and recent history.
        await b1.locator("h3 button").click()
        await expect(page.locator("#building-detail")).to_be_visible()
        device = page.locator(f"#devices li[data-device-id='{WRISTBAND}']")
        await expect(page.locator("#devices li.device")).to_have_count(4)
        await expect(device).to_contain_text("faulted")
        await device.locator("button").click()
        await expect(page.locator("#device-detail")).to_be_visible()
        await expect(page.locator("#device-name")).to_have_text("孙丽华的手环")
        # The alarm frame carries a position fix too: an SOS and a position, at one instant.
        await expect(page.locator("#history tr[data-kind='wristband.sos']")).to_have_count(1)
        await expect(page.locator("#history tr[data-kind='wristband.heartbeat']")).to_have_count(1)
        state = await _wristband_state(stack)
        await _state_in_words(page, state, "en")
        await page.screenshot(path=str(artifacts / "dashboard-device.png"), full_page=True)

        # A fall in 3号楼 shows up at the next refresh, without a reload.
        loads: list[int] = []
        page.on("load", lambda _: loads.append(1))
        await send_once(
            "127.0.0.1",
            stack.edge_settings.watch_port,
            SimulatedWatch(WU).alarm("fall"),
            expect_reply=True,
        )
        async with httpx.AsyncClient(timeout=10) as client:
            staff = await stack.login(client, "staff")
            await poll(client, f"{stack.api_url}/api/v1/alerts", staff, until_total=2)
        await page.clock.run_for(30_000)
        await expect(page.locator("#alerts li.alert")).to_have_count(2)
        await expect(page.locator("#alerts li.alert").first).to_have_attribute(
            "data-kind", "wristband.fall"
        )
        await expect(
            cards.filter(has_text="3号楼").locator("[data-count=faulted] .n")
        ).to_have_text("1")
        await expect(page.locator("#device-detail")).to_be_visible()  # still open
        assert loads == [], "the page reloaded instead of refreshing its figures"

        await page.set_viewport_size(DESK)
        await page.screenshot(path=str(artifacts / "dashboard-wide.png"), full_page=True)
        assert errors == []

        # In Chinese, from a browser in New York: the state in words, Shanghai's time.
        context = await browser.new_context(
            viewport=PHONE, locale="zh-CN", timezone_id="America/New_York"
        )
        chinese = await context.new_page()
        chinese.on("pageerror", lambda error: errors.append(str(error)))
        await log_in(chinese, stack.api_url, "staff", via="/dashboard", lands_on="/dashboard")
        building = chinese.locator("article.building").filter(has_text="1号楼")
        await building.locator("h3 button").click()
        await chinese.locator(f"#devices li[data-device-id='{WRISTBAND}'] button").click()
        await expect(chinese.locator("#device-detail")).to_be_visible()
        await _state_in_words(chinese, await _wristband_state(stack), "zh-CN")
        await chinese.screenshot(path=str(artifacts / "dashboard-device-zh.png"), full_page=True)
        await context.close()
        assert errors == []


async def _wristband_state(stack: Stack) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        staff = await stack.login(client, "staff")
        found = await client.get(f"{stack.api_url}/api/v1/devices/{WRISTBAND}", headers=staff)
    assert found.status_code == 200, found.text
    state = found.json()["state"]
    assert isinstance(state, dict)
    return state


async def _state_in_words(page: Page, state: dict[str, Any], language: str) -> None:
    """The detail's state and history say facts in words, times in Shanghai's zone: no
    raw key (battery_pct), no ISO stamp."""
    shown = page.locator("#device-facts dd").nth(4)  # Device, Reachable, Battery, Last seen
    zh = language == "zh-CN"
    battery = "电量" if zh else "Battery"
    await expect(shown).to_contain_text(f"{battery} {state['battery_pct']}%")
    if "position_at" in state:
        at = datetime.fromisoformat(state["position_at"])
        when = local_time(at, language, datetime.now(UTC))
        position = "位置更新于" if zh else "Position updated"
        await expect(shown).to_contain_text(f"{position} {when}")
    text = await shown.text_content() or ""
    assert not MACHINE_TEXT.search(text), text
    # Why it is reachable is said in words too (心跳超时 ...), never the edge's code.
    reach = await page.locator("#device-facts dd").nth(1).text_content() or ""
    if zh:
        assert not re.search(r"[a-z_]{4,}", reach), reach
    await expect(page.locator("#history td.values").first).to_be_visible()
    for cell in await page.locator("#history td.values").all_text_contents():
        assert not MACHINE_TEXT.search(cell), cell


async def test_a_volunteer_is_told_the_dashboard_is_not_for_them(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        page = await browser.new_page(viewport=PHONE, locale="en-US")
        await log_in(page, stack.api_url, "vol.wang", via="/dashboard", lands_on="/dashboard")
        await expect(page.locator("#blocked")).to_contain_text("property managers")
        await expect(page.locator("#blocked a")).to_have_attribute("href", "/inbox")
        await expect(page.locator("article.building")).to_have_count(0)
