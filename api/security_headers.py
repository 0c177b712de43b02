"""Security headers on every answer: pages, static files, API, errors, live push.

The pages load nothing but their own files (no inline script, no style attribute,
no CDN), so the Content-Security-Policy can be strict: a script injected into a
ticket's title could neither run nor send anything elsewhere. The policy is the
same for every answer; JSON and files ignore it, pages and the API docs meet it.

A pure ASGI middleware, not Starlette's BaseHTTPMiddleware: that one buffers
through a task per request and breaks streaming answers such as the live push.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Every page links the one stylesheet, api/static/app.css: no inline style at all.
        "style-src 'self'",
        # Swagger UI's stylesheet draws its icons as data: images.
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    # frame-ancestors for browsers that predate it.
    (b"x-frame-options", b"DENY"),
)


class SecurityHeaders:
    """Adds SECURITY_HEADERS to each HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
