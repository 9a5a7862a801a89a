"""Error translation: domain errors and validation failures become JSON 4xx/5xx bodies.

Body shape: {"error": {"type": ..., "message": ..., "field": ...}} — OpenAI clients read
`error.message`; `field` names the offending input. A busy model's 429 carries Retry-After.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cerebra.errors import CerebraError

log = logging.getLogger("cerebra.server")


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """pydantic's location as a path: items[1].text (list positions in brackets)."""
    out = ""
    for n, part in enumerate(loc):
        if n == 0 and part in ("body", "query", "path", "header"):
            continue  # where it was (a body field may itself be named "query")
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


async def _cerebra_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CerebraError)
    return JSONResponse(
        {"error": exc.to_dict()}, status_code=exc.status_code, headers=exc.headers()
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = []
    for err in exc.errors():
        field = _field_name(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            field = "body"
        details.append(
            {"field": field, "message": err.get("msg", "invalid"), "type": err.get("type")}
        )
    first = details[0] if details else {"field": "body", "message": "invalid request"}
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details) or "invalid request"
    return JSONResponse(
        {
            "error": {
                "type": "invalid_input",
                "message": message,
                "field": first["field"],
                "details": details,
            }
        },
        status_code=422,
    )


def _allowed_methods(request: Request) -> str | None:
    """The documented methods of the request's path, across all the routes that share its
    template (Starlette's 405 names only the first matching route's)."""
    from fastapi import routing

    contexts = getattr(routing, "iter_route_contexts", None)  # FastAPI ≥ 0.16x
    routes = contexts(request.app.routes) if contexts else request.app.routes
    path = request.scope.get("path", "")
    by_template: dict[str, set[str]] = {}
    for route in routes:
        regex = getattr(route, "path_regex", None)
        if getattr(route, "include_in_schema", False) and regex and regex.match(path):
            template = str(getattr(route, "path_format", path))
            by_template.setdefault(template, set()).update(getattr(route, "methods", ()) or ())
    if not by_template:
        return None
    # the most specific path wins: /api/memory/batch, not /api/memory/{memory_id}
    best = min(by_template, key=lambda template: template.count("{"))
    return ", ".join(sorted(by_template[best]))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    if exc.status_code == 400 and "parsing the body" in str(exc.detail):
        # FastAPI's answer to a body it cannot decode (e.g. invalid UTF-8): bad input, 422
        return JSONResponse(
            {
                "error": {
                    "type": "invalid_input",
                    "message": "the request body could not be decoded (invalid UTF-8 or JSON)",
                    "field": "body",
                }
            },
            status_code=422,
        )
    return JSONResponse(
        {"error": {"type": "http_error", "message": str(exc.detail)}},
        status_code=exc.status_code,
        headers=headers or None,
    )


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse(
        {"error": {"type": "internal_error", "message": "internal error; see the server log"}},
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CerebraError, _cerebra_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
