"""Metadata filters: validate a filter document and compile it to SQL for SQLite or PostgreSQL.

A filter is a dict. Each key is a field (a metadata key, or one of the columns `importance`,
`salience`, `created_at`, `updated_at`, `expires_at`, `source`, `tags`) mapped to a value
(equality) or to `{operator: value}`; the keys `AND` / `OR` take a list of filters. Several
keys in one dict are ANDed. Operators: eq, ne, in, nin, gt, gte, lt, lte, contains
(a substring of a string, or an element of a list; for `tags`, one of the memory's tags).

    {"AND": [{"speaker": "Ana"}, {"OR": [{"turn": {"gte": 3}}, {"topic": {"in": ["x"]}}]}]}

`ne` and `nin` also match memories that lack the field. The compiled SQL runs inside the
candidate queries, so filtering happens before any top-k cut. Bad filters raise InvalidInput
naming the offending field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any

from cerebra.errors import InvalidInput

OPERATORS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains")
COLUMNS = {
    "importance": "num",
    "salience": "num",
    "created_at": "num",
    "updated_at": "num",
    "expires_at": "num",
    "source": "str",
}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,99}$")
_MAX_DEPTH = 8
Scalar = str | int | float | bool


@dataclass(frozen=True)
class Cond:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Group:
    kind: str  # "AND" | "OR"
    parts: tuple[Cond | Group, ...]


Node = Cond | Group


def _scalar(field: str, value: Any) -> Scalar:
    if isinstance(value, bool | int | float | str) and not (
        isinstance(value, float) and value != value
    ):
        return value
    raise InvalidInput(
        f"filter value for {field!r} must be a string, number or boolean", field=f"filter.{field}"
    )


def _condition(field: str, op: str, value: Any) -> Cond:
    where = f"filter.{field}"
    if op not in OPERATORS:
        raise InvalidInput(
            f"unknown filter operator {op!r} for {field!r}; use one of {', '.join(OPERATORS)}",
            field=where,
        )
    if field == "tags" and op not in ("contains", "in", "nin"):
        raise InvalidInput("tags accept only contains, in and nin", field=where)
    if op in ("in", "nin"):
        if not isinstance(value, list | tuple) or not value:
            raise InvalidInput(f"{op} for {field!r} needs a non-empty list", field=where)
        return Cond(field, op, tuple(_scalar(field, v) for v in value))
    value = _scalar(field, value)
    if op in ("gt", "gte", "lt", "lte") and isinstance(value, bool):
        raise InvalidInput(f"{op} for {field!r} needs a number or a string", field=where)
    if COLUMNS.get(field) == "num" and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        raise InvalidInput(f"{field!r} is a number", field=where)
    return Cond(field, op, value)


def parse_filter(where: Any, _depth: int = 0) -> Node | None:
    """Validate a filter document and return its tree (None for an empty filter)."""
    if where is None:
        return None
    if _depth > _MAX_DEPTH:
        raise InvalidInput("filter is nested too deeply", field="filter")
    if not isinstance(where, Mapping):
        raise InvalidInput("a filter must be an object (a dict)", field="filter")
    parts: list[Node] = []
    for key, value in where.items():
        if not isinstance(key, str):
            raise InvalidInput("filter keys must be strings", field="filter")
        if key.upper() in ("AND", "OR"):
            if not isinstance(value, list | tuple) or not value:
                raise InvalidInput(
                    f"{key} needs a non-empty list of filters", field=f"filter.{key}"
                )
            subs = [parse_filter(v, _depth + 1) for v in value]
            kept = tuple(s for s in subs if s is not None)
            if kept:
                parts.append(Group(key.upper(), kept))
            continue
        name = key[len("metadata.") :] if key.startswith("metadata.") else key
        if not _KEY.match(name):
            raise InvalidInput(
                f"filter field {key!r} must be a name of letters, digits, _ or -",
                field=f"filter.{key}",
            )
        if isinstance(value, Mapping):
            if not value:
                raise InvalidInput(f"no operator given for {key!r}", field=f"filter.{key}")
            for op, operand in value.items():
                parts.append(_condition(name, str(op), operand))
        else:
            parts.append(_condition(name, "eq", value))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Group("AND", tuple(parts))


class _Compiler:
    """Render a filter tree as a SQL boolean expression with named parameters."""

    def __init__(self, dialect: str, alias: str) -> None:
        self.pg = dialect == "postgresql"
        self.alias = alias
        self.params: dict[str, Any] = {}
        self._ids = count()

    def bind(self, value: Any) -> str:
        name = f"f{next(self._ids)}"
        self.params[name] = value
        return f":{name}"

    def node(self, node: Node) -> str:
        if isinstance(node, Group):
            joined = f" {node.kind} ".join(self.node(p) for p in node.parts)
            return f"({joined})"
        return self.cond(node)

    def cond(self, c: Cond) -> str:
        if c.op in ("in", "nin"):
            parts = " OR ".join(self.cond(Cond(c.field, "eq", v)) for v in c.value)
            return f"({parts})" if c.op == "in" else f"(NOT ({parts}))"
        if c.op == "ne":
            return f"(NOT {self.cond(Cond(c.field, 'eq', c.value))})"
        if c.field == "tags":
            return (
                f"EXISTS (SELECT 1 FROM memory_tags ft WHERE ft.memory_id = {self.alias}.id "
                f"AND ft.tag = {self.bind(str(c.value))})"
            )
        if c.field in COLUMNS:
            return self.column(c)
        return self.pg_meta(c) if self.pg else self.sqlite_meta(c)

    def column(self, c: Cond) -> str:
        col = f"{self.alias}.{c.field}"
        if c.op == "contains":
            return (
                f"(strpos({col}, {self.bind(str(c.value))}) > 0)"
                if self.pg
                else (f"(instr({col}, {self.bind(str(c.value))}) > 0)")
            )
        sql_op = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[c.op]
        return (
            f"(coalesce({col} {sql_op} {self.bind(c.value)}, false))"
            if self.pg
            else (f"(coalesce({col} {sql_op} {self.bind(c.value)}, 0))")
        )

    def sqlite_meta(self, c: Cond) -> str:
        path = self.bind(f'$."{c.field}"')
        meta = f"{self.alias}.metadata"
        kind = f"json_type({meta}, {path})"
        value = f"json_extract({meta}, {path})"
        v = c.value
        if c.op == "contains":
            if isinstance(v, bool):
                member = f"je.type = {self.bind('true' if v else 'false')}"
            else:
                kinds = "('text')" if isinstance(v, str) else "('integer', 'real')"
                member = f"je.type IN {kinds} AND je.value = {self.bind(v)}"
            return (
                f"(CASE {kind} WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each({meta}, {path}) "
                f"je WHERE {member}) "
                f"WHEN 'text' THEN instr({value}, {self.bind(str(v))}) > 0 ELSE 0 END)"
            )
        if isinstance(v, bool):
            return f"({kind} = {self.bind('true' if v else 'false')})"
        types = "('text')" if isinstance(v, str) else "('integer', 'real')"
        sql_op = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[c.op]
        return f"(coalesce({kind} IN {types} AND {value} {sql_op} {self.bind(v)}, 0))"

    def pg_meta(self, c: Cond) -> str:
        key = self.bind(c.field)
        field = f"({self.alias}.metadata -> {key})"
        v = c.value
        if c.op == "contains":
            return (
                f"(CASE jsonb_typeof({field}) WHEN 'array' THEN {field} @> "
                f"CAST({self.bind(json.dumps([v]))} AS jsonb) "
                f"WHEN 'string' THEN strpos({field} #>> '{{}}', {self.bind(str(v))}) > 0 "
                "ELSE false END)"
            )
        if c.op == "eq":
            if isinstance(v, bool | str):
                return f"(coalesce({field} = CAST({self.bind(json.dumps(v))} AS jsonb), false))"
            return (
                f"(coalesce(CASE WHEN jsonb_typeof({field}) = 'number' THEN "
                f"({field} #>> '{{}}')::float8 END = {self.bind(float(v))}, false))"
            )
        sql_op = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[c.op]
        if isinstance(v, str):
            return (
                f"(coalesce(CASE WHEN jsonb_typeof({field}) = 'string' THEN "
                f"({field} #>> '{{}}') END COLLATE \"C\" {sql_op} {self.bind(v)}, false))"
            )
        return (
            f"(coalesce(CASE WHEN jsonb_typeof({field}) = 'number' THEN "
            f"({field} #>> '{{}}')::float8 END {sql_op} {self.bind(float(v))}, false))"
        )


def compile_filter(node: Node | None, dialect: str, alias: str = "m") -> tuple[str, dict[str, Any]]:
    """SQL fragment (starting with ' AND ', or '' for no filter) and its parameters."""
    if node is None:
        return "", {}
    compiler = _Compiler(dialect, alias)
    return " AND " + compiler.node(node), compiler.params
