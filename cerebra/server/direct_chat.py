"""The gateway's hot path served directly over ASGI: a well-formed, authenticated,
non-streaming `POST /v1/chat/completions` answered without Starlette's routing and FastAPI's
request handling (route matching over every route, dependency solving, the body's second
validation pass, four middleware layers): the same answer, measured cheaper
(docs/performance.md).

It sits inside the security headers and body limit (HardeningMiddleware) and inside the
metrics and overhead header, and passes everything else on to the app untouched, the
request body replayed: other routes, streams, bodies that do not parse or validate,
refused credentials and missing scopes. So every refusal — 401 with its audit event, 403,
422 — is the app's own answer, produced once; the direct path only ever answers requests
the route would accept, and its errors after that (a guard's refusal, a limit, an upstream
failure) go through the app's own exception handlers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cerebra.auth.principal import Scope as AuthScope
from cerebra.errors import CerebraError
from cerebra.json_codec import loads
from cerebra.server.auth import authenticator_of, context_of
from cerebra.server.openai_schemas import ChatCompletionIn
from cerebra.server.routes.openai_compat import chat_answer
from cerebra.server.trace_http import timed_auth

if TYPE_CHECKING:
    from fastapi import FastAPI

PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class _RouteLabel:
    """What the metrics middleware reads from scope["route"]: the route's template."""

    path: str = PATH


_LABEL = _RouteLabel()


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands back what was already read, then reads on."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class DirectChatRoute:
    """ASGI middleware answering the chat route's common case itself (see the module)."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api  # the FastAPI app: its state (Brain, authenticator) and handlers
        self.answered = 0  # requests this path answered itself (the rest went to the app)
        api.state.direct_chat = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST"
                or scope.get("root_path")):
            await self.app(scope, receive, send)
            return
        authorization = memory_header = None
        json_body = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-cerebra-memory":
                memory_header = value.decode("latin-1")
            elif name == b"content-type":
                json_body = value.split(b";", 1)[0].strip().lower() == b"application/json"
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":  # the client left (or the body limit)
                await self.app(scope, _replay(messages, receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        handled = json_body and await self._answer(
            scope, receive, send, b"".join(chunks), authorization, memory_header)
        if not handled:
            await self.app(scope, _replay(messages, receive), send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, raw: bytes,
                      authorization: str | None, memory_header: str | None) -> bool:
        """Answer the request; False (nothing sent) when the app should answer it."""
        state = self.api.state
        brain = getattr(state, "brain", None)
        if brain is None:
            return False
        try:
            body = ChatCompletionIn.model_validate(loads(raw))
        except (ValueError, ValidationError):  # the app's 422 names the field
            return False
        if body.stream:
            return False
        started = time.time_ns()  # the request's trace times authentication (trace_http)
        try:
            principal = authenticator_of(self.api).principal(authorization)
        except CerebraError:  # a refused credential: the app's 401, audited once
            return False
        if AuthScope.QUERY not in principal.scopes:
            return False
        scope["route"] = _LABEL
        scope["app"] = self.api
        request = Request(scope, receive)
        timed_auth(request, started)
        try:
            response = await chat_answer(request, brain, body, context_of(principal),
                                         memory_header)
        except CerebraError as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        self.answered += 1
        await response(scope, receive, send)
        return True

    def _handler(self, exc: Exception) -> Callable[..., Any] | None:
        handlers = self.api.exception_handlers
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None
