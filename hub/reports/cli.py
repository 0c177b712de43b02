"""``community-hub report daily|weekly``: a report to a file (or standard output)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from hub.reports.data import community_language
from hub.reports.periods import BadReportInput, parse_date, parse_week
from hub.reports.render import render_daily, render_weekly
from hub.reports.service import CommunityNotFound, build_daily, build_weekly
from hub.storage.db import Database


class ReportCommandError(RuntimeError):
    """Something the user can fix: printed, and the command exits with status 2."""


async def run_report(
    database_url: str,
    which: str,
    community_id: int,
    *,
    day: str | None = None,
    week: str | None = None,
    fmt: str = "html",
    out: Path | None = None,
    now: datetime | None = None,
    stylesheet: str | None = None,
) -> str:
    """Write the report; returns what to tell the user (where it went). An HTML page
    carries ``stylesheet`` (the API's app.css) inline, so the file reads on its own."""
    if which == "daily" and week is not None:
        raise ReportCommandError("--week is for the weekly bulletin; the daily digest takes --date")
    if which == "weekly" and day is not None:
        raise ReportCommandError("--date is for the daily digest; the weekly bulletin takes --week")
    try:
        parsed_day = parse_date(day) if day is not None else None
        parsed_week = parse_week(week) if week is not None else None
    except BadReportInput as exc:
        raise ReportCommandError(f"--{exc.field}: {exc.message}") from None
    _check_database(database_url)
    now = now or datetime.now(UTC)
    db = Database.open(database_url)
    try:
        async with db.read() as conn:
            if which == "daily":
                daily = await build_daily(conn, community_id, parsed_day, now)
                text = (
                    daily.model_dump_json(indent=2)
                    if fmt == "json"
                    else render_daily(
                        daily,
                        stylesheet=stylesheet,
                        language=await community_language(conn, community_id),
                    )
                )
                label = f"daily digest {daily.window.label}"
            else:
                weekly = await build_weekly(conn, community_id, parsed_week, now)
                text = (
                    weekly.model_dump_json(indent=2)
                    if fmt == "json"
                    else render_weekly(
                        weekly,
                        stylesheet=stylesheet,
                        language=await community_language(conn, community_id),
                    )
                )
                label = f"weekly bulletin {weekly.window.label}"
    except CommunityNotFound as exc:
        raise ReportCommandError(f"--community: {exc}") from None
    except BadReportInput as exc:
        raise ReportCommandError(f"--{exc.field}: {exc.message}") from None
    except DBAPIError as exc:
        raise ReportCommandError(
            f"cannot read the database ({exc.orig}); is it at the latest schema? "
            "(community-hub migrate)"
        ) from None
    finally:
        await db.close()
    if not text.endswith("\n"):
        text += "\n"
    if out is None or str(out) == "-":
        sys.stdout.write(text)
        return ""
    _write(out, text)
    return f"{label} of community {community_id} written to {out}"


def _check_database(url: str) -> None:
    """A missing SQLite file would be created empty: say where it was looked for instead."""
    parsed = make_url(url)
    if (
        parsed.get_backend_name() == "sqlite"
        and parsed.database
        and not Path(parsed.database).exists()
    ):
        raise ReportCommandError(
            f"no database at {parsed.database}: run the hub or the demo first "
            "(or set HUB_DATA_DIR / --data-dir)"
        )


def _write(out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
