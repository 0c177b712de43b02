"""The people's screens, served by the app: HTML pages and JavaScript over the same API.

No build step and no framework: each page is one template (hub/pages/templates/app/)
with a script in api/static, which a phone loads in one round trip. The pages hold no
data of their own; they log in through /api/v1/auth/token and call the API as any
client does, so the API's scoping is the pages' scoping.

A page is rendered in its reader's language (api/reader.py: ``?lang=``, the
``chub_lang`` cookie, the browser's, else the community's) and carries, as a JSON
data block, that language, the community's time zone and the scripts' part of the
message catalog: the scripts say everything through it (api/static/hub.js).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.reader import Reader, VisitorReader
from hub.i18n.catalogs import page_catalog
from hub.pages import render

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


def stylesheet() -> str:
    """The one stylesheet of every page, for a page written to a file to carry inline."""
    return (STATIC_DIR / "app.css").read_text(encoding="utf-8")


def page_config(reader: Reader) -> dict[str, Any]:
    """What a page's scripts need before any API call: language, zone and words."""
    return {
        "language": reader.language,
        "timezone": reader.zone.key,
        "catalog": page_catalog(reader.language),
    }


def app_page(name: str, reader: Reader) -> HTMLResponse:
    html = render(
        f"app/{name}.html", language=reader.language, domain="pages", config=page_config(reader)
    )
    # no-cache: a page and its script change together when the hub is upgraded; Vary:
    # the same address answers in the language its cookie or browser asks for.
    return HTMLResponse(
        html,
        headers={
            "Cache-Control": "no-cache",
            "Vary": "Accept-Language, Cookie",
            "Content-Language": reader.language,
        },
    )


@router.get("/login")
async def login_page(reader: VisitorReader) -> HTMLResponse:
    return app_page("login", reader)


@router.get("/inbox")
async def inbox_page(reader: VisitorReader) -> HTMLResponse:
    """The volunteer inbox: open tickets of mine, live."""
    return app_page("inbox", reader)


@router.get("/charging")
async def charging_page(reader: VisitorReader) -> HTMLResponse:
    """Resident charging: stations, reserving a port, my reservations, a problem report."""
    return app_page("charging", reader)


@router.get("/dashboard")
async def dashboard_page(reader: VisitorReader) -> HTMLResponse:
    """The property manager's dashboard: building health, alerts, time limits, trends."""
    return app_page("dashboard", reader)
