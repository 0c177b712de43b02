"""The people's screens, served by the app: plain HTML and JavaScript over the same API.

No build step and no framework: each page is one HTML file with a script in
api/static, which a phone loads in one round trip. The pages hold no data of
their own; they log in through /api/v1/auth/token and call the API as any
client does, so the API's scoping is the pages' scoping.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


def stylesheet() -> str:
    """The one stylesheet of every page, for a page written to a file to carry inline."""
    return (STATIC_DIR / "app.css").read_text(encoding="utf-8")


def _page(name: str) -> FileResponse:
    # no-cache: a page and its script change together when the hub is upgraded.
    return FileResponse(STATIC_DIR / f"{name}.html", headers={"Cache-Control": "no-cache"})


@router.get("/login")
async def login_page() -> FileResponse:
    return _page("login")


@router.get("/inbox")
async def inbox_page() -> FileResponse:
    """The volunteer inbox: open tickets of mine, live."""
    return _page("inbox")


@router.get("/charging")
async def charging_page() -> FileResponse:
    """Resident charging: stations, reserving a port, my reservations, a problem report."""
    return _page("charging")


@router.get("/dashboard")
async def dashboard_page() -> FileResponse:
    """The property manager's dashboard: building health, alerts, time limits, trends."""
    return _page("dashboard")
