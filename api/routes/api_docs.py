"""The API's documentation, Swagger UI at /docs, served from the hub's own files.

FastAPI's own /docs and /redoc load their scripts from a public CDN (blank where the
hub has no internet) and start Swagger UI with an inline script, which the pages'
Content-Security-Policy forbids. Here the assets come from the installed
``fastapi-offline`` package and the start-up script is a file (api/static/docs.js); the page is
hub/pages/templates/app/docs.html.
ReDoc is not offered: it injects inline styles and runs a blob: worker.

Mounted only when the docs are on (``HUB_API_DOCS``; by default in demo mode only).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.reader import VisitorReader
from api.routes.pages import app_page
from hub.settings import ApiSettings

ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
OPENAPI_URL = "/openapi.json"

router = APIRouter(include_in_schema=False)


def docs_enabled(api: ApiSettings, mode: str) -> bool:
    """Swagger UI and /openapi.json: as HUB_API_DOCS says, else only in the demo."""
    if api.docs is not None:
        return api.docs
    return mode == "demo"


@router.get("/docs")
async def swagger_ui(reader: VisitorReader) -> HTMLResponse:
    # The page around Swagger UI speaks the reader's language; Swagger UI itself, English.
    return app_page("docs", reader)


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/docs/assets", StaticFiles(directory=ASSETS_DIR), name="docs-assets")
