"""The inbox as an installed app, in a real Chromium: its service worker controls /inbox,
the login outlives the tab (a second tab opens logged in, and two tabs renewing an
expired access token at once keep the login: without the Web Lock in hub.js the second
presents the used refresh token and the hub revokes the login, which this test saw), and
a push for an SOS shows a notification that stays until touched, with an "Accept" (接单)
button.

The push is what the hub sends for the real SOS (its payload, made by the hub from the
stored notification), handed to the service worker through the DevTools Protocol
(``ServiceWorker.deliverPushMessage``): headless Chromium reaches no push service, and
the push service's side is tested in tests/hub/channels/test_webpush.py.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, expect

from community_hub_tools.sim.watch import SimulatedWatch, send_once
from hub.notifications.base import Notification
from hub.notifications.push.notifier import payload
from hub.schema.notifications import notification_outbox
from tests.browser.conftest import log_in
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import volunteer_on_duty_for
from tests.support.stack import running_stack, stack_settings

pytestmark = pytest.mark.e2e

SUN = "8800000101"  # 孙丽华's wristband, grid 1
STALE = """(() => {
  const tokens = JSON.parse(localStorage.getItem("chub.auth"));
  localStorage.setItem("chub.auth", JSON.stringify({ ...tokens, access: "expired" }));
})()"""
KEEP = """(refresh) => {
  const tokens = JSON.parse(localStorage.getItem("chub.auth"));
  localStorage.setItem("chub.auth", JSON.stringify({ ...tokens, refresh }));
}"""
SHOWN = """navigator.serviceWorker.ready
  .then((r) => r.getNotifications())
  .then((all) => all.map((n) => ({
    title: n.title, body: n.body, tag: n.tag, requireInteraction: n.requireInteraction,
    actions: n.actions.map((a) => [a.action, a.title]), vibrate: Array.from(n.vibrate || []),
  })))"""


async def _assigned(stack_db: Any, timeout_s: float = 15.0) -> Notification:
    """The ticket.assigned notification the hub stored for the SOS."""
    for _ in range(int(timeout_s * 10)):
        async with stack_db.read() as conn:
            rows = (await conn.execute(sa.select(notification_outbox.c.payload))).scalars()
            for row in rows:
                if row["kind"] == "ticket.assigned":
                    return Notification.model_validate(row)
        await asyncio.sleep(0.1)
    raise AssertionError("no ticket.assigned notification was stored")


async def test_the_installed_inbox_stays_logged_in_and_shows_a_pushed_sos(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        api = stack.api_url
        volunteer = await volunteer_on_duty_for(stack.hub.db, SUN, datetime.now(UTC))
        context = await browser.new_context(locale="zh-CN")
        await context.grant_permissions(["notifications"], origin=api)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await log_in(page, api, volunteer, via="/inbox", lands_on="/inbox")

        # Installable: a manifest in the reader's language, a worker controlling /inbox.
        manifest = await (await page.request.get(f"{api}/inbox.webmanifest")).json()
        assert manifest["name"] == "社区中枢 待办" and manifest["scope"] == "/inbox"
        scope = await page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
        assert scope == f"{api}/inbox"

        # The page closed and opened again, and a second tab: no login asked.
        await page.close()
        again = await context.new_page()
        await again.goto(f"{api}/inbox")
        second = await context.new_page()
        await second.goto(f"{api}/inbox")
        for tab in (again, second):
            await expect(tab.locator("#live")).to_have_attribute("data-state", "live")
            await expect(tab).to_have_url(f"{api}/inbox")
        # Both tabs find the access token expired at once: one refreshes, the other takes
        # the new pair (the single-use refresh token presented twice would revoke the login).
        await again.evaluate(STALE)
        await asyncio.gather(again.reload(), second.reload())
        for tab in (again, second):
            await expect(tab.locator("#live")).to_have_attribute("data-state", "live")
            await expect(tab).to_have_url(f"{api}/inbox")
        kept = await again.evaluate("JSON.parse(localStorage.getItem('chub.auth')).refresh")
        still = await again.request.post(f"{api}/api/v1/auth/refresh", data={"refresh_token": kept})
        assert still.status == 200, await still.text()
        await again.evaluate(KEEP, (await still.json())["refresh_token"])
        await second.close()

        # An SOS; the push the hub makes of it reaches the worker.
        await send_once(
            "127.0.0.1",
            stack.edge_settings.watch_port,
            SimulatedWatch(SUN).alarm("sos"),
            expect_reply=True,
        )
        note = await _assigned(stack.hub.db)
        cdp = await context.new_cdp_session(again)
        registrations: list[dict[str, Any]] = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda e: registrations.extend(e["registrations"]),
        )
        await cdp.send("ServiceWorker.enable")
        for _ in range(50):
            if any(r["scopeURL"] == f"{api}/inbox" for r in registrations):
                break
            await asyncio.sleep(0.1)
        [registration] = [r for r in registrations if r["scopeURL"] == f"{api}/inbox"][:1]
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": api,
                "registrationId": registration["registrationId"],
                "data": payload(note, "zh-CN").decode(),
            },
        )
        shown: list[dict[str, Any]] = []
        for _ in range(50):
            shown = await again.evaluate(SHOWN)
            if shown:
                break
            await asyncio.sleep(0.1)
        assert len(shown) == 1, shown
        [notification] = shown
        assert "孙丽华" in notification["title"] and "一键求助" in notification["title"]
        assert notification["tag"] == f"ticket-{note.ticket_id}"
        assert notification["requireInteraction"] is True
        assert notification["actions"] == [["accept", "接单"]]
        assert errors == []
        assert json.loads(payload(note, "zh-CN"))["severity"] == "critical"
        await context.close()
