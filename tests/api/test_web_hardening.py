"""The API and pages hardened, over HTTP to a real uvicorn server (api.server.ApiServer).

Every answer carries the security headers (pages, static files, JSON, errors, a 500,
the live-push stream, which still streams); the API docs are served from the hub's own
files, on in the demo and off in production unless switched on; and X-Forwarded-For is
believed only from the proxies named in HUB_API_TRUSTED_PROXIES.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr, ValidationError

from api.app import create_app
from api.server import ApiServer
from api.state import ApiContext
from community_hub_tools.demo.seed import DEMO_PASSWORD
from hub.notifications.base import NotificationHub
from hub.notifications.live import LiveNotifier
from hub.settings import ApiSettings, JwtSettings, Settings
from hub.storage.db import Database
from hub.tickets.intake import grid_report_token
from tests.support.brokers import free_port
from tests.support.hubdata import open_seeded_db

HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
SPOOFED = "203.0.113.9"  # a documentation address: no real client has it


def production(**extra: Any) -> Settings:
    jwt = JwtSettings(secret=SecretStr(secrets.token_urlsafe(36)))
    return Settings(mode="production", jwt=jwt, **extra)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    seeded = await open_seeded_db(tmp_path)
    yield seeded
    await seeded.close()


@asynccontextmanager
async def serving(
    db: Database, settings: Settings, extend: Callable[[FastAPI], None] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a real uvicorn server; a client with its base URL."""
    notifier = NotificationHub([LiveNotifier(heartbeat_s=0.2)])
    app = create_app(ApiContext(db, settings, notifier=notifier))
    if extend is not None:
        extend(app)
    port = free_port()
    server = ApiServer(app, "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        await server.stop()
        await notifier.aclose()


async def token_of(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def assert_hardened(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, f"{where}: {name}"
    policy = response.headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives.get("default-src") == ["'self'"], where
    assert directives.get("script-src") == ["'self'"], where
    assert directives.get("frame-ancestors") == ["'none'"], where
    assert directives.get("object-src") == ["'none'"], where
    # No inline script or style and nothing from elsewhere, whatever else is allowed.
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, where
    assert not re.search(r"https?:|\*", policy), where


def add_boom(app: FastAPI) -> None:
    @app.get("/test/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")


async def test_every_answer_carries_the_security_headers(db: Database) -> None:
    async with serving(db, Settings(), add_boom) as client:
        token = await token_of(client, "manager")
        bearer = {"Authorization": f"Bearer {token}"}
        report = f"/report/{grid_report_token(1, Settings().jwt.secret.get_secret_value())}"
        answers = [
            await client.get(path)
            for path in (
                "/login",
                "/inbox",
                "/dashboard",
                "/charging",
                "/static/app.css",
                "/static/login.js",
                "/healthz",
                "/api/v1/devices",  # 401
                "/nowhere",  # 404
                "/docs",
                "/openapi.json",
                report,
            )
        ]
        answers.append(await client.get("/api/v1/devices", headers=bearer))
        answers.append(await client.post("/api/v1/auth/token", data={"username": "x"}))  # 422
        answers.append(await client.get("/test/boom"))  # 500 from the error middleware
        assert [r.status_code for r in answers[-3:]] == [200, 422, 500]
        assert answers[0].headers["content-type"].startswith("text/html")
        for response in answers:
            assert_hardened(response)

        # The live-push stream gets them too, and still streams (no buffering middleware).
        params = {"access_token": token}
        async with client.stream("GET", "/api/v1/notifications/stream", params=params) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert_hardened(stream)
            lines = stream.aiter_lines()
            first = await anext(lines)
            assert first, "the stream sent nothing"


def test_pages_hold_no_inline_script_or_style() -> None:
    """What the policy forbids is not in the pages themselves (the browser test runs them)."""
    root = Path(__file__).resolve().parents[2]
    assert not list((root / "api" / "static").glob("*.html")), "the pages are templates now"
    # The people's pages (app/), the reports and the QR report form are all templates.
    templates = sorted((root / "hub" / "pages" / "templates").rglob("*.html"))
    people = {p.stem for p in templates if p.parent.name == "app"}
    assert people >= {"_base", "login", "inbox", "dashboard", "charging", "docs"}
    assert {p.stem for p in templates} >= {"base", "daily", "weekly", "form"}
    for page in templates:
        html = page.read_text()
        # A page written to a file carries the stylesheet; served, it links it (base.html).
        html = html.replace("<style>{{ inline_stylesheet }}</style>", "")
        # The one script element without src is data the policy never runs: the config.
        html = html.replace('<script type="application/json" id="chub-config">', "")
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), page.name
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=|javascript:", html, re.I), page.name
        assert not re.search(r"(src|href)=\"(https?:)?//", html), page.name


@pytest.mark.parametrize(
    ("settings", "docs", "home"),
    [
        (Settings(), True, "/docs"),
        (Settings(api=ApiSettings(docs=False)), False, "/login"),
        (production(), False, "/login"),
        (production(api=ApiSettings(docs=True)), True, "/login"),
    ],
    ids=["demo", "demo-switched-off", "production", "production-switched-on"],
)
async def test_api_docs_follow_the_switch(
    db: Database, settings: Settings, docs: bool, home: str
) -> None:
    async with serving(db, settings) as client:
        root = await client.get("/")
        assert root.status_code == 307 and root.headers["location"] == home
        for path in ("/docs", "/openapi.json", "/docs/assets/swagger-ui-bundle.js"):
            response = await client.get(path)
            assert response.status_code == (200 if docs else 404), path
        # ReDoc needs inline styles and a blob: worker, which the policy forbids.
        assert (await client.get("/redoc")).status_code == 404
        if not docs:
            return
        page = (await client.get("/docs")).text
        assert "swagger-ui-bundle.js" in page and "cdn" not in page.lower()
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets)
        for asset in assets:
            assert (await client.get(asset)).status_code == 200, asset
        schema = (await client.get("/openapi.json")).json()
        assert "/api/v1/auth/token" in schema["paths"]


def test_settings_read_the_docs_switch_and_the_trusted_proxies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().api.trusted_proxies == []
    assert Settings().api.docs is None
    monkeypatch.setenv("HUB_API_TRUSTED_PROXIES", "10.0.0.2, 192.168.10.0/24,::1")
    monkeypatch.setenv("HUB_API_DOCS", "true")
    settings = Settings()
    assert settings.api.trusted_proxies == ["10.0.0.2", "192.168.10.0/24", "::1"]
    assert settings.api.docs is True
    monkeypatch.setenv("HUB_API_TRUSTED_PROXIES", '["*"]')
    assert Settings().api.trusted_proxies == ["*"]
    monkeypatch.setenv("HUB_API_TRUSTED_PROXIES", "10.0.0.2,proxy.local")
    with pytest.raises(ValidationError, match=r"proxy\.local"):
        Settings()
    # What uvicorn would silently ignore is refused, naming the entry.
    monkeypatch.setenv("HUB_API_TRUSTED_PROXIES", "10.0.0.5/24")
    with pytest.raises(ValidationError, match=r"10\.0\.0\.5/24"):
        Settings()
    monkeypatch.setenv("HUB_API_TRUSTED_PROXIES", "*,10.0.0.2")
    with pytest.raises(ValidationError, match="alone"):
        Settings()


def add_whoami(app: FastAPI) -> None:
    @app.get("/test/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        # The client's address as the app (and so the login limiter) sees it, and the scheme.
        assert request.client is not None
        return {"ip": request.client.host, "scheme": request.url.scheme}


@pytest.mark.parametrize(
    ("proxies", "seen"),
    [([], "127.0.0.1"), (["10.9.9.9"], "127.0.0.1"), (["127.0.0.1"], SPOOFED)],
    ids=["none-trusted", "another-proxy-trusted", "loopback-trusted"],
)
async def test_forwarded_headers_count_only_from_a_trusted_proxy(
    db: Database, proxies: list[str], seen: str
) -> None:
    settings = Settings(api=ApiSettings(trusted_proxies=proxies))
    async with serving(db, settings, add_whoami) as client:
        forwarded = {"X-Forwarded-For": SPOOFED, "X-Forwarded-Proto": "https"}
        answer = (await client.get("/test/whoami", headers=forwarded)).json()
        assert answer == {"ip": seen, "scheme": "https" if seen == SPOOFED else "http"}
