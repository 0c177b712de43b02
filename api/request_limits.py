"""Bounds on what one HTTP request may cost the process that also stores alarms.

- Body size: a request body over ``api_max_body_bytes`` (1 MB by default) is
  answered 413 before it is read whole: by its Content-Length at once, or, for a
  chunked body, as soon as the bytes read pass the bound. A 40 MB JSON body to
  the token refresh once held the event loop for 31 s.
- Body pace: each chunk of a body must arrive within ``api_body_timeout_s``;
  a half-sent request is answered 408 and closed instead of holding a
  connection and its task forever.
- Validation errors name the field and the reason and never echo the input:
  FastAPI's 422 repeated up to 35 MB of the request back.

A pure ASGI middleware, not Starlette's BaseHTTPMiddleware, so the live-push
stream is not buffered.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.reader import Reader, request_reader
from hub.i18n.catalogs import N_

# Most validation problems one 422 lists; the count of the rest is said.
_MAX_PROBLEMS = 20
_MAX_MESSAGE = 200


class _TooLarge(HTTPException):
    """An HTTPException, so FastAPI's body parsing passes it on instead of making it a 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


class _TooSlow(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(408, detail)


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_timeout_s: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _answer(send, 413, self._too_large(scope, declared))
            return
        seen = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal seen
            try:
                async with asyncio.timeout(self.body_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow(self._too_slow(scope)) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _TooLarge(self._too_large(scope, None))
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except (_TooLarge, _TooSlow) as exc:
            # Raised where nothing turned it into an answer (a route that reads the body
            # itself): answer here, unless the answer already started.
            if not started:
                await _answer(send, exc.status_code, str(exc.detail))

    def _too_slow(self, scope: Scope) -> str:
        return _reader(scope).text(
            N_("the request body did not arrive within %(seconds)s s"),
            seconds=f"{self.body_timeout_s:g}",
        )

    def _too_large(self, scope: Scope, declared: int | None) -> str:
        reader, limit = _reader(scope), self.max_body_bytes
        if declared is None:
            return reader.text(N_("request body too large: at most %(limit)s bytes"), limit=limit)
        return reader.text(
            N_("request body too large: %(size)s bytes; at most %(limit)s bytes"),
            size=declared,
            limit=limit,
        )


def _reader(scope: Scope) -> Reader:
    # Said in the asker's language (cookie, ?lang=, Accept-Language): no route has run.
    return request_reader(Request(scope))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(send: Send, status: int, detail: str) -> None:
    body = JSONResponse({"detail": detail}).body
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _loc_part(part: object) -> int | str:
    """Indexes stay numbers, as clients address list items by them; names are cut short."""
    if isinstance(part, int) and not isinstance(part, bool):
        return part
    return str(part)[:64]


def _problem(error: dict[str, Any]) -> dict[str, Any]:
    """One validation problem, without the input that caused it."""
    return {
        "type": str(error.get("type", "value_error"))[:64],
        "loc": [_loc_part(part) for part in error.get("loc", ())][:10],
        "msg": str(error.get("msg", ""))[:_MAX_MESSAGE],
    }


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    detail = [_problem(e) for e in errors[:_MAX_PROBLEMS]]
    if len(errors) > _MAX_PROBLEMS:
        detail.append(
            {
                "type": "too_many_errors",
                "loc": ["body"],
                "msg": f"{len(errors) - _MAX_PROBLEMS} more problems not listed",
            }
        )
    return JSONResponse({"detail": detail}, status_code=422)


def install(app: FastAPI, *, max_body_bytes: int, body_timeout_s: float) -> None:
    """Bound every request of ``app`` and answer validation errors without echoing input."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(RequestLimits, max_body_bytes=max_body_bytes, body_timeout_s=body_timeout_s)
