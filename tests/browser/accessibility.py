"""Accessibility checks on a page open in the real browser.

- ``assert_accessible``: axe-core's WCAG 2.1 A and AA rules; every violation of impact
  "serious" or "critical" fails, each listed with its rule, impact, elements and help.
- ``small_targets``: controls a finger may miss (under 44 x 44 CSS px).
- ``layout_problems``: sideways scrolling of the page, or text cut off in its box.

axe-core comes from the npm registry at the version scripts/test pins, installed into
.cache/axe before the tests run; the tests never fetch it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Page

from tests.support.missing import missing

REPO = Path(__file__).resolve().parents[2]
AXE_JS = REPO / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
FAILING_IMPACTS = frozenset({"serious", "critical"})
# WCAG 2.5.5's size, and what Apple's and Android's guidelines ask of a tap target.
MIN_TARGET_PX = 44

_RUN_AXE = """
async (tags) => {
  const results = await axe.run(document, {
    runOnly: { type: "tag", values: tags },
    resultTypes: ["violations"],
  });
  return results.violations.map((v) => ({
    rule: v.id,
    impact: v.impact || "",
    help: v.help,
    targets: v.nodes.map((n) => n.target.join(" ")),
  }));
}
"""

# What a person can tap or type into, and the size the browser lays it out at.
_TARGETS = """
(min) => {
  const describe = (el) => {
    const id = el.id ? `#${el.id}` : "";
    const cls = el.classList.length ? `.${[...el.classList].join(".")}` : "";
    const href = el.getAttribute("href");
    const text = (el.innerText || el.value || el.getAttribute("aria-label") || "").trim();
    return `${el.tagName.toLowerCase()}${id}${cls}${href ? `[href="${href}"]` : ""}`
      + (text ? ` "${text.slice(0, 40)}"` : "");
  };
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary,"
    + " [role=button], [tabindex]:not([tabindex='-1'])";
  return [...document.querySelectorAll(selector)]
    .filter((el) => {
      const box = el.getBoundingClientRect();
      return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden";
    })
    .map((el) => {
      const box = el.getBoundingClientRect();
      return { what: describe(el), width: box.width, height: box.height };
    })
    .filter((t) => t.width < min || t.height < min)
    .map((t) => `${t.what}: ${Math.round(t.width)} x ${Math.round(t.height)} px`);
}
"""

# Sideways scrolling of the whole page, and boxes that cut their text off (overflow
# hidden or clip, or an ellipsis). Scrolling boxes (a wide table's) are allowed.
_LAYOUT = """
() => {
  const problems = [];
  const root = document.documentElement;
  const scrolled = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(up).overflowX)) return true;
    }
    return false;
  };
  if (root.scrollWidth > root.clientWidth) {
    const wide = [...document.body.querySelectorAll("*")]
      .filter((el) => el.getBoundingClientRect().right > root.clientWidth + 0.5)
      .filter((el) => !scrolled(el))
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}`
        + `${el.classList.length ? "." + [...el.classList].join(".") : ""}`
        + ` (right edge ${Math.round(el.getBoundingClientRect().right)})`);
    problems.push(
      `the page scrolls sideways: ${root.scrollWidth} px wide in a ${root.clientWidth} px`
      + ` window; too wide: ${wide.join(", ")}`,
    );
  }
  for (const el of document.body.querySelectorAll("*")) {
    const style = getComputedStyle(el);
    const cuts = ["hidden", "clip"].includes(style.overflowX) || style.textOverflow === "ellipsis";
    if (cuts && el.innerText && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`text cut off in ${el.tagName.toLowerCase()}: "${el.innerText.slice(0, 40)}"`);
    }
  }
  return problems;
}
"""


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): {self.help}; at {', '.join(self.targets)}"


def axe_source() -> str:
    """axe.min.js as scripts/test installed it; a skip without it (an error with CI=true)."""
    if not AXE_JS.is_file():
        missing(
            f"axe-core is not installed at {AXE_JS.relative_to(REPO)}: scripts/test installs"
            " it from the npm registry (npm install --prefix .cache/axe axe-core@<pinned>)"
        )
    return AXE_JS.read_text(encoding="utf-8")


async def axe_violations(page: Page) -> list[Violation]:
    """Every WCAG 2.1 A/AA violation axe finds on the page as it is now, of any impact."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        # Evaluated through the browser's DevTools protocol, not added as a <script>: the
        # pages' Content-Security-Policy (script-src 'self') refuses an inline script, and
        # this way the page stays under its real policy while it is checked. (Playwright's
        # bypass_csp would also let through what the policy blocks for every visitor, such
        # as style attributes, and the check would see a page no one else sees.)
        await page.evaluate(axe_source())
    found = await page.evaluate(_RUN_AXE, list(WCAG21_AA_TAGS))
    return [
        Violation(v["rule"], v["impact"], v["help"], tuple(v["targets"]))
        for v in found
        if isinstance(v, dict)
    ]


async def assert_accessible(
    page: Page, *, context: str, known: Mapping[str, str] | None = None
) -> None:
    """Fail listing each serious or critical WCAG 2.1 A/AA violation on the page.

    ``known``: rule ids excused, each with the reason (a markup fix that is reported and
    not yet made); anything else found fails."""
    excused = known or {}
    failing = [
        v
        for v in await axe_violations(page)
        if v.impact in FAILING_IMPACTS and v.rule not in excused
    ]
    if failing:
        listed = "\n".join(f"  - {v}" for v in failing)
        raise AssertionError(f"{context}: {len(failing)} accessibility violation(s):\n{listed}")


async def small_targets(page: Page) -> list[str]:
    """The visible links, buttons and fields smaller than 44 x 44 CSS px."""
    found = await page.evaluate(_TARGETS, MIN_TARGET_PX)
    return [str(f) for f in found]


async def layout_problems(page: Page) -> list[str]:
    """Sideways scrolling of the page, and text its box cuts off."""
    found = await page.evaluate(_LAYOUT)
    return [str(f) for f in found]
