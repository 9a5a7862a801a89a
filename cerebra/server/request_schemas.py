"""JSON Schemas of request rules that a field's type alone does not say, for the OpenAPI
document: the memory filter language, the scopes each role may grant, "one of these
fields" rules. The server enforces each rule itself; these state it, exactly, so a client
(or schemathesis) can tell a valid request from one the server refuses.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BeforeValidator

from cerebra.auth.principal import ROLE_SCOPES, Role, Scope
from cerebra.memory.filters import _MAX_DEPTH, COLUMNS, OPERATORS

_SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean"]}
_ORDERED: dict[str, Any] = {"type": ["string", "number"]}
_NUMBER: dict[str, Any] = {"type": "number"}
_SCALARS: dict[str, Any] = {"type": "array", "minItems": 1, "items": _SCALAR}
_GROUP = r"^([Aa][Nn][Dd]|[Oo][Rr])$"
FIELD_NAME = r"^(?:[Aa][Nn][Dd]|[Oo][Rr]|(?:metadata\.)?[A-Za-z_][A-Za-z0-9_\-]{0,99})$"


def _operators(value: dict[str, Any], ordered: dict[str, Any]) -> dict[str, Any]:
    props = {op: (_SCALARS if op in ("in", "nin") else
                  ordered if op in ("gt", "gte", "lt", "lte") else value) for op in OPERATORS}
    return {"type": "object", "minProperties": 1, "additionalProperties": False,
            "properties": props}


def _condition(value: dict[str, Any], ordered: dict[str, Any]) -> dict[str, Any]:
    """A field's condition: a value (equality) or {operator: value}."""
    return {"anyOf": [value, _operators(value, ordered)]}


_TAGS = {"type": "object", "minProperties": 1, "additionalProperties": False,
         "properties": {"contains": _SCALAR, "in": _SCALARS, "nin": _SCALARS}}


def filter_schema(depth: int = 0) -> dict[str, Any]:
    """cerebra.memory.filters' language: field names of letters, digits, _ or - (optionally
    `metadata.`-prefixed) mapped to a value or to operators; AND/OR (any case) take a
    non-empty list of filters, nested at most `_MAX_DEPTH` deep; the numeric columns take
    numbers, `tags` only contains/in/nin."""
    numeric = "|".join(sorted(name for name, kind in COLUMNS.items() if kind == "num"))
    inner = filter_schema(depth + 1) if depth < _MAX_DEPTH else None
    item = {"anyOf": [inner, {"type": "null"}]} if inner is not None else {"type": "null"}
    return {
        "type": "object",
        "propertyNames": {"pattern": FIELD_NAME},
        "patternProperties": {
            _GROUP: {"type": "array", "minItems": 1, "items": item},
            rf"^(metadata\.)?({numeric})$": _condition(_NUMBER, _NUMBER),
            r"^(metadata\.)?tags$": _TAGS,
        },
        "additionalProperties": _condition(_SCALAR, _ORDERED),
    }


def keys_by_role(schema: dict[str, Any]) -> None:
    """KeyIn: the scopes a key may carry are its role's (ROLE_SCOPES); no role is `user`."""
    branches = []
    for role in Role:
        allowed = sorted(s.value for s in ROLE_SCOPES[role])
        branch: dict[str, Any] = {"properties": {
            "role": {"const": role.value},
            "scopes": {"anyOf": [{"type": "array", "items": {"enum": allowed}},
                                 {"type": "null"}]}}}
        if role is not Role.USER:
            branch["required"] = ["role"]
        branches.append(branch)
    schema["oneOf"] = branches


def scope_or_confirm(schema: dict[str, Any]) -> None:
    """DeleteAllIn: agent_id, user_id or session_id, or confirm_all: true."""
    schema["anyOf"] = [
        *({"required": [name], "properties": {name: {"type": "string"}}}
          for name in ("agent_id", "user_id", "session_id")),
        {"required": ["confirm_all"], "properties": {"confirm_all": {"const": True}}},
    ]



def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# JSON Schema's integer: 3 and 3.0 alike, never true or "3" (pydantic's strict int refuses
# 3.0, its lax int takes true and "3"). After the strict int's constraints:
# Annotated[int, Field(ge=0, strict=True), WHOLE] (before them, they leave the schema)
WHOLE = BeforeValidator(_whole)


def _scope_list() -> str:
    names = "|".join(re.escape(s.value) for s in sorted(Scope, key=lambda s: s.value))
    return rf"^\s*(?:(?:{names})(?:\s+(?:{names}))*)?\s*$"


def _form_fields(schema: dict[str, Any]) -> dict[str, Any]:
    """A form's fields are strings (a form has no null; FastAPI reads an empty one as
    absent): each field's schema is its string branch."""
    props: dict[str, Any] = schema["properties"]
    for name, field in props.items():
        strings = [b for b in field.get("anyOf", [field]) if b.get("type") == "string"]
        props[name] = strings[0] if strings else field
    return props


def token_grants(schema: dict[str, Any]) -> None:
    """POST /token's form (RFC 6749): grant_type is required, password or refresh_token;
    the password grant needs username (not empty) and password, the refresh_token grant a
    refresh_token; scope is a space-separated list of scope names. (The server answers
    400 invalid_request / unsupported_grant_type / invalid_scope otherwise.)"""
    props = _form_fields(schema)
    props["grant_type"] = {"type": "string", "enum": ["password", "refresh_token"]}
    props["scope"] = {"type": "string", "maxLength": 1024,
                      "pattern": _scope_list()}
    schema["required"] = ["grant_type"]
    schema["oneOf"] = [
        {"required": ["grant_type", "username", "password"], "properties": {
            "grant_type": {"const": "password"},
            "username": {"type": "string", "minLength": 1},
            "password": {"type": "string", "minLength": 1}}},
        {"required": ["grant_type", "refresh_token"], "properties": {
            "grant_type": {"const": "refresh_token"},
            "refresh_token": {"type": "string", "minLength": 1}}},
    ]


def revoke_form(schema: dict[str, Any]) -> None:
    """POST /auth/revoke's form (RFC 7009): the token is required (400 invalid_request)."""
    _form_fields(schema)["token"] = {"type": "string", "minLength": 1, "maxLength": 4096}
    schema["required"] = ["token"]
