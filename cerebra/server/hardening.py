"""ASGI middleware: security headers on every response and a request-body size limit.

Headers: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
`Referrer-Policy: no-referrer` on every response; `Content-Security-Policy` on HTML
(`default-src 'self'`; the interactive docs pages also load Swagger/ReDoc from their CDN);
`Strict-Transport-Security` when the request came over TLS; `Cache-Control: no-store` unless
the route set its own.

Body limit (`server.max_body_bytes`): a declared Content-Length over the limit is answered
413 before the route runs; a body without one (chunked) is counted as it is read, and the
read that crosses the limit answers 413 itself, tells the route the client left, and drops
whatever the route then tries to send. The 413 is JSON naming the limit.

Pure ASGI (no BaseHTTPMiddleware): a few microseconds per request.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_NO_STORE = (b"cache-control", b"no-store")
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
CSP = b"default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
_CDN = b"https://cdn.jsdelivr.net"
DOCS_CSP = (b"default-src 'self'; script-src 'self' 'unsafe-inline' " + _CDN
            + b"; style-src 'self' 'unsafe-inline' " + _CDN + b" https://fonts.googleapis.com"
            b"; font-src 'self' https://fonts.gstatic.com; img-src 'self' data: "
            b"https://fastapi.tiangolo.com; worker-src 'self' blob:; frame-ancestors 'none'")
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})


def too_large_body(limit: int) -> bytes:
    return json.dumps({"error": {
        "type": "body_too_large",
        "message": f"the request body is larger than the limit of {limit} bytes "
                   "(server.max_body_bytes)",
        "field": "body",
        "limit_bytes": limit,
    }}).encode()


class HardeningMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes
        self._413 = too_large_body(max_body_bytes)

    async def _reply_413(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self._413)).encode()),
            (b"connection", b"close"), *_ALWAYS, _NO_STORE]})
        await send({"type": "http.response.body", "body": self._413})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.limit:
                    await self._reply_413(send)
                    return
                break
        tls = scope.get("scheme") == "https"
        docs = scope.get("path") in DOCS_PATHS
        state = {"read": 0, "replied": False, "started": False}

        async def limited_receive() -> Message:
            if state["replied"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > self.limit:
                    if not state["started"]:
                        state["replied"] = True
                        await self._reply_413(send)
                    return {"type": "http.disconnect"}
            return message

        async def secured_send(message: Message) -> None:
            if state["replied"]:
                return  # the 413 went out; the route's own reply is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
                headers = list(message.get("headers", ()))
                has_cache = False
                html = False
                for name, value in headers:
                    if name == b"cache-control":
                        has_cache = True
                    elif name == b"content-type" and value.startswith(b"text/html"):
                        html = True
                headers.extend(_ALWAYS)
                if not has_cache:
                    headers.append(_NO_STORE)
                if html:
                    headers.append((b"content-security-policy", DOCS_CSP if docs else CSP))
                if tls:
                    headers.append(_HSTS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, limited_receive, secured_send)
