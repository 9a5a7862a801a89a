"""The API's documented answers beyond success: every route's OpenAPI entry lists the error
statuses it can give, with the one error body the server renders, and every route that
needs credentials declares the bearer scheme — in one place, applied by create_app after
the routes are included, so a new route is documented like the others without a word.

Which statuses: 413 and 422 everywhere (the body limit; invalid input); 401 and 403 on
every route that needs credentials; 404, 409 and 429 there too (an unknown or another
tenant's id, a feature that is off; a conflict; a busy model); 402, 502, 503 and 504 on the
routes that generate (a spent budget; upstream failures). `STREAMING` documents the
server-sent events a route answers with `stream: true`. Settings and state shape some
requests: max_tokens caps, the catalog entries a server admits (its EntryPolicy).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from cerebra.auth.principal import Scope
from cerebra.server.auth import route_requirements

_NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "field": _NULLABLE_STRING,
            },
            "additionalProperties": True,
        }
    },
}

_DESCRIPTIONS = {
    401: "no credentials, or credentials that do not hold (WWW-Authenticate says which)",
    402: "a budget is spent (X-Budget-Reset says until when)",
    403: "the credential lacks the scope named, or may not do this",
    404: "not found: an unknown id, another tenant's or user's, or a feature that is off",
    409: "conflicts with the current state",
    413: "the request body is too large",
    422: "invalid input: `field` names it",
    429: "rate-limited or busy: retry after Retry-After seconds",
    502: "the upstream model failed",
    503: "no model is available",
    504: "the upstream model did not answer in time",
}
_PUBLIC = (413, 422)
_AUTHENTICATED = (401, 403, 404, 409, 413, 422, 429)
_GENERATING = (*_AUTHENTICATED, 402, 502, 503, 504)

STREAMING: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the answer; with `stream: true`, server-sent events",
        "content": {"text/event-stream": {"schema": {
            "type": "object", "properties": {"data": {"type": "string"}}}}},
    }
}

BEARER = "bearer"


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or _DESCRIPTIONS.get(status, "error"),
        "content": {"application/json": {"schema": ERROR_SCHEMA}},
    }


def _statuses(public: bool, scopes: set[str]) -> tuple[int, ...]:
    if public:
        return _PUBLIC
    return _GENERATING if Scope.QUERY.value in scopes else _AUTHENTICATED


def install_openapi(app: FastAPI) -> None:
    """Document every operation's error answers and the bearer scheme in the app's OpenAPI
    document (built on first use, from the routes' declared requirements)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        declared = {(r.path, r.method.lower()): r for r in route_requirements(app)}
        schema.setdefault("components", {}).setdefault("securitySchemes", {})[BEARER] = {
            "type": "http", "scheme": "bearer",
            "description": "an API key (ck-…) or an access token from /token",
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                requirement = declared.get((path, method))
                public = requirement is None or requirement.public
                if not public:
                    operation["security"] = [{BEARER: []}]
                responses = operation.setdefault("responses", {})
                scopes = set(requirement.scopes if requirement else ())
                for status in _statuses(public, scopes):
                    responses.setdefault(str(status), error_response(status))
                # FastAPI's own 422 body ({"detail": …}) is not what the server sends
                responses["422"]["content"] = error_response(422)["content"]
        _state_limits(schema, app)
        _catalog_entries(schema, app)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")


def _state_limits(schema: dict[str, Any], app: FastAPI) -> None:
    """Limits that come from settings, stated where a request names them: max_tokens (and
    max_completion_tokens) at most generation.max_tokens_cap, unless a model says less."""
    settings = getattr(app.state, "settings", None)
    if settings is None:
        return
    cap = settings.generation.max_tokens_cap
    for component in schema.get("components", {}).get("schemas", {}).values():
        for name in _TOKEN_FIELDS:
            field = component.get("properties", {}).get(name)
            if field is None:
                continue
            for branch in field.get("anyOf", [field]):
                if branch.get("type") == "integer" and "maximum" not in branch:
                    branch["maximum"] = cap


def _catalog_entries(schema: dict[str, Any], app: FastAPI) -> None:
    """POST /api/models: the entries this server's catalog admits over the API, per kind
    (cerebra.models.catalog_submission), in place of the route's free-form object."""
    operation = schema.get("paths", {}).get("/api/models", {}).get("post")
    brain = getattr(app.state, "brain", None)
    catalog = getattr(brain, "catalog", None)
    if operation is None or catalog is None:
        return
    from cerebra.models.catalog_submission import openapi_schema

    body, components = openapi_schema(catalog.policy)
    schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
    operation["requestBody"]["content"]["application/json"]["schema"] = body
