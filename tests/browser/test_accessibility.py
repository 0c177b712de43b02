"""Every page read on a phone, as an older volunteer or resident reads it.

The hub runs on the real pipeline with the demo data and a day's worth of trouble: an
SOS from 孙丽华's wristband (the on-duty volunteer's ticket, with her family's phone
numbers), a lock's power cut and a gate pried (property alerts), a wearer who left her
geofence, e-bike pile ports free, reserved and out of order. Each page is opened as its
own user on a 390 x 844 phone and on the same phone at 200% zoom (a 195 CSS px wide
window: what a browser's zoom does to the layout; device_scale_factor would only
sharpen the pixels), with its panels opened and its hidden fields shown, and must:

- have no serious or critical axe-core violation of WCAG 2.1 A/AA (contrast included);
- make every link, button and field at least 44 x 44 CSS px;
- never scroll sideways nor cut text off;
- show a focus ring on the first control reached with the Tab key.

Every problem of every page is listed at the end, and each page's screenshot is in
tests/artifacts/a11y-<page>-<phone|zoom200>[-zh-CN].png, in English and in Chinese.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from community_hub_tools.sim.watch import SimulatedWatch, send_once
from device_adapters.model import DeviceFamily
from hub.ingest.flows import store_batch
from hub.tickets.intake import grid_report_token
from tests.browser.accessibility import (
    assert_accessible,
    axe_source,
    layout_problems,
    small_targets,
)
from tests.browser.conftest import log_in
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import device_event, volunteer_on_duty_for, wristband_event
from tests.support.stack import Stack, poll, running_stack, stack_settings

pytestmark = pytest.mark.e2e

SUN = "8800000101"  # 孙丽华's wristband, 1号楼, grid 1
ZHOU = "8800000202"  # 周国强's, 2号楼
PILE = "ebike:EB-B1-01"  # the e-bike pile of 1号楼, 孙丽华's household's
PHONE: ViewportSize = {"width": 390, "height": 844}
# The same phone at 200% zoom: half as many CSS pixels across and down.
ZOOM_200: ViewportSize = {"width": 195, "height": 422}
SIZES = (("phone", PHONE, 1), ("zoom200", ZOOM_200, 2))
LOCALES = ("en-US", "zh-CN")
ON_DUTY = "the volunteer on duty for 孙丽华"

# axe rules excused on a page, each for a markup fix still to make: {page name: {rule: why}}.
# Only problems that CSS cannot fix belong here; none are left.
KNOWN_MARKUP_PROBLEMS: dict[str, dict[str, str]] = {}


@dataclass(frozen=True)
class PageCase:
    name: str
    path: str | Callable[[Stack], str]
    ready: str  # shown once the page has its data
    username: str | None = None  # logged in through the form
    bearer: str | None = None  # the report pages: an API address, the token in a header
    # Clicked in order before the checks: panels to open, fields an action shows.
    opens: tuple[tuple[str, str], ...] = field(default=())
    # On the page when it is checked, so the colours and controls in question are covered.
    covers: tuple[str, ...] = field(default=())


def _report_form(stack: Stack) -> str:
    return f"/report/{grid_report_token(1, stack.settings.jwt.secret.get_secret_value())}"


CASES = (
    PageCase("login", "/login", "#login"),
    PageCase(
        "inbox-volunteer",
        "/inbox",
        "#tickets article.card a[href^='tel:']",
        username=ON_DUTY,
        # "Return" shows its reason field.
        opens=(("button[data-action=return]", "textarea[data-input]"),),
        covers=(".badge.due", "button.secondary", "button[data-action=accept]"),
    ),
    PageCase(
        "dashboard-manager",
        "/dashboard",
        "#updated[data-state=fresh]",
        username="manager",
        opens=(
            ("article.building h3 button", "#building-detail"),
            ("#devices li.device button", "#device-detail #history tbody tr"),
        ),
        covers=(".alerts .badge.high", "#devices .badge.bad", "#device-telemetry svg"),
    ),
    PageCase(
        "dashboard-staff",
        "/dashboard",
        "#updated[data-state=fresh]",
        username="staff",
        opens=(
            ("article.building h3 button", "#building-detail"),
            ("#devices li.device button", "#device-detail #history tbody tr"),
        ),
        covers=(".alerts .badge.medium", ".alerts .badge.critical", ".tile.warn"),
    ),
    PageCase(
        "charging-resident",
        "/charging",
        "#mine article.card",
        username="resident.sun",
        covers=("button[data-reserve]", "#mine button.secondary", ".badge.overdue"),
    ),
    PageCase("report-form", _report_form, "form", covers=("select", "textarea")),
    PageCase(
        "report-daily",
        "/api/v1/reports/daily",
        "header.report-head",
        bearer="staff",
        covers=(".tag.sev-critical", ".tag.sev-high", ".tag.sev-medium"),
    ),
    PageCase(
        "report-weekly",
        "/api/v1/reports/weekly",
        "header.report-head",
        bearer="manager",
        covers=("svg.chart", "table"),
    ),
)


async def _trouble(stack: Stack) -> str:
    """The day's events (module docstring); the username of the SOS's volunteer."""
    api = stack.api_url
    volunteer = await volunteer_on_duty_for(stack.hub.db, SUN, datetime.now(UTC))
    await send_once(
        "127.0.0.1",
        stack.edge_settings.watch_port,
        SimulatedWatch(SUN).alarm("sos"),
        expect_reply=True,
    )
    now = datetime.now(UTC) - timedelta(minutes=1)
    events = [
        device_event("z2m:b1_101_front_door", DeviceFamily.LOCK, "device.power_cut"),
        device_event("hik:gate-north", DeviceFamily.DOOR_ACCESS, "device.tamper"),
        wristband_event(ZHOU, "wristband.geofence_exit"),
    ] + [
        device_event(
            PILE,
            DeviceFamily.CHARGER,
            "charger.port_status",
            {"port": port, "status": status, "availability": status},
            received_at=now,
        )
        for port, status in ((1, "available"), (2, "available"), (3, "out_of_order"))
    ]
    async with stack.hub.db.write() as conn:
        await store_batch(conn, events, [], now)
    async with httpx.AsyncClient(timeout=10) as client:
        await poll(client, f"{api}/api/v1/tickets", await stack.login(client, volunteer))
        reserved = await client.post(
            f"{api}/api/v1/chargers/{PILE}/ports/2/reservations",
            json={"minutes": 30},
            headers=await stack.login(client, "resident.sun"),
        )
        assert reserved.status_code == 201, reserved.text
    return volunteer


async def _focus_ring(page: Page) -> str | None:
    """What is wrong with the focus ring of the first control the Tab key reaches."""
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    await page.keyboard.press("Tab")
    ring = await page.evaluate(
        """() => {
          const el = document.activeElement;
          if (!el || el === document.body) return null;
          const s = getComputedStyle(el);
          return { what: el.outerHTML.slice(0, 80), style: s.outlineStyle,
                   width: parseFloat(s.outlineWidth) };
        }"""
    )
    if ring is None:
        return "the Tab key reached no control"
    if ring["style"] == "none" or ring["width"] < 2:
        outline = f"{ring['style']} {ring['width']} px"
        return f"focus ring missing or under 2 px on {ring['what']}: {outline}"
    return None


async def _check(page: Page, case: PageCase, size: str) -> list[str]:
    where = f"{case.name} ({size})"
    problems: list[str] = []
    try:
        await assert_accessible(page, context=where, known=KNOWN_MARKUP_PROBLEMS.get(case.name))
    except AssertionError as failed:
        problems.append(str(failed))
    problems += [f"{where}: tap target too small: {t}" for t in await small_targets(page)]
    problems += [f"{where}: {p}" for p in await layout_problems(page)]
    ring = await _focus_ring(page)
    if ring:
        problems.append(f"{where}: {ring}")
    return problems


async def _open(
    browser: Browser,
    stack: Stack,
    case: PageCase,
    viewport: ViewportSize,
    scale: int,
    locale: str,
) -> Page:
    headers = None
    if case.bearer:
        async with httpx.AsyncClient(timeout=10) as client:
            headers = await stack.login(client, case.bearer)
    context = await browser.new_context(
        viewport=viewport, device_scale_factor=scale, extra_http_headers=headers, locale=locale
    )
    page = await context.new_page()
    path = case.path(stack) if callable(case.path) else case.path
    if case.username:
        await log_in(page, stack.api_url, case.username, via=path, lands_on=path)
    else:
        response = await page.goto(f"{stack.api_url}{path}")
        assert response is not None and response.status == 200, path
    await expect(page.locator(case.ready).first).to_be_visible(timeout=15_000)
    for button, shows in case.opens:
        await page.locator(button).first.click()
        await expect(page.locator(shows).first).to_be_visible()
    for selector in case.covers:
        await expect(page.locator(selector).first, case.name).to_be_visible()
    return page


async def test_every_page_reads_and_taps_well_on_a_phone_and_at_200_percent(
    mosquitto: MosquittoProcess, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    axe_source()  # skipped (or, with CI=true, failed) here when axe-core is not installed
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    async with running_stack(settings) as stack:
        volunteer = await _trouble(stack)
        problems: list[str] = []
        for case in CASES:
            if case.username == ON_DUTY:
                case = replace(case, username=volunteer)
            for size, viewport, scale in SIZES:
                # Chinese wraps and fills a line differently: both languages are checked.
                for locale in LOCALES:
                    page = await _open(browser, stack, case, viewport, scale, locale)
                    name = f"a11y-{case.name}-{size}" + ("" if locale == "en-US" else f"-{locale}")
                    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
                    problems += await _check(page, case, f"{size}, {locale}")
                    await page.context.close()
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


# One of each problem the checks look for.
FLAWED_PAGE = """<!doctype html>
<html lang="en"><head><meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  .faint { color: #999; background: #fff; }
  .wide { width: 600px; }
  .cut { width: 4rem; overflow: hidden; white-space: nowrap; }
</style></head>
<body><main>
  <p class="faint">Grey on white: 2.8:1.</p>
  <button type="button"></button>
  <p><a href="tel:13700000000">Call</a></p>
  <div class="wide">wider than the phone</div>
  <p class="cut">a sentence cut off by its box</p>
</main></body></html>
"""


async def test_the_checks_find_each_kind_of_problem(browser: Browser) -> None:
    """The checks above can fail: on a page with known flaws each is found and named."""
    axe_source()
    page = await browser.new_page(viewport=PHONE)
    await page.set_content(FLAWED_PAGE)

    with pytest.raises(AssertionError) as failed:
        await assert_accessible(page, context="flawed page")
    assert "color-contrast (serious)" in str(failed.value)
    assert "button-name (critical)" in str(failed.value)
    assert ".faint" in str(failed.value)  # where: the element's selector
    # A known rule is excused with its reason; the others still fail.
    with pytest.raises(AssertionError) as failed:
        await assert_accessible(page, context="flawed page", known={"button-name": "reported"})
    assert "button-name" not in str(failed.value)
    assert "color-contrast" in str(failed.value)

    small = await small_targets(page)
    assert any('a[href="tel:13700000000"] "Call"' in s for s in small), small
    layout = await layout_problems(page)
    assert any("scrolls sideways" in p and "div.wide" in p for p in layout), layout
    assert any("cut off" in p and "a sentence" in p for p in layout), layout
    # Chromium's own focus ring (no stylesheet sets one) is under 2 px.
    ring = await _focus_ring(page)
    assert ring is not None and "under 2 px" in ring, ring
    await page.close()
