"""Charts read on a phone by older eyes: text large enough at a phone's width, labels
that do not run into each other, and colours that stand out from the page.

A 360 CSS px phone shows a chart in about 328 px (the page's padding); the SVG scales
its viewBox to that width, its text with it.
"""

from __future__ import annotations

import itertools
import re
from xml.etree import ElementTree

from hub.reports.charts import COMPACT, OTHER_COLOR, PALETTE, Series, bar_chart

PHONE_CHART_PX = 328
SVG = "{http://www.w3.org/2000/svg}"
WEEK = ["12月1日", "12月2日", "12月3日", "12月4日", "12月5日", "12月6日", "12月7日"]


def _luminance(color: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast_on_white(color: str) -> float:
    return 1.05 / (_luminance(color) + 0.05)


def _week_chart() -> ElementTree.Element:
    series = [
        Series("一键求助", [3, 0, 1, 4, 2, 0, 5], PALETTE[0]),
        Series("跌倒报警", [1, 2, 0, 0, 1, 1, 2], PALETTE[1]),
    ]
    svg = bar_chart(
        "近7天报警", WEEK, series, stacked=True, y_label="报警数", frame=COMPACT, language="zh-CN"
    )
    return ElementTree.fromstring(str(svg))


def test_every_chart_colour_stands_out_from_the_page_at_3_to_1() -> None:
    for color in (*PALETTE, OTHER_COLOR):
        assert _contrast_on_white(color) >= 3.0, (color, round(_contrast_on_white(color), 2))


def test_the_smallest_text_of_a_chart_reads_at_14_px_on_a_phone() -> None:
    root = _week_chart()
    width = float(root.attrib["viewBox"].split()[2])
    sizes = [float(t.attrib["font-size"]) for t in root.iter(f"{SVG}text")]
    assert sizes
    assert min(sizes) * PHONE_CHART_PX / width >= 14, (min(sizes), width)


def test_a_weeks_date_labels_do_not_run_into_each_other() -> None:
    root = _week_chart()
    labels = [t for t in root.iter(f"{SVG}text") if t.text in WEEK]
    assert labels and WEEK[-1] in {t.text for t in labels}  # today always has its label
    size = float(labels[0].attrib["font-size"])
    xs = sorted(float(t.attrib["x"]) for t in labels)
    widest = max(
        sum(size if ord(c) > 0x2E80 else 0.56 * size for c in t.text or "") for t in labels
    )
    gaps = [b - a for a, b in itertools.pairwise(xs)]
    assert all(gap >= widest for gap in gaps), (gaps, widest)


def test_stacked_segments_are_parted_by_a_white_seam() -> None:
    bars = [r for r in _week_chart().iter(f"{SVG}rect") if r.attrib.get("class") == "bar"]
    assert bars and all(r.attrib.get("stroke") == "#fff" for r in bars)
    assert not re.search(r"#(E69F00|56B4E9|999999)", ElementTree.tostring(_week_chart()).decode())


def test_a_long_title_wraps_inside_the_chart_in_either_language() -> None:
    for title in (
        "Alerts opened per day, by kind of event, in the last 14 days",
        "近14天每天新开的报警数，按事件类型和网格分开统计显示",
    ):
        svg = bar_chart(
            title, WEEK, [Series("SOS", [1] * 7, PALETTE[0])], stacked=True, y_label="n"
        )
        root = ElementTree.fromstring(str(svg))
        width = float(root.attrib["viewBox"].split()[2])
        lines = [t for t in root.iter(f"{SVG}text") if t.attrib.get("class") == "chart-title"]
        assert len(lines) >= 2 and "".join(t.text or "" for t in lines).replace(
            " ", ""
        ) == title.replace(" ", "")
        for line in lines:
            size = float(line.attrib["font-size"])
            drawn = sum(size if ord(c) > 0x2E80 else 0.56 * size for c in line.text or "")
            assert float(line.attrib["x"]) + drawn <= width, (line.text, drawn, width)
