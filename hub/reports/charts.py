"""The hub's one chart engine: bar and line charts as inline SVG, drawn on the server.

The reports put them in their pages; the dashboard fetches them as
``image/svg+xml`` (api/routes/dashboard.py, api/routes/telemetry.py) and puts
them in its page. No JavaScript, no external assets, every text escaped.

Each drawn bar is one ``<rect class="bar">`` with ``data-series``,
``data-category`` and ``data-value`` attributes and a ``<title>`` (a tooltip
in browsers, read by screen readers); each line is a ``<path class="line">``
with ``data-series`` and ``data-points``. Zero values draw no bar. The SVG
scales to its container (``viewBox``, width 100%), so it reads at phone width;
the chart's accessible name is its title and, if given, its one-line summary.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from markupsafe import Markup

from hub.i18n.catalogs import N_, gettext
from hub.i18n.locales import DEFAULT

# Okabe-Ito's and Tol's hues, distinguishable with the common kinds of colour blindness,
# each at least 3:1 against the white page (WCAG 1.4.11: a bar must be seen, too).
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#AA4499",
    "#9C6B00",
    "#332288",
    "#882255",
    "#000000",
)
OTHER_COLOR = "#767676"
REFERENCE_COLOR = "#c62828"
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'
# A white line between stacked segments, so neighbours of like colours stay apart.
_SEAM = ' stroke="#fff" stroke-width="1"'
NOTHING_TO_SHOW = N_("nothing to show")
OTHER_KINDS = N_("other (%(n)s kinds)")


@dataclass(frozen=True)
class Frame:
    """A chart's viewBox and the margins around its plot."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    # The size of its text in viewBox units; the title is a little larger.
    text: int = 12

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> int:
        return self.height - self.top - self.bottom

    @property
    def base(self) -> int:
        return self.top + self.plot_h


# The SVG scales to the screen, its text with it. COMPACT is a phone's width (360 CSS
# px) so that its 16-unit text reads at about 15 px there, large enough for older
# eyes (app.css keeps it from growing past 28rem on a large screen).
COMPACT = Frame(360, 280, 58, 10, 36, 36, text=16)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int | float]
    color: str
    # Each bar's tooltip, if not "category · name: value".
    titles: Sequence[str] | None = None
    # What ``data-series`` says, if not the name: a code (an event kind) stays the same
    # in every language while the legend and tooltips say it in words.
    key: str | None = None


@dataclass(frozen=True)
class Reference:
    """A dashed horizontal line across the plot (an overall median, a target)."""

    value: float
    label: str


@dataclass(frozen=True)
class LineSeries:
    name: str
    points: Sequence[tuple[datetime, float]]
    color: str


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def tidy(value: float) -> int | float:
    """Figures as people read them: whole numbers from 10, two significant digits below."""
    if value >= 10:
        return round(value)
    rounded = float(f"{value:.2g}")
    return int(rounded) if rounded.is_integer() else rounded


def nice_ticks(largest: float, target: int = 5) -> list[int]:
    """Integer axis ticks from 0 to a round number at or above ``largest``."""
    if largest <= 0:
        return [0, 1]
    raw = max(largest / target, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    top = math.ceil(largest / step) * step
    return list(range(0, top + 1, step))


def _text_width(text: str, size: float) -> float:
    # A Chinese character is a square; a Latin letter or digit about half as wide.
    return sum(size if ord(c) >= 0x2E80 else 0.56 * size for c in text)


def _legend(
    names: Sequence[tuple[str, str, str]], frame: Frame, y: float
) -> tuple[list[str], float]:
    """Legend entries (name, colour, data-series key) in rows that wrap at the chart's
    width; returns (svg, height)."""
    size, line = frame.text, frame.text + 8
    swatch = round(size * 0.8)
    parts, x, row = [], float(frame.left), 0
    for name, color, key in names:
        width = swatch + 6 + _text_width(name, size) + size
        if x + width > frame.width - frame.right and x > frame.left:
            x, row = float(frame.left), row + 1
        top = y + row * line
        parts.append(
            f'<g class="legend-item" data-series="{_attr(key)}">'
            f'<rect x="{x:.1f}" y="{top:.1f}" width="{swatch}" height="{swatch}" '
            f'fill="{_attr(color)}"/><text x="{x + swatch + 5:.1f}" y="{top + swatch - 1:.1f}" '
            f'font-size="{size}" fill="#333">{escape(name)}</text></g>'
        )
        x += width
    return parts, (row + 1) * line if names else 0


def _y_axis(ticks: list[int], frame: Frame, y_label: str) -> list[str]:
    """Gridlines with their values, the y axis and its label."""
    top = ticks[-1]
    out = []
    for tick in ticks:
        y = frame.base - frame.plot_h * tick / top
        out.append(
            f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.width - frame.right}" y2="{y:.1f}" '
            f'stroke="{"#555" if tick == 0 else "#e3e3e3"}" stroke-width="1"/>'
            f'<text x="{frame.left - 6}" y="{y + frame.text / 3:.1f}" font-size="{frame.text}" '
            'text-anchor="end" '
            f'fill="#555">{tick}</text>'
        )
    out.append(
        f'<line x1="{frame.left}" y1="{frame.top}" x2="{frame.left}" y2="{frame.base}" '
        'stroke="#555" stroke-width="1"/>'
    )
    mid, x = frame.top + frame.plot_h / 2, frame.text
    out.append(
        f'<text x="{x}" y="{mid:.1f}" font-size="{frame.text}" fill="#555" '
        f'text-anchor="middle" transform="rotate(-90 {x} {mid:.1f})">{escape(y_label)}</text>'
    )
    return out


def _nothing(frame: Frame, language: str) -> str:
    said = escape(gettext(language, NOTHING_TO_SHOW))
    return (
        f'<text x="{frame.left + frame.plot_w / 2:.1f}" y="{frame.top + frame.plot_h / 2:.1f}" '
        f'font-size="{frame.text + 1}" text-anchor="middle" fill="#595959">{said}</text>'
    )


def _svg(
    title: str,
    summary: str | None,
    element_id: str | None,
    frame: Frame,
    body: list[str],
    legend: Sequence[tuple[str, str, str]],
) -> Markup:
    items, legend_h = _legend(legend, frame, frame.height - 6)
    size = frame.text + 2
    lines = _wrap(title, size, frame.width - 16)
    # A title of several lines moves the chart down by the lines it adds.
    extra = (len(lines) - 1) * (size + 4)
    height = frame.height + legend_h + extra
    name = f"{title}. {summary}" if summary else title
    id_attr = f' id="{_attr(element_id)}"' if element_id else ""
    desc = f"<desc>{escape(summary)}</desc>" if summary else ""
    heading = "".join(
        f'<text class="chart-title" x="8" y="{frame.text + 5 + k * (size + 4)}" '
        f'font-size="{size}" font-weight="600" fill="#222">{escape(line)}</text>'
        for k, line in enumerate(lines)
    )
    return Markup(
        f'<svg{id_attr} class="chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {frame.width} {height:.0f}" width="100%" role="img" '
        f'aria-label="{_attr(name)}" {_FONT}>'
        f"<title>{escape(title)}</title>{desc}{heading}"
        f'<g transform="translate(0 {extra})">' + "".join(body) + "".join(items) + "</g></svg>"
    )


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Lines of at most ``width``: broken at spaces, or anywhere in Chinese (which has none)."""
    lines: list[str] = []
    line = ""
    for piece in _pieces(text):
        if line and _text_width((line + piece).rstrip(), size) > width:
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line += piece
    return [*lines, line.rstrip()] if line.strip() or not lines else lines


def _pieces(text: str) -> list[str]:
    # A word with its following space, or one CJK character (each may end a line).
    return re.findall(r"[\u2e80-\uffff]|[^\s\u2e80-\uffff]+\s*|\s+", text)


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    stacked: bool,
    y_label: str,
    label_every: int = 1,
    label_from_end: bool = False,
    summary: str | None = None,
    reference: Reference | None = None,
    element_id: str | None = None,
    frame: Frame = COMPACT,
    language: str = DEFAULT,
) -> Markup:
    """A vertical bar chart: stacked (one column per category) or grouped (side by side).
    With ``label_from_end`` the last category (today) always has its label."""
    n = len(categories)
    for s in series:
        if len(s.values) != n:
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {n} categories")
    if stacked:
        largest = max((sum(s.values[i] for s in series) for i in range(n)), default=0)
    else:
        largest = max((v for s in series for v in s.values), default=0)
    if reference is not None:
        largest = max(largest, reference.value)
    ticks = nice_ticks(largest)
    top = ticks[-1]
    slot = frame.plot_w / max(n, 1)
    column = slot * 0.72
    groups = 1 if stacked else max(len(series), 1)

    def y_of(value: float) -> float:
        return frame.base - frame.plot_h * value / top

    out = _y_axis(ticks, frame, y_label)
    # Every label that fits: as many are skipped as the widest needs room (a phone's
    # week of "12月7日" labels at readable size would run into each other).
    widest = max((_text_width(c, frame.text) for c in categories), default=0)
    every = max(label_every, 1, math.ceil((widest + frame.text / 2) / max(slot, 1)))
    for i, category in enumerate(categories):
        x0 = frame.left + slot * i + (slot - column) / 2
        stack: float = 0
        for k, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            if stacked:
                x, width = x0, column
                y_top, y_bottom = y_of(stack + value), y_of(stack)
                stack += value
            else:
                width = column / groups
                x = x0 + width * k
                y_top, y_bottom = y_of(value), frame.base
            tip = s.titles[i] if s.titles is not None else f"{category} · {s.name}: {value}"
            out.append(
                f'<rect class="bar" data-series="{_attr(s.key or s.name)}" '
                f'data-category="{_attr(category)}" data-value="{value}" '
                f'x="{x:.1f}" y="{y_top:.1f}" width="{width:.1f}" '
                f'height="{max(y_bottom - y_top, 0.5):.1f}" fill="{_attr(s.color)}"'
                f"{_SEAM if stacked else ''}>"
                f"<title>{escape(tip)}</title></rect>"
            )
        if ((n - 1 - i) if label_from_end else i) % every == 0:
            out.append(
                f'<text x="{frame.left + slot * (i + 0.5):.1f}" y="{frame.base + frame.text + 4}" '
                f'font-size="{frame.text}" text-anchor="middle" fill="#333">'
                f"{escape(category)}</text>"
            )
    if reference is not None and reference.value > 0:
        y = y_of(reference.value)
        right = frame.width - frame.right
        out.append(
            f'<g class="reference" data-value="{reference.value}">'
            f'<line x1="{frame.left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" '
            f'stroke="{REFERENCE_COLOR}" stroke-width="1.5" stroke-dasharray="5 4"/>'
            f'<text x="{right}" y="{y - 4:.1f}" font-size="{frame.text}" text-anchor="end" '
            f'fill="{REFERENCE_COLOR}">{escape(reference.label)}</text>'
            f"<title>{escape(reference.label)}</title></g>"
        )
    if largest == 0:
        out.append(_nothing(frame, language))
    legend = [(s.name, s.color, s.key or s.name) for s in series]
    return _svg(title, summary, element_id, frame, out, legend)


def line_chart(
    title: str,
    series: Sequence[LineSeries],
    *,
    since: datetime,
    until: datetime,
    tz: ZoneInfo,
    y_label: str,
    summary: str | None = None,
    element_id: str | None = None,
    frame: Frame = COMPACT,
    dots_up_to: int = 100,
    language: str = DEFAULT,
) -> Markup:
    """Values over time, one line per series; with few values, a dot for each too (one
    reading alone, or several at one instant, would not show as a line)."""
    t0, span = since.timestamp(), max(until.timestamp() - since.timestamp(), 1.0)
    largest = max((v for s in series for _, v in s.points), default=0)
    ticks = nice_ticks(largest)
    top = ticks[-1]

    def x_of(at: datetime) -> float:
        return frame.left + frame.plot_w * (at.timestamp() - t0) / span

    def y_of(value: float) -> float:
        return frame.base - frame.plot_h * value / top

    out = _y_axis(ticks, frame, y_label)
    mid = datetime.fromtimestamp(t0 + span / 2, tz)
    for at, anchor in ((since, "start"), (mid, "middle"), (until, "end")):
        out.append(
            f'<text x="{x_of(at):.1f}" y="{frame.base + frame.text + 4}" '
            f'font-size="{frame.text}" fill="#333" '
            f'text-anchor="{anchor}">{at.astimezone(tz).strftime("%H:%M")}</text>'
        )
    for s in series:
        if not s.points:
            continue
        path = " ".join(
            f"{'L' if i else 'M'}{x_of(at):.1f} {y_of(v):.1f}" for i, (at, v) in enumerate(s.points)
        )
        out.append(
            f'<path class="line" data-series="{_attr(s.name)}" data-points="{len(s.points)}" '
            f'd="{path}" fill="none" stroke="{_attr(s.color)}" stroke-width="2">'
            f"<title>{escape(s.name)}: {len(s.points)} values</title></path>"
        )
        if len(s.points) <= dots_up_to:
            for at, v in s.points:
                when = at.astimezone(tz).strftime("%m-%d %H:%M:%S")
                out.append(
                    f'<circle class="dot" data-series="{_attr(s.name)}" cx="{x_of(at):.1f}" '
                    f'cy="{y_of(v):.1f}" r="2.5" fill="{_attr(s.color)}">'
                    f"<title>{when}: {tidy(v)}</title></circle>"
                )
    if not any(s.points for s in series):
        out.append(_nothing(frame, language))
    return _svg(title, summary, element_id, frame, out, [(s.name, s.color, s.name) for s in series])


def top_series(
    named_values: dict[str, list[int]],
    *,
    keep: int = 7,
    language: str = DEFAULT,
    name: Callable[[str], str] = str,
) -> list[Series]:
    """The ``keep`` largest series in palette colours, the rest summed as one grey series."""
    order = sorted(named_values, key=lambda k: (-sum(named_values[k]), k))
    kept, rest = order[:keep], order[keep:]
    result = [Series(name(k), named_values[k], color_for(i), key=k) for i, k in enumerate(kept)]
    if rest:
        n = len(named_values[rest[0]])
        summed = [sum(named_values[name][i] for name in rest) for i in range(n)]
        other = gettext(language, OTHER_KINDS, n=len(rest))
        result.append(Series(other, summed, OTHER_COLOR, key="other"))
    return result
