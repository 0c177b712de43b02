"""Bar charts as inline SVG: no JavaScript, no external assets, every text escaped.

Each drawn bar is one ``<rect class="bar">`` with ``data-series``,
``data-category`` and ``data-value`` attributes and a ``<title>`` (a tooltip
in browsers, read by screen readers). Zero values draw no bar. The SVG scales
to its container (``viewBox``, width 100%), so it reads at phone width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

# Okabe-Ito: distinguishable with the common kinds of colour blindness.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#8C6D1F",
    "#000000",
)
OTHER_COLOR = "#999999"

_W, _H = 640, 300  # the plot's viewBox, before the legend
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 28, 40
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]
    color: str


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def nice_ticks(largest: int, target: int = 5) -> list[int]:
    """Integer axis ticks from 0 to a round number at or above ``largest``."""
    if largest <= 0:
        return [0, 1]
    raw = max(largest / target, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    top = math.ceil(largest / step) * step
    return list(range(0, top + 1, step))


def _legend(series: Sequence[Series], y: float) -> tuple[list[str], float]:
    """Legend entries in rows that wrap at the chart's width; returns (svg, height)."""
    parts, x, row = [], float(_LEFT), 0
    for s in series:
        width = 18 + 6.6 * len(s.name) + 16
        if x + width > _W - _RIGHT and x > _LEFT:
            x, row = float(_LEFT), row + 1
        top = y + row * 18
        parts.append(
            f'<g class="legend-item"><rect x="{x:.1f}" y="{top:.1f}" width="12" height="12" '
            f'fill="{_attr(s.color)}"/><text x="{x + 17:.1f}" y="{top + 10.5:.1f}" '
            f'font-size="12" fill="#333">{escape(s.name)}</text></g>'
        )
        x += width
    return parts, (row + 1) * 18 if series else 0


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    stacked: bool,
    y_label: str,
    label_every: int = 1,
) -> Markup:
    """A vertical bar chart: stacked (one column per category) or grouped (side by side)."""
    n = len(categories)
    for s in series:
        if len(s.values) != n:
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {n} categories")
    if stacked:
        largest = max((sum(s.values[i] for s in series) for i in range(n)), default=0)
    else:
        largest = max((v for s in series for v in s.values), default=0)
    ticks = nice_ticks(largest)
    top = ticks[-1]
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    base = _TOP + plot_h
    slot = plot_w / max(n, 1)
    column = slot * 0.72
    groups = 1 if stacked else max(len(series), 1)

    def y_of(value: float) -> float:
        return base - plot_h * value / top

    out: list[str] = []
    # Gridlines and the y axis's labels.
    for tick in ticks:
        y = y_of(tick)
        out.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" '
            f'stroke="{"#555" if tick == 0 else "#e3e3e3"}" stroke-width="1"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#555">{tick}</text>'
        )
    out.append(
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{base}" stroke="#555" stroke-width="1"/>'
    )
    out.append(
        f'<text x="12" y="{_TOP + plot_h / 2:.1f}" font-size="11" fill="#555" '
        f'text-anchor="middle" transform="rotate(-90 12 {_TOP + plot_h / 2:.1f})">'
        f"{escape(y_label)}</text>"
    )
    # The bars.
    for i, category in enumerate(categories):
        x0 = _LEFT + slot * i + (slot - column) / 2
        stack = 0
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
                y_top, y_bottom = y_of(value), base
            out.append(
                f'<rect class="bar" data-series="{_attr(s.name)}" '
                f'data-category="{_attr(category)}" data-value="{value}" '
                f'x="{x:.1f}" y="{y_top:.1f}" width="{width:.1f}" '
                f'height="{max(y_bottom - y_top, 0.5):.1f}" fill="{_attr(s.color)}">'
                f"<title>{escape(category)} · {escape(s.name)}: {value}</title></rect>"
            )
        if i % max(label_every, 1) == 0:
            out.append(
                f'<text x="{_LEFT + slot * (i + 0.5):.1f}" y="{base + 16}" font-size="11" '
                f'text-anchor="middle" fill="#333">{escape(category)}</text>'
            )
    if largest == 0:
        out.append(
            f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_TOP + plot_h / 2:.1f}" font-size="13" '
            f'text-anchor="middle" fill="#777">nothing to show</text>'
        )
    legend, legend_h = _legend(series, _H - 6)
    height = _H + legend_h
    return Markup(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height:.0f}" '
        f'width="100%" role="img" aria-label="{_attr(title)}" {_FONT}>'
        f"<title>{escape(title)}</title>"
        f'<text x="{_LEFT}" y="16" font-size="14" font-weight="600" fill="#222">'
        f"{escape(title)}</text>" + "".join(out) + "".join(legend) + "</svg>"
    )


def top_series(
    named_values: dict[str, list[int]], *, keep: int = 7, other: str = "other"
) -> list[Series]:
    """The ``keep`` largest series in palette colours, the rest summed as one grey series."""
    order = sorted(named_values, key=lambda k: (-sum(named_values[k]), k))
    kept, rest = order[:keep], order[keep:]
    result = [Series(name, named_values[name], color_for(i)) for i, name in enumerate(kept)]
    if rest:
        n = len(named_values[rest[0]])
        summed = [sum(named_values[name][i] for name in rest) for i in range(n)]
        result.append(Series(f"{other} ({len(rest)} kinds)", summed, OTHER_COLOR))
    return result
