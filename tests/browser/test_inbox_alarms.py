"""An SOS reaches a person: the open inbox never lets an alarm go unnoticed.

On the real pipeline (a watch frame into the edge, Mosquitto, the hub) and a real
Chromium at a phone's width. The page's sound is Web Audio, so the tests count the
tones it makes and the vibrations it asks for by wrapping those two browser calls
(an init script); everything else is the page as a person sees it.

- an SOS already waiting when the inbox opens rings, on and on, until "Got it"; the same
  SOS pressed again rings again; accepting stops it; the card shows the wearer's last
  fix with three map links, and the ticket's history;
- an SOS sent while the phone had no network rings once it is back; an action taken
  offline waits on the phone and is sent when the network returns; a watch without a
  fix shows "No position yet", never 0,0;
- a ticket escalation gives to the backup leaves the first volunteer's page with a note.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from community_hub_tools.sim.watch import SimulatedWatch, send_once
from tests.browser.conftest import log_in
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import volunteer_on_duty_for
from tests.support.stack import Stack, poll, running_stack, stack_settings

pytestmark = pytest.mark.e2e

SUN = "8800000101"  # 孙丽华's wristband, grid 1; vol.zhao is the backup there
PHONE: ViewportSize = {"width": 390, "height": 844}
# The page's Web Audio tones and vibrations, counted where the browser makes them.
COUNT_CUES = """
window.__tones = 0;
window.__vibrations = 0;
const made = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.__tones += 1;
  return made.call(this);
};
Object.defineProperty(Navigator.prototype, "vibrate", {
  configurable: true,
  value: () => { window.__vibrations += 1; return true; },
});
"""


async def _count(page: Page, name: str) -> int:
    return cast(int, await page.evaluate(f"window.{name}"))


async def _grows(page: Page, name: str, timeout_s: float = 10.0) -> int:
    """Wait until the counter goes up from where it is now; returns the new value."""
    before = await _count(page, name)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = await _count(page, name)
        if now > before:
            return now
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} stayed at {before} for {timeout_s}s")


async def _sound_on(page: Page) -> None:
    """The switch at the top, before any alarm: a tap, as browsers require."""
    bar = page.locator("#sound-bar")
    await expect(bar).to_be_visible()
    if await bar.get_attribute("data-sound") != "on":
        await page.locator("#sound-toggle").click()
    await expect(bar).to_have_attribute("data-sound", "on")


async def _sos(stack: Stack, watch: SimulatedWatch) -> None:
    port = stack.edge_settings.watch_port
    await send_once("127.0.0.1", port, watch.alarm("sos"), expect_reply=True)


async def _phone(browser: Browser) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport=PHONE, locale="en-US")
    await context.add_init_script(COUNT_CUES)
    return context, await context.new_page()


async def _until_fix(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
    """The watch's fix is stored (telemetry may come after the alarm)."""
    for _ in range(150):
        if (await client.get(url, headers=headers)).json().get("position"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} has no fix after 15 s")


def _watch(*, fix: bool) -> SimulatedWatch:
    """Sun's watch, made so that its first alarm frame has a GPS fix (``A``) or none
    (``V``, 0,0: indoors)."""
    for seed in range(1000):
        frame = SimulatedWatch(SUN, rng=random.Random(seed)).alarm("sos")
        if (b",A," in frame) == fix:
            return SimulatedWatch(SUN, rng=random.Random(seed))
    raise AssertionError("no seed gives such a frame")


async def test_a_waiting_sos_rings_until_acknowledged_and_again_when_pressed_again(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        api = stack.api_url
        volunteer = await volunteer_on_duty_for(stack.hub.db, SUN, datetime.now(UTC))
        _, page = await _phone(browser)
        await log_in(page, api, volunteer, via="/inbox", lands_on="/inbox")
        await _sound_on(page)
        assert await _count(page, "__tones") > 0, "turning the sound on plays a sample"

        # The page is closed when the SOS comes (outdoors: the frame says where she is).
        await page.goto("about:blank")
        watch = _watch(fix=True)
        pressed = time.monotonic()
        await _sos(stack, watch)
        async with httpx.AsyncClient(timeout=10) as client:
            mine = await stack.login(client, volunteer)
            found = await poll(client, f"{api}/api/v1/tickets", mine)
            ticket_id = cast(list[dict[str, Any]], found["items"])[0]["id"]
            await _until_fix(client, f"{api}/api/v1/tickets/{ticket_id}/position", mine)

        await page.goto(f"{api}/inbox")
        card = page.locator("#tickets article[data-ringing=true]")
        await expect(card).to_have_count(1, timeout=15_000)
        await expect(card).to_have_class(re.compile(r"\bringing\b"))
        toast = page.locator("#toast")
        await expect(toast).to_be_visible()
        await expect(toast).to_contain_text("孙丽华")
        # Across the phone, its button on one line (a toast half the screen wide wrapped
        # "Got it" a letter a line over the map links).
        box = await toast.bounding_box()
        button = await toast.get_by_role("button").bounding_box()
        assert box is not None and button is not None
        assert box["width"] >= 0.8 * PHONE["width"], box
        assert button["height"] <= 60 and button["width"] >= button["height"], button
        assert await _count(page, "__vibrations") > 0
        # A reload takes the browser's permission to play sound: one tap gives it back.
        bar = page.locator("#sound-bar")
        if await bar.get_attribute("data-sound") == "blocked":
            await page.locator("#sound-toggle").click()
        await _grows(page, "__tones")
        # It goes on ringing, not one beep: two more rings while nobody acts.
        rings = int(await page.locator("body").get_attribute("data-rings") or 0)
        # At least two more (on a loaded machine a third may come before the check looks).
        await page.wait_for_function(
            "n => Number(document.body.dataset.rings || 0) >= n", arg=rings + 2, timeout=30_000
        )
        await page.screenshot(path=str(artifacts / "inbox-ringing.png"), full_page=True)

        # Where she is: her last fix, its time and source, three map apps.
        place = card.locator(".position[data-position=fix]")
        await expect(place).to_be_visible()
        await expect(place.locator(".meta").first).to_contain_text("GPS")
        for key in ("amap", "baidu", "osm"):
            await expect(place.locator(f"a[data-map={key}]")).to_have_count(1)
        amap = await place.locator("a[data-map=amap]").get_attribute("href") or ""
        assert amap.startswith("https://uri.amap.com/marker?position=")

        # "Got it": the sound, the highlight and the toast stop, and stay stopped.
        await toast.get_by_role("button", name="Got it").click()
        ticket = page.locator("#tickets article[data-ticket-id]")
        await expect(ticket).to_have_attribute("data-ringing", "false")
        await expect(toast).to_be_hidden()
        quiet = await _count(page, "__tones")
        await page.wait_for_timeout(3000)
        assert await _count(page, "__tones") == quiet

        # The same SOS pressed again (not a watch resending one press: 5 s later).
        await asyncio.sleep(max(0.0, 5.5 - (time.monotonic() - pressed)))
        await _sos(stack, watch)
        await expect(ticket).to_have_attribute("data-ringing", "true", timeout=15_000)
        await expect(toast).to_be_visible()
        await _grows(page, "__tones")

        # Accepting is acknowledging: the ring stops.
        await ticket.locator("button[data-action=accept]").click()
        await expect(ticket.locator("[data-status]")).to_have_text("Accepted")
        await expect(ticket).to_have_attribute("data-ringing", "false")
        await expect(toast).to_be_hidden()

        # The history: what happened, in the community's time.
        history = ticket.locator("details.timeline")
        await history.locator("summary").click()
        await expect(history.locator("li")).not_to_have_count(0)
        await expect(history).to_contain_text("came again")
        await page.screenshot(path=str(artifacts / "inbox-history.png"), full_page=True)


async def test_after_the_network_returns_a_missed_sos_rings_and_an_offline_accept_is_sent(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        api = stack.api_url
        volunteer = await volunteer_on_duty_for(stack.hub.db, SUN, datetime.now(UTC))
        context, page = await _phone(browser)
        await log_in(page, api, volunteer, via="/inbox", lands_on="/inbox")
        await _sound_on(page)
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")

        await context.set_offline(True)  # the phone loses its network
        await page.evaluate("state.source.close(); state.source.onerror()")
        await expect(page.locator("#live")).to_have_attribute("data-state", "down")
        await _sos(stack, _watch(fix=False))
        tones = await _count(page, "__tones")
        await context.set_offline(False)

        card = page.locator("#tickets article[data-ticket-id]")
        await expect(card).to_have_attribute("data-ringing", "true", timeout=20_000)
        await expect(page.locator("#toast")).to_be_visible()
        await _grows(page, "__tones")
        assert await _count(page, "__tones") > tones
        # Indoors without a fix: said so, never a point at 0,0.
        await expect(card.locator(".position[data-position=none]")).to_contain_text(
            "No position yet"
        )
        await expect(card.locator("a[data-map]")).to_have_count(0)
        ticket_id = int(await card.get_attribute("data-ticket-id") or 0)

        # Accept with no network: kept on the phone, said so, then sent.
        await context.set_offline(True)
        await card.locator("button[data-action=accept]").click()
        said = card.locator(".action[data-for=accept] .error")
        await expect(said).to_contain_text("No network")
        await expect(said).not_to_contain_text("Failed to fetch")
        await expect(page.locator("#queued")).to_have_attribute("data-count", "1")
        await expect(card).to_have_attribute("data-ringing", "false")  # acted on
        async with httpx.AsyncClient(timeout=10) as client:
            mine = await stack.login(client, volunteer)
            url = f"{api}/api/v1/tickets/{ticket_id}"
            waiting = cast(dict[str, Any], (await client.get(url, headers=mine)).json())
            assert waiting["status"] == "dispatched", "nothing reached the hub while offline"

            await context.set_offline(False)
            await expect(card.locator("[data-status]")).to_have_text("Accepted", timeout=20_000)
            await expect(page.locator("#queued")).to_be_hidden()
            sent = cast(dict[str, Any], (await client.get(url, headers=mine)).json())
        assert sent["status"] == "accepted"


async def test_a_ticket_escalated_to_the_backup_leaves_the_first_page_with_a_note(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack, httpx.AsyncClient(timeout=10) as client:
        api = stack.api_url
        staff = await stack.login(client, "staff")
        community = (await client.get(f"{api}/api/v1/auth/me", headers=staff)).json()[
            "community_id"
        ]
        rules_url = f"{api}/api/v1/communities/{community}/rules"
        current = (await client.get(rules_url, headers=staff)).json()
        document = current["document"]
        document["escalation_chains"]["elderly_urgent"] = [
            {"notify": "primary", "ack_timeout_s": 5},
            {"notify": "backup", "ack_timeout_s": 600},
        ]
        stored = await client.put(
            rules_url,
            headers=staff,
            json={"expected_version": current["version"], "document": document},
        )
        assert stored.status_code == 200, stored.text

        primary = await volunteer_on_duty_for(stack.hub.db, SUN, datetime.now(UTC))
        _, page = await _phone(browser)
        await log_in(page, api, primary, via="/inbox", lands_on="/inbox")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        await _sos(stack, SimulatedWatch(SUN))
        card = page.locator("#tickets article[data-ticket-id]")
        await expect(card).to_have_count(1, timeout=15_000)
        ticket_id = await card.get_attribute("data-ticket-id")
        await expect(card.locator("button[data-action=accept]")).to_be_visible()

        # Nobody accepts within 5 s: the backup has it, and the first page says so.
        gone = page.locator(f"#moved article[data-ticket-id='{ticket_id}']")
        await expect(gone).to_contain_text("Given to someone else to handle.", timeout=20_000)
        await expect(gone).to_contain_text("孙丽华")
        await expect(page.locator(f"#tickets article[data-ticket-id='{ticket_id}']")).to_have_count(
            0
        )
        await expect(page.locator("#toast")).to_be_hidden()
        assert await page.locator("body").get_attribute("data-ringing") == "0"
