"""The inbox offers what the API says a caller may do to a ticket, and nothing else.

The page holds no copy of the ticket workflow: each card's buttons are the
ticket's ``action_details`` (hub/tickets/workflow.py, for that user and state),
and each button's field is the kind of input the API says the action needs,
with the API's limits. An answer changed on the way shows on the page as well.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from playwright.async_api import Browser, Route, ViewportSize, expect

from community_hub_tools.sim.watch import SimulatedWatch, send_once
from tests.browser.conftest import log_in
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import volunteer_on_duty_for
from tests.support.stack import poll, running_stack, stack_settings

pytestmark = pytest.mark.e2e

SUN = "8800000101"  # 孙丽华's wristband, grid 1
PHONE: ViewportSize = {"width": 390, "height": 844}
RATE = {
    "action": "rate",
    "target": "rated",
    "inputs": [
        {
            "name": "score",
            "kind": "score",
            "required": True,
            "max_length": None,
            "minimum": 1,
            "maximum": 5,
        }
    ],
}


async def test_the_inbox_shows_the_actions_the_api_says(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        api = stack.api_url
        volunteer = await volunteer_on_duty_for(stack.hub.db, SUN, datetime.now(UTC))
        await send_once(
            "127.0.0.1",
            stack.edge_settings.watch_port,
            SimulatedWatch(SUN).alarm("sos"),
            expect_reply=True,
        )
        async with httpx.AsyncClient(timeout=10) as client:
            mine = await stack.login(client, volunteer)
            found = await poll(client, f"{api}/api/v1/tickets", mine)
            ticket_id = cast(list[dict[str, Any]], found["items"])[0]["id"]
            detail = (await client.get(f"{api}/api/v1/tickets/{ticket_id}", headers=mine)).json()
        offered = [o["action"] for o in detail["action_details"]]
        assert offered == ["accept", "return"]

        page = await browser.new_page(viewport=PHONE, locale="en-US")
        await log_in(page, api, volunteer, via="/inbox", lands_on="/inbox")
        card = page.locator(f"article[data-ticket-id='{ticket_id}']")
        buttons = card.locator("button[data-action]")
        await expect(buttons).to_have_count(len(offered))
        shown = await buttons.evaluate_all("(bs) => bs.map((b) => b.dataset.action)")
        assert shown == offered
        # Return needs a reason: a text field with the API's limit, shown on the first tap.
        back = card.locator(".action[data-for=return]")
        await back.locator("button").click()
        field = back.locator("textarea[data-input=reason]")
        await expect(field).to_be_visible()
        limit = detail["action_details"][1]["inputs"][0]["max_length"]
        await expect(field).to_have_attribute("maxlength", str(limit))
        await expect(card.locator(".action[data-for=accept] [data-input]")).to_have_count(0)

        # The page renders whatever the answer offers: an action it was never told about,
        # with a score field from the answer's bounds.
        async def offer_rating(route: Route) -> None:
            response = await route.fetch()
            body = await response.json()
            body["action_details"] = [*body["action_details"], RATE]
            await route.fulfill(response=response, json=body)

        await page.route(re.compile(rf".*/api/v1/tickets/{ticket_id}$"), offer_rating)
        await page.reload()
        await expect(buttons).to_have_count(len(offered) + 1)
        rate = card.locator(".action[data-for=rate]")
        await rate.locator("button").click()
        score = rate.locator("input[type=number][data-input=score]")
        await expect(score).to_have_attribute("min", "1")
        await expect(score).to_have_attribute("max", "5")
        await page.screenshot(path=str(artifacts / "inbox-actions.png"), full_page=True)
        await page.unroute(re.compile(rf".*/api/v1/tickets/{ticket_id}$"))

        # After accepting, the card offers the next actions, as the API says.
        await page.reload()
        await card.locator("button[data-action=accept]").click()
        await expect(card.locator("[data-status]")).to_have_text("Accepted")
        async with httpx.AsyncClient(timeout=10) as client:
            mine = await stack.login(client, volunteer)
            detail = (await client.get(f"{api}/api/v1/tickets/{ticket_id}", headers=mine)).json()
        after = [o["action"] for o in detail["action_details"]]
        assert after == ["return", "start"]
        await expect(buttons).to_have_count(len(after))
        shown = await buttons.evaluate_all("(bs) => bs.map((b) => b.dataset.action)")
        assert shown == after

        # On site, then resolved: an alarm's ticket asks what the alarm was, as a choice
        # the API offers (a 误报 or 误按 counts against the device in the reports).
        start = card.locator(".action[data-for=start]")
        await start.locator("button").click()
        await start.locator("textarea[data-input=note]").fill("Found her at home, fine.")
        await start.locator("button").click()
        await expect(card.locator("[data-status]")).to_have_text("In progress")
        resolve = card.locator(".action[data-for=resolve]")
        await resolve.locator("button").click()
        choice = resolve.locator("select[data-input=disposition]")
        await expect(choice).to_be_visible()
        await expect(choice.locator("option")).to_have_count(6)  # "choose" and five kinds
        await resolve.locator("textarea[data-input=note]").fill("She pressed it by accident.")
        await resolve.locator("button").click()  # no choice yet: the page asks for it
        await expect(resolve.locator(".error")).to_contain_text("required")
        await choice.select_option("accidental")
        await resolve.locator("button").click()
        await expect(card.locator("[data-status]")).to_have_text("Resolved")
        async with httpx.AsyncClient(timeout=10) as client:
            mine = await stack.login(client, volunteer)
            detail = (await client.get(f"{api}/api/v1/tickets/{ticket_id}", headers=mine)).json()
        assert detail["disposition"] == "accidental"
