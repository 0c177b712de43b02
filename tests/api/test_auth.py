"""Login, tokens and the errors a client gets for bad credentials or bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt

from hub.settings import DEMO_JWT_SECRET
from tests.api.conftest import Login


async def test_healthz_reports_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_openapi_lists_the_api(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/api/v1/auth/token", "/api/v1/devices", "/api/v1/alerts", "/api/v1/tickets"):
        assert path in paths
    assert (await client.get("/docs")).status_code == 200


async def test_login_returns_a_bearer_token_with_the_role(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"username": "vol.wang", "password": "demo-pass-2026"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["role"] == "volunteer"
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["username"] == "vol.wang"


async def test_wrong_password_and_unknown_user_get_the_same_401(client: httpx.AsyncClient) -> None:
    wrong = await client.post("/api/v1/auth/token", data={"username": "admin", "password": "x"})
    unknown = await client.post("/api/v1/auth/token", data={"username": "nobody", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "用户名或密码错误"}


async def test_missing_form_fields_name_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/token", data={"username": "admin"})
    assert response.status_code == 422
    assert any(err["loc"][-1] == "password" for err in response.json()["detail"])


async def test_requests_without_a_valid_token_are_refused(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/tickets")).status_code == 401
    bad = await client.get("/api/v1/tickets", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    expired = jwt.encode(
        {"sub": "1", "exp": datetime.now(UTC) - timedelta(minutes=1)},
        DEMO_JWT_SECRET,
        algorithm="HS256",
    )
    response = await client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    forged = jwt.encode(
        {"sub": "1", "exp": datetime.now(UTC) + timedelta(minutes=5)}, "x" * 40, algorithm="HS256"
    )
    response = await client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_bad_query_values_get_422_naming_the_field(
    client: httpx.AsyncClient, login: Login
) -> None:
    headers = await login("admin")
    response = await client.get("/api/v1/tickets?status=done", headers=headers)
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["query", "status"] and "registered" in error["msg"]
    response = await client.get("/api/v1/devices?limit=0", headers=headers)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "limit"]
    response = await client.get("/api/v1/alerts/not-a-number", headers=headers)
    assert response.status_code == 422
