"""The inbox as an installable app (a PWA): its web manifest and its service worker.

* ``GET /inbox.webmanifest``: name, icons (api/static/icons, drawn for the hub, nothing
  from a CDN), start URL and scope ``/inbox``, in the reader's language;
* ``GET /inbox-sw.js``: the service worker (api/static/inbox-sw.js). Served from the
  root, not /static/: a worker may only control pages at or under its own path, and it
  must control /inbox. ``no-cache`` so a hub upgrade reaches phones at their next visit.

The Content-Security-Policy allows both: ``default-src 'self'`` covers ``manifest-src``
and ``worker-src`` (through ``script-src 'self'``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse

from api.reader import VisitorReader
from api.routes.pages import STATIC_DIR
from hub.i18n.catalogs import N_

router = APIRouter(include_in_schema=False)


@router.get("/inbox.webmanifest")
async def manifest(reader: VisitorReader) -> JSONResponse:
    body = {
        "name": reader.text(N_("Community Hub Inbox")),
        "short_name": reader.text(N_("Hub Inbox")),
        "lang": reader.language,
        "start_url": "/inbox",
        "scope": "/inbox",
        "id": "/inbox",
        "display": "standalone",
        "background_color": "#f5f7fb",
        "theme_color": "#1d2433",
        "icons": [
            {"src": "/static/icons/inbox-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/icons/inbox-512.png", "sizes": "512x512", "type": "image/png"},
            {
                "src": "/static/icons/inbox.svg",
                "sizes": "any",
                "type": "image/svg+xml",
                "purpose": "any",
            },
        ],
    }
    return JSONResponse(
        body,
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache", "Vary": "Accept-Language, Cookie"},
    )


@router.get("/inbox-sw.js")
async def service_worker() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "inbox-sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )
