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
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


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


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
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
        headers=getattr(exc, "headers", None),
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
