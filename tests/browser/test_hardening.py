"""The hardened pages in a real browser: no open redirect, the policy met, docs offline.

The API runs on a real uvicorn server over a seeded store (no broker: these pages need
only the API). Every request the browser makes is recorded, and any to another host is
refused, so a redirect away from the hub or an asset from a CDN shows up as such.

- Logging in at /login?next=<an address of another site, in each disguise browsers
  accept> ends on this site; next=/inbox still leads to the inbox.
- Each page (login, dashboard, inbox, charging, the QR report form, the API docs) loads
  and works with zero Content-Security-Policy violations, and carries the headers.
- Swagger UI at /docs renders from the hub's own files, in the demo and in production
  when switched on.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Route,
    expect,
)
from pydantic import SecretStr

from api.app import create_app
from api.server import ApiServer
from api.state import ApiContext
from community_hub_tools.demo.seed import DEMO_PASSWORD
from hub.notifications.base import NotificationHub
from hub.notifications.live import LiveNotifier
from hub.settings import ApiSettings, JwtSettings, Settings
from hub.tickets.intake import grid_report_token
from tests.support.brokers import free_port
from tests.support.hubdata import open_seeded_db

pytestmark = pytest.mark.e2e

# ?next= values, exactly as they stand in the address. Each would leave the site if the
# login page believed it: browsers read "\" as "/", drop tabs and line breaks, and
# decode %-escapes before the page sees them.
HOSTILE_NEXT = (
    "/\\evil.example",
    "/%5Cevil.example",
    "%2F%5Cevil.example",
    "/%5C%5Cevil.example",
    "/%255Cevil.example",
    "/%09/evil.example",
    "%2F%09%2Fevil.example",
    "/\t/evil.example",
    "/%0A/evil.example",
    "/%0D%0A/evil.example",
    "//evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/.//evil.example",
    "https://evil.example/",
    "https%3A%2F%2Fevil.example%2F",
    "javascript:alert(document.domain)",
    "javascript%3Aalert(1)",
)

# Collects the policy's violations from the first moment of each document (an init
# script is the browser's own, so the policy does not apply to it).
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${where}`);
}, true);
"""


@dataclass
class Hub:
    url: str
    settings: Settings


@dataclass
class Watched:
    """What one browser context did: every request, console errors, policy violations."""

    origin: str
    requests: list[str] = field(default_factory=list)
    csp_console: list[str] = field(default_factory=list)

    def elsewhere(self) -> list[str]:
        here = urlsplit(self.origin).netloc
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != here
        ]


@asynccontextmanager
async def running_api(tmp_path: Path, settings: Settings) -> AsyncIterator[Hub]:
    db = await open_seeded_db(tmp_path)
    notifier = NotificationHub([LiveNotifier()])
    port = free_port()
    server = ApiServer(create_app(ApiContext(db, settings, notifier=notifier)), "127.0.0.1", port)
    await server.start()
    try:
        yield Hub(f"http://127.0.0.1:{port}", settings)
    finally:
        await server.stop()
        await notifier.aclose()
        await db.close()


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    async with running_api(tmp_path, Settings()) as running:
        yield running


async def watched_context(browser: Browser, origin: str) -> tuple[BrowserContext, Watched]:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    watched = Watched(origin)
    here = urlsplit(origin).netloc

    async def only_here(route: Route, request: Request) -> None:
        watched.requests.append(request.url)
        if urlsplit(request.url).netloc == here:
            await route.continue_()
        else:
            await route.abort("blockedbyclient")

    await context.route("**/*", only_here)
    await context.add_init_script(WATCH_VIOLATIONS)

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            watched.csp_console.append(message.text)

    def on_page(page: Page) -> None:
        page.on("console", on_console)

    context.on("page", on_page)
    return context, watched


async def submit_login(page: Page, username: str) -> None:
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("button[type=submit]")


async def test_after_login_next_never_leads_to_another_site(hub: Hub, browser: Browser) -> None:
    home = f"{hub.url}/dashboard"  # the manager's
    for raw in HOSTILE_NEXT:
        context, watched = await watched_context(browser, hub.url)
        page = await context.new_page()
        await page.goto(f"{hub.url}/login?next={raw}")
        await submit_login(page, "manager")
        await expect(page, f"next={raw!r}").to_have_url(home)
        await expect(page.locator("#updated")).to_have_attribute("data-state", "fresh")
        assert watched.elsewhere() == [], f"next={raw!r}"
        await context.close()

    # A page on this site, plain or encoded, is still where the login leads.
    for raw, lands_on in (
        ("/inbox", "/inbox"),
        ("%2Finbox%3Fticket%3D1", "/inbox?ticket=1"),
    ):
        context, watched = await watched_context(browser, hub.url)
        page = await context.new_page()
        await page.goto(f"{hub.url}/login?next={raw}")
        await expect(page.locator("#login-notice")).to_have_text("Log in to open the inbox.")
        await submit_login(page, "manager")
        await expect(page).to_have_url(f"{hub.url}{lands_on}")
        assert watched.elsewhere() == []
        await context.close()


async def _violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.__violations")
    return found


async def _check_page(
    browser: Browser, hub: Hub, path: str, username: str | None, ready: str
) -> tuple[Page, Watched, BrowserContext]:
    context, watched = await watched_context(browser, hub.url)
    page = await context.new_page()
    response = await page.goto(f"{hub.url}{path}")
    assert response is not None and response.status == 200, path
    headers = await response.all_headers()
    assert "frame-ancestors 'none'" in headers["content-security-policy"], path
    assert headers["x-content-type-options"] == "nosniff", path
    assert headers["x-frame-options"] == "DENY", path
    assert headers["referrer-policy"] == "same-origin", path
    if username is not None:
        await expect(page).to_have_url(f"{hub.url}/login?next=%2F{path.strip('/')}")
        await submit_login(page, username)
        await expect(page).to_have_url(f"{hub.url}{path}")
    await expect(page.locator(ready).first).to_be_visible()
    return page, watched, context


async def test_each_page_meets_the_content_security_policy(
    hub: Hub, browser: Browser, artifacts: Path
) -> None:
    token = grid_report_token(1, hub.settings.jwt.secret.get_secret_value())
    cases = (
        ("/login", None, "#login"),
        ("/dashboard", "manager", "#figure-alerts svg"),
        ("/inbox", "vol.wang", "#live[data-state='live']"),
        ("/charging", "resident.sun", "#stations > *"),
        (f"/report/{token}", None, "form"),
        ("/docs", None, ".swagger-ui .opblock"),
    )
    for path, username, ready in cases:
        page, watched, context = await _check_page(browser, hub, path, username, ready)
        if path == "/dashboard":
            # The building and device panels (the device's chart had a style attribute).
            await page.locator("article.building h3 button").first.click()
            await expect(page.locator("#building-detail")).to_be_visible()
            await page.locator("#devices li.device button").first.click()
            await expect(page.locator("#device-detail")).to_be_visible()
            width = await page.locator("#device-telemetry").evaluate(
                "(el) => getComputedStyle(el).maxWidth"
            )
            assert width == "612px"  # 34rem (of 18 px), from the stylesheet now
        if path == "/docs":
            # Open an operation: Swagger UI renders its parameters and responses.
            await page.locator(".opblock-summary").first.click()
            await expect(page.locator(".opblock-body").first).to_be_visible()
        if path.startswith("/report/"):
            # The pages' one stylesheet applies (linked, relative to the form's address).
            font = await page.locator("body").evaluate("(el) => getComputedStyle(el).fontSize")
            assert font == "18px"  # the stylesheet's 112.5% of the browser's 16 px
            background = await page.locator("html").evaluate(
                "(el) => getComputedStyle(el).backgroundColor"
            )
            assert background == "rgb(245, 247, 251)"
            radius = await page.locator("form").evaluate(
                "(el) => getComputedStyle(el).borderTopLeftRadius"
            )
            assert radius == "12px"
        name = path.strip("/").split("/")[0]
        await page.screenshot(path=str(artifacts / f"hardened-{name}.png"), full_page=True)
        assert await _violations(page) == [], path
        assert watched.csp_console == [], path
        assert watched.elsewhere() == [], path
        await context.close()


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(
            mode="production",
            jwt=JwtSettings(secret=SecretStr(secrets.token_urlsafe(36))),
            api=ApiSettings(docs=True),
        ),
    ],
    ids=["demo", "production-switched-on"],
)
async def test_swagger_ui_renders_from_the_hub_alone(
    tmp_path: Path, browser: Browser, settings: Settings
) -> None:
    async with running_api(tmp_path, settings) as running:
        context, watched = await watched_context(browser, running.url)
        page = await context.new_page()
        await page.goto(f"{running.url}/docs")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Community Hub")
        await expect(page.locator(".opblock-tag-section").first).to_be_visible()
        # The OAuth2 password flow is offered (Authorize), as the API documents.
        await page.locator("button.authorize").click()
        await expect(page.locator(".auth-container input#oauth_username")).to_be_visible()
        assert watched.requests, "nothing was recorded"
        assert watched.elsewhere() == []
        assert await _violations(page) == []
        assert watched.csp_console == []
        await context.close()
