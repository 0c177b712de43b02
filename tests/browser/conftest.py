"""A real browser for the page tests: Debian's Chromium driven by Playwright.

The tests never download a browser. scripts/test installs the `chromium`
package; CHROMIUM_PATH points elsewhere if needed. Screenshots go to
tests/artifacts/ so a person can look at what the test saw.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from community_hub_tools.demo.seed import DEMO_PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not found:
        pytest.fail("Debian's chromium is not installed: scripts/test installs it (apt chromium)")
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


async def log_in(page: Page, api: str, username: str, *, via: str, lands_on: str) -> None:
    """Log in through the form. ``via`` is the address opened first: a page that needs a
    login sends the browser to /login?next=...; ``lands_on`` is where the form leads."""
    await page.goto(f"{api}{via}")
    if via != "/login":
        await expect(page).to_have_url(f"{api}/login?next={quote(via, safe='')}")
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{api}{lands_on}")
