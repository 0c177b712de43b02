"""The device detail's telemetry chart in a real browser, on the real pipeline.

A watch's heartbeats (with their battery level) go into the edge, through
Mosquitto to the hub, into the embedded history; the manager opens the
wristband on the dashboard and sees a battery line drawn from them, where staff
see the wearer's heart rate and blood pressure.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from community_hub_tools.sim.watch import SimulatedWatch, send_once
from tests.browser.conftest import log_in
from tests.support.brokers import MosquittoProcess
from tests.support.stack import running_stack, stack_settings

pytestmark = pytest.mark.e2e

SUN = "8800000101"  # 孙丽华's wristband, 1号楼
WRISTBAND = f"watch:{SUN}"


async def _wristband_detail(browser: Browser, api: str, user: str) -> tuple[Page, list[str]]:
    """``user`` logged in on the dashboard, with 孙丽华's wristband open; page errors."""
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await log_in(page, api, user, via="/dashboard", lands_on="/dashboard")
    await page.locator("article.building", has_text="1号楼").locator("h3 button").click()
    await page.locator(f"#devices li[data-device-id='{WRISTBAND}'] button").click()
    return page, errors


async def test_the_device_detail_draws_its_battery_history(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        api = stack.api_url
        watch = SimulatedWatch(SUN)
        for _ in range(2):
            await send_once(
                "127.0.0.1", stack.edge_settings.watch_port, watch.heartbeat(), expect_reply=True
            )
        async with httpx.AsyncClient(timeout=10) as client:
            manager = await stack.login(client, "manager")
            for _ in range(100):  # the history writer stores about once a second
                found = await client.get(
                    f"{api}/api/v1/devices/{WRISTBAND}/telemetry",
                    params={"measurement": "battery", "field": "percent"},
                    headers=manager,
                )
                assert found.status_code == 200, found.text
                if found.json()["series"]:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("no battery readings reached the history")

        page, errors = await _wristband_detail(browser, api, "manager")
        chart = page.locator("#device-telemetry svg#chart-telemetry")
        await expect(chart).to_have_attribute("role", "img")
        await expect(chart).to_have_attribute(
            "aria-label", "Battery, last 24 hours. 2 values in the last 24 hours (raw)."
        )
        line = chart.locator("path.line[data-series='Battery']")
        await expect(line).to_have_count(1)
        await expect(line).to_have_attribute("data-points", "2")
        await expect(chart.locator("circle.dot")).to_have_count(2)
        await expect(page.locator("#device-telemetry svg")).to_have_count(1)  # no vitals
        await page.screenshot(path=str(artifacts / "dashboard-telemetry.png"), full_page=True)
        assert errors == []


async def test_staff_see_the_wearers_heart_rate_where_a_manager_sees_battery(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        api = stack.api_url
        watch = SimulatedWatch(SUN)
        # A PULSE frame has no reply in the Watch protocol, nor has a bphrt one (systolic,
        # diastolic and a heart rate). Frames without a device time are timed by the edge;
        # the history keeps one reading per millisecond (a redelivery is the same reading),
        # so they go a few milliseconds apart, as a watch's readings always are.
        for frame in [watch.pulse() for _ in range(3)] + [watch.blood_pressure() for _ in range(2)]:
            await send_once("127.0.0.1", stack.edge_settings.watch_port, frame, expect_reply=False)
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(timeout=10) as client:
            staff = await stack.login(client, "staff")
            # Every reading in the history: 5 heart rates (3 pulses, 2 with a pressure)
            # and 2 diastolic values. Frames of separate connections may be stored in
            # either order, and the history writer stores about once a second.
            counts: dict[str, int] = {}
            for _ in range(150):
                for field in ("heart_rate", "diastolic"):
                    found = await client.get(
                        f"{api}/api/v1/devices/{WRISTBAND}/telemetry",
                        params={"measurement": "vitals", "field": field},
                        headers=staff,
                    )
                    assert found.status_code == 200, found.text
                    series = found.json()["series"]
                    counts[field] = len(series[0]["values"]) if series else 0
                if counts == {"heart_rate": 5, "diastolic": 2}:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"not every reading reached the history: {counts}")
            # The API keeps vitals from the manager whatever the page asks.
            manager = await stack.login(client, "manager")
            refused = await client.get(
                f"{api}/api/v1/devices/{WRISTBAND}/telemetry",
                params={"measurement": "vitals", "field": "heart_rate"},
                headers=manager,
            )
            assert refused.status_code == 403, refused.text

        page, errors = await _wristband_detail(browser, api, "staff")
        chart = page.locator("#device-telemetry svg#chart-telemetry")
        await expect(chart).to_have_attribute(
            "aria-label", "Heart rate, last 24 hours. 5 values in the last 24 hours (raw)."
        )
        await expect(chart.locator("path.line[data-series='Heart rate']")).to_have_count(1)
        # Blood pressure: a line for each of its two numbers, in one chart.
        pressure = page.locator("#device-telemetry svg#chart-blood-pressure")
        await expect(pressure).to_have_attribute(
            "aria-label", "Blood pressure, last 24 hours. 4 values in the last 24 hours (raw)."
        )
        for name in ("Systolic", "Diastolic"):
            line = pressure.locator(f"path.line[data-series='{name}']")
            await expect(line).to_have_attribute("data-points", "2")
        await page.screenshot(path=str(artifacts / "dashboard-heart-rate.png"), full_page=True)
        assert errors == []
