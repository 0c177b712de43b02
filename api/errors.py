"""One error model for the whole API, and an OpenAPI document that lists it.

Every error answer is ``{"detail": ...}``: a sentence saying what was wrong, or
for 422 FastAPI's list of the inputs that failed validation. The hub's domains
raise its refusals (hub/errors.py: NotFound, Forbidden, Conflict, InvalidInput),
mapped to 404, 403, 409 and 422 by one handler here; routes raise HTTPException
only for what they check themselves. Here the generated OpenAPI document is
completed so a client (and the schemathesis contract test) knows which errors
each operation can answer: 401/403 where a login is needed, 404 where a path
names something, 409 for changes, 429 where a rate limit applies.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.reader import request_reader
from hub.errors import Conflict, Forbidden, HubError, InvalidInput, NotAuthenticated, NotFound
from hub.i18n.catalogs import N_

# The largest id a database row can have (a signed 64-bit integer).
MAX_ID = 2**63 - 1


def invalid_input(where: str, name: str, msg: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, for checks across inputs."""
    problem = {"type": "value_error", "loc": [where, name], "msg": msg}
    # 422 as a number: the constant's name changed across Starlette versions.
    return HTTPException(422, [problem])


class ErrorBody(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="what was wrong: a sentence, or (422) the inputs that failed validation"
    )


_DESCRIPTIONS = {
    "401": "not logged in, the token expired, or (logging in) a wrong username or password",
    "403": "logged in, but the caller's role may not do this",
    "404": "nothing with that id visible to the caller",
    "409": "not allowed in the current state, or changed concurrently",
    "429": "too many attempts; try again after the Retry-After header's seconds",
}
_RATE_LIMITED = ("/api/v1/auth/token", "/api/v1/problem-reports/")


def _codes_for(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    codes = []
    if operation.get("security"):
        codes += ["401", "403"]
    if "{" in path:
        codes.append("404")
    if method in ("post", "put", "patch", "delete"):
        codes.append("409")
    if path.startswith(_RATE_LIMITED):
        codes.append("429")
    if path == "/api/v1/auth/token":
        codes.append("401")  # wrong username or password
    return codes


_STATUS: tuple[tuple[type[HubError], int], ...] = (
    (NotAuthenticated, 401),
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    """The hub's refusals (hub/errors.py), mapped to HTTP here and nowhere else, said in
    the reader's language (the codes, ``loc`` and ``type`` stay as they are)."""
    reader = request_reader(request)
    why = exc.for_reader(reader.language, reader.zone) if isinstance(exc, HubError) else str(exc)
    if isinstance(exc, InvalidInput):
        problem = {"type": "value_error", "loc": [exc.where, exc.field], "msg": why}
        return JSONResponse({"detail": [problem]}, status_code=422)
    code = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
    return JSONResponse({"detail": why}, status_code=code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HubError, _refused)


def complete_error_responses(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorBody"] = ErrorBody.model_json_schema()
        ref = {"$ref": "#/components/schemas/ErrorBody"}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for code in _codes_for(path, method, operation):
                    entry = responses.setdefault(code, {"description": _DESCRIPTIONS[code]})
                    entry.setdefault("content", {"application/json": {"schema": ref}})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(OverflowError)
    async def number_out_of_range(request: Request, _exc: OverflowError) -> JSONResponse:
        # A number no row can have (the database's integers are 64-bit): bad input, not a crash.
        # Shaped like FastAPI's own validation errors, so clients read both alike.
        why = request_reader(request).text(N_("a number in the request is out of range"))
        problem = {"loc": ["request"], "msg": why, "type": "range"}
        return JSONResponse(
            {"detail": [problem]}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
