"""A device's telemetry charts for the dashboard, drawn by the hub's chart engine.

Which charts a device has depends on its family and on who asks: a wristband's
heart rate and blood pressure for those who may see the wearer's health
(``hub.access.scope.sees_vitals``), its battery for everybody else who sees it.
api/routes/telemetry.py lists them and serves each as ``image/svg+xml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.i18n.catalogs import N_, gettext, ngettext
from hub.i18n.locales import DEFAULT
from hub.reports.charts import COMPACT, LineSeries, color_for, line_chart
from hub.telemetry.history import read_series

_MAX_VALUES = 5000


@dataclass(frozen=True)
class DeviceChart:
    name: str  # in the chart's address
    measurement: str
    fields: tuple[tuple[str, str], ...]  # (field, its name in the legend)
    label: str
    unit: str
    resolution: str | None = None  # None: by the range (history.choose_resolution)
    counts: bool = False  # draw how many (gate passes), not the average

    @property
    def element_id(self) -> str:
        return "chart-blood-pressure" if self.name == "blood_pressure" else "chart-telemetry"


_BATTERY = DeviceChart("battery", "battery", (("percent", ""),), N_("Battery"), "%")
_BY_FAMILY = {
    "charger": DeviceChart("power", "charger", (("power_w", ""),), N_("Power"), "W"),
    "door_access": DeviceChart(
        "passes", "gate_passes", (("count", ""),), N_("Passes per hour"), N_("passes"), "1h", True
    ),
    "wristband": _BATTERY,
    "lock": _BATTERY,
}
_VITALS = (
    DeviceChart("heart_rate", "vitals", (("heart_rate", ""),), N_("Heart rate"), "bpm"),
    DeviceChart(
        "blood_pressure",
        "vitals",
        (("systolic", N_("Systolic")), ("diastolic", N_("Diastolic"))),
        N_("Blood pressure"),
        "mmHg",
    ),
)


def charts_for(family: str, sees_vitals: bool) -> tuple[DeviceChart, ...]:
    """The charts a device of ``family`` has for a caller (vitals only if they may)."""
    if family == "wristband" and sees_vitals:
        return _VITALS
    chart = _BY_FAMILY.get(family)
    return (chart,) if chart is not None else ()


async def draw_device_chart(
    conn: AsyncConnection,
    device_id: str,
    chart: DeviceChart,
    *,
    since: datetime,
    until: datetime,
    resolution: str,
    tz: ZoneInfo,
    language: str = DEFAULT,
) -> Markup:
    """One chart: a line per field and per tag set (a charger's ports) over the range."""
    series: list[LineSeries] = []
    for field, field_name in chart.fields:
        found = await read_series(
            conn,
            device_id=device_id,
            measurement=chart.measurement,
            field=field,
            since=since,
            until=until,
            resolution=chart.resolution or resolution,
            limit=_MAX_VALUES,
        )
        for s in found:
            # A family is the same on all its series: a port or a direction tells them apart.
            tags = [f"{k} {v}" for k, v in s.tags.items() if k != "family"]
            words = (gettext(language, field_name) if field_name else "", *tags)
            name = ", ".join(p for p in words if p) or gettext(language, chart.label)
            points = [(v.t, float(v.count) if chart.counts else v.avg) for v in s.values]
            series.append(LineSeries(name, points, color_for(len(series))))
    values = sum(len(s.points) for s in series)
    shown = chart.resolution or resolution
    summary = (
        ngettext(
            language,
            "%(n)s value in the last 24 hours (%(shown)s).",
            "%(n)s values in the last 24 hours (%(shown)s).",
            values,
            shown=shown,
        )
        if values
        else gettext(language, "No readings in the last 24 hours.")
    )
    unit = gettext(language, chart.unit) if chart.unit == "passes" else chart.unit
    return line_chart(
        gettext(language, "%(label)s, last 24 hours", label=gettext(language, chart.label)),
        series,
        since=since,
        until=until,
        tz=tz,
        y_label=unit,
        summary=summary,
        element_id=chart.element_id,
        frame=COMPACT,
        language=language,
    )
