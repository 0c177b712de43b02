"""The reports as complete, self-contained HTML pages (inline CSS and SVG, no script).

Every value from the database goes through ``html.escape``. The pages read at
phone width (tables scroll sideways inside their own box) and print cleanly,
so a browser's "Save as PDF" makes the PDF.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from hub.reports.charts import Series, bar_chart, top_series
from hub.reports.digest import kind_description
from hub.reports.models import (
    DailyDigest,
    DurationStats,
    OverdueTicket,
    RateStats,
    ReportWindow,
    TicketBrief,
    WeeklyBulletin,
)

OPENED_COLOR, CLOSED_COLOR = "#0072B2", "#009E73"

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1d1f23;font:15px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"PingFang SC","Microsoft YaHei",sans-serif}
main{max-width:980px;margin:0 auto;padding:12px}
header{background:#1f3a5f;color:#fff;border-radius:10px;padding:14px 16px;margin-bottom:12px}
header h1{margin:0 0 4px;font-size:1.35rem}
header p{margin:2px 0;opacity:.9;font-size:.9rem}
section{background:#fff;border-radius:10px;padding:12px 14px;margin-bottom:12px;
box-shadow:0 1px 2px rgba(0,0,0,.06)}
h2{font-size:1.05rem;margin:0 0 8px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:8px}
.card{background:#fff;border-radius:10px;padding:10px 12px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.card .v{font-size:1.5rem;font-weight:650}
.card .k{font-size:.8rem;color:#555}
.card .s{font-size:.78rem;color:#777}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e6e8eb;vertical-align:top}
th{background:#f0f2f5;font-weight:600;white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.tag{display:inline-block;font-size:.72rem;padding:1px 6px;border-radius:8px;margin-left:4px;
white-space:nowrap}
.tag.silent,.tag.confidential{background:#fde8e8;color:#9b1c1c}
.tag.late{background:#fff4e0;color:#8a4b00}
.tag.sev-critical{background:#9b1c1c;color:#fff}
.tag.sev-high{background:#d55e00;color:#fff}
.tag.sev-medium{background:#e69f00;color:#1d1f23}
.tag.sev-low,.tag.sev-informational{background:#e6e8eb;color:#333}
.muted{color:#777}
.note{font-size:.8rem;color:#555}
.warn{border-left:4px solid #9b1c1c}
svg.chart{display:block;max-width:100%;height:auto}
footer{font-size:.78rem;color:#666;padding:4px 4px 16px}
@media (max-width:520px){body{font-size:14px}main{padding:6px}th,td{padding:5px 6px}}
@media print{body{background:#fff}section,.card{box-shadow:none;border:1px solid #ddd}
header{background:#fff;color:#000;border:1px solid #999}section{break-inside:avoid}}
"""


def duration(seconds: float | None) -> str:
    """'2 d 3 h', '1 h 05 min', '12 min', '40 s'; an en dash for none."""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    minutes, _ = divmod(s, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def percent(stats: RateStats) -> str:
    return "–" if stats.rate is None else f"{stats.rate * 100:.0f}%"


def local_time(at: datetime | None, tz: ZoneInfo, *, with_date: bool = True) -> str:
    if at is None:
        return "–"
    local = at.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _tag(text: str, css: str) -> str:
    return f'<span class="tag {escape(css, quote=True)}">{escape(text)}</span>'


def _severity(severity: str) -> str:
    return _tag(severity, f"sev-{severity}")


def _card(value: str, label: str, sub: str = "") -> str:
    sub_html = f'<div class="s">{sub}</div>' if sub else ""
    return (
        f'<div class="card"><div class="v">{value}</div>'
        f'<div class="k">{escape(label)}</div>{sub_html}</div>'
    )


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """Cells are HTML already (escaped by the caller); headers are text."""
    head = "".join(
        f'<th class="n">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _section(title: str, body: str, css: str = "") -> str:
    cls = f' class="{escape(css, quote=True)}"' if css else ""
    return f"<section{cls}><h2>{escape(title)}</h2>{body}</section>"


def _page(title: str, header: str, body: str, footer: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{header}{body}<footer>{footer}</footer></main></body></html>\n"
    )


def _header(kind: str, community: str, when: str, window: ReportWindow, tz: ZoneInfo) -> str:
    partial = (
        f"<p>Figures so far: up to {escape(local_time(window.as_of, tz))} "
        "(the period is not over)</p>"
        if window.partial
        else ""
    )
    return (
        f"<header><h1>{escape(kind)} · {escape(community)}</h1>"
        f"<p>{escape(when)} · times in {escape(window.timezone)}</p>{partial}</header>"
    )


def _footer(window: ReportWindow, tz: ZoneInfo) -> str:
    return (
        "For community staff, property managers and administrators only: it includes "
        "silent (duress) alarms and confidential tickets, which must not be shown to residents "
        f"or on public screens. Generated {escape(local_time(window.generated_at, tz))} "
        f"({escape(window.timezone)}) by Community Hub."
    )


def _at_end(window: ReportWindow, tz: ZoneInfo) -> str:
    if window.partial:
        return f"at {local_time(window.as_of, tz, with_date=False)}"
    return "at the end of the day" if window.first_day == window.last_day else "at its end"


def _ticket_title(t: TicketBrief) -> str:
    conf = _tag("confidential", "confidential") if t.confidential else ""
    return f"#{t.id} {_e(t.title)}{conf}"


def _lateness(t: OverdueTicket) -> str:
    parts = []
    if t.response_late_s is not None:
        what = "no response yet" if t.response_ongoing else "responded late"
        parts.append(f"{what}: {duration(t.response_late_s)}")
    if t.resolve_late_s is not None:
        what = "not closed yet" if t.resolve_ongoing else "closed late"
        parts.append(f"{what}: {duration(t.resolve_late_s)}")
    return "<br>".join(escape(p) for p in parts)


def _overdue_table(rows: list[OverdueTicket], tz: ZoneInfo) -> str:
    if not rows:
        return '<p class="muted">No ticket is late.</p>'
    return _table(
        ["Ticket", "Grid", "Assignee", "State", "Deadlines (due)", "Late", "How late"],
        (
            [
                _ticket_title(t),
                _e(t.grid_name or "–"),
                _e(t.assignee_name or "unassigned"),
                _e(t.status),
                "respond "
                + _e(local_time(t.response_due_at, tz))
                + "<br>close "
                + _e(local_time(t.resolve_due_at, tz)),
                _lateness(t),
                _tag(duration(t.late_s), "late"),
            ]
            for t in rows
        ),
        numeric={6},
    )


def _hour_chart(report: DailyDigest) -> str:
    kinds: dict[str, list[int]] = {}
    for h in report.alerts_by_hour:
        for kind in h.alerts_by_kind:
            kinds.setdefault(kind, [0] * 24)
    for h in report.alerts_by_hour:
        for kind, n in h.alerts_by_kind.items():
            kinds[kind][h.hour] = n
    return bar_chart(
        "Alerts opened per hour, by kind",
        [f"{h:02d}" for h in range(24)],
        top_series(kinds),
        stacked=True,
        y_label="alerts",
        label_every=3,
    )


def render_daily(report: DailyDigest) -> str:
    tz = ZoneInfo(report.window.timezone)
    w = report.window
    day = w.first_day
    when = f"{day.isoformat()} ({day.strftime('%A')})"
    silent_sub = (
        f"{_tag(f'{report.alerts_silent} silent', 'silent')}" if report.alerts_silent else ""
    )
    conf_sub = (
        _tag(f"{report.confidential_tickets} confidential", "confidential")
        if report.confidential_tickets
        else ""
    )
    cards = (
        '<div class="cards" style="margin-bottom:12px">'
        + _card(str(report.alerts_total), "alerts opened", silent_sub)
        + _card(str(report.tickets_registered), "tickets registered (一号受理)", conf_sub)
        + _card(str(report.tickets_closed), "tickets closed")
        + _card(str(report.tickets_open), "tickets still open")
        + _card(str(len(report.overdue)), "late tickets (督查督办)")
        + _card(
            duration(report.time_to_close.mean_s),
            "average time to close",
            f"max {escape(duration(report.time_to_close.max_s))}",
        )
        + "</div>"
    )
    by_kind = (
        _table(
            ["Kind", "What", "Severity", "Alerts", "Silent"],
            (
                [
                    _e(r.kind) + (_tag("silent", "silent") if r.silent else ""),
                    _e(r.description),
                    _severity(r.severity),
                    str(r.count),
                    str(r.silent),
                ]
                for r in report.alerts_by_kind
            ),
            numeric={3, 4},
        )
        if report.alerts_by_kind
        else '<p class="muted">No alerts were opened.</p>'
    )
    by_state = (
        _table(
            ["State", "Tickets"],
            ([_e(s.status), str(s.count)] for s in report.open_by_state),
            numeric={1},
        )
        if report.open_by_state
        else '<p class="muted">No open tickets.</p>'
    )
    raised = (
        _table(
            ["Ticket", "Category", "Grid", "Assignee", "State", "Registered"],
            (
                [
                    _ticket_title(t),
                    _e(t.category),
                    _e(t.grid_name or "–"),
                    _e(t.assignee_name or "unassigned"),
                    _e(t.status),
                    _e(local_time(t.created_at, tz)),
                ]
                for t in report.community_level
            ),
            numeric=set(),
        )
        if report.community_level
        else '<p class="muted">None.</p>'
    )
    body = (
        cards
        + _section("Alerts per hour", _hour_chart(report))
        + _section("Alerts by kind and severity", by_kind)
        + _section(
            "Tickets",
            f"<p>{report.tickets_registered} registered, {report.tickets_closed} closed; "
            f"{report.tickets_open} open {escape(_at_end(w, tz))} (whenever registered), "
            "by state:</p>" + by_state,
        )
        + _section(
            f"Late tickets ({len(report.overdue)})",
            '<p class="note">Open at the end of the day, or closed during it, and late on the '
            "response or close deadline.</p>" + _overdue_table(report.overdue, tz),
            "warn" if report.overdue else "",
        )
        + _section(
            f"Raised to the community (大事不出社区) ({len(report.community_level)})", raised
        )
    )
    title = f"Daily digest {day.isoformat()} · {report.community.name}"
    return _page(
        title,
        _header("Daily digest 日报", report.community.name, when, w, tz),
        body,
        _footer(w, tz),
    )


def _day_label(day_index: int, report: WeeklyBulletin) -> str:
    day = report.days[day_index].day
    return f"{day.strftime('%a')} {day.day}"


def _week_alert_chart(report: WeeklyBulletin) -> str:
    kinds = {k: [d.alerts_by_kind.get(k, 0) for d in report.days] for k in report.alert_kinds}
    return bar_chart(
        "Alerts per day, by kind",
        [_day_label(i, report) for i in range(len(report.days))],
        top_series(kinds),
        stacked=True,
        y_label="alerts",
    )


def _week_ticket_chart(report: WeeklyBulletin) -> str:
    return bar_chart(
        "Tickets opened and closed per day",
        [_day_label(i, report) for i in range(len(report.days))],
        [
            Series("opened", [d.tickets_opened for d in report.days], OPENED_COLOR),
            Series("closed", [d.tickets_closed for d in report.days], CLOSED_COLOR),
        ],
        stacked=False,
        y_label="tickets",
    )


def _durations(stats: DurationStats) -> str:
    return f"max {escape(duration(stats.max_s))}, {stats.count} tickets"


def render_weekly(report: WeeklyBulletin) -> str:
    tz = ZoneInfo(report.window.timezone)
    w = report.window
    when = f"{w.label}: {w.first_day.isoformat()} (Mon) to {w.last_day.isoformat()} (Sun)"
    rating = "–" if report.rating.mean is None else f"{report.rating.mean:.1f} / 5"
    cards = (
        '<div class="cards" style="margin-bottom:12px">'
        + _card(
            str(report.alerts_total),
            "alerts opened",
            _tag(f"{report.alerts_silent} silent", "silent") if report.alerts_silent else "",
        )
        + _card(
            str(report.tickets_opened),
            "tickets opened",
            _tag(f"{report.confidential_tickets} confidential", "confidential")
            if report.confidential_tickets
            else "",
        )
        + _card(str(report.tickets_closed), "tickets closed")
        + _card(
            percent(report.closure_rate),
            "closure rate",
            f"{report.closure_rate.numerator} of {report.closure_rate.denominator} opened",
        )
        + _card(
            percent(report.on_time_rate),
            "closed on time",
            f"{report.on_time_rate.numerator} of {report.on_time_rate.denominator} with a deadline",
        )
        + _card(
            duration(report.time_to_accept.mean_s),
            "mean time to accept",
            _durations(report.time_to_accept),
        )
        + _card(
            duration(report.time_to_close.mean_s),
            "mean time to close",
            _durations(report.time_to_close),
        )
        + _card(str(report.overdue_total), "late tickets")
        + _card(rating, "resident rating", f"{report.rating.count} ratings")
        + "</div>"
    )
    per_day = _table(
        ["Day", "Alerts", "of which silent", "Tickets opened", "Tickets closed"],
        (
            [
                _e(f"{d.day.isoformat()} {d.day.strftime('%a')}"),
                str(d.alerts_total),
                str(d.alerts_silent),
                str(d.tickets_opened),
                str(d.tickets_closed),
            ]
            for d in report.days
        ),
        numeric={1, 2, 3, 4},
    )
    grids = (
        _table(
            ["Grid", "Opened", "Closed", "Late"],
            ([_e(g.grid_name), str(g.opened), str(g.closed), str(g.overdue)] for g in report.grids),
            numeric={1, 2, 3},
        )
        if report.grids
        else '<p class="muted">The community has no grids.</p>'
    )
    points = (
        _table(
            ["#", "Name", "Role", "Points", "Awards"],
            (
                [str(i), _e(p.full_name), _e(p.role), str(p.points), str(p.awards)]
                for i, p in enumerate(report.top_points, start=1)
            ),
            numeric={0, 3, 4},
        )
        if report.top_points
        else '<p class="muted">No points were awarded this week.</p>'
    )
    kinds = (
        _table(
            ["Kind", "What", "Alerts"],
            (
                [
                    _e(k) + (_tag("silent", "silent") if k in report.silent_kinds else ""),
                    _e(kind_description(k)),
                    str(sum(d.alerts_by_kind.get(k, 0) for d in report.days)),
                ]
                for k in report.alert_kinds
            ),
            numeric={2},
        )
        if report.alert_kinds
        else ""
    )
    body = (
        cards
        + _section("Alerts", _week_alert_chart(report) + kinds)
        + _section("Tickets", _week_ticket_chart(report) + per_day)
        + _section("By grid (网格)", grids)
        + _section("Volunteer points (积分), top 10", points)
        + _section(
            "How the figures are counted",
            '<ul class="note">'
            "<li>Closure rate: tickets opened this week that were closed by its end.</li>"
            "<li>On time: tickets closed this week at or before their resolve-by time "
            "(after any granted extension).</li>"
            "<li>Time to accept: from registration to a volunteer's first accept.</li>"
            "<li>Late: open at the end of the week or closed during it, and late on the "
            "response or close deadline.</li>"
            "<li>Days run from local midnight to midnight, Monday to Sunday (ISO week).</li>"
            "</ul>",
        )
    )
    title = f"Weekly bulletin {w.label} · {report.community.name}"
    return _page(
        title,
        _header("Weekly bulletin 周报", report.community.name, when, w, tz),
        body,
        _footer(w, tz),
    )
