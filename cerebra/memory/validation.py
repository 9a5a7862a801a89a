"""Input checks for the memory API: each raises InvalidInput naming the field and the problem."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from cerebra.errors import Forbidden, InvalidInput


def validate_text(value: Any, *, field: str = "text", max_chars: int = 20_000) -> str:
    """Return `value` as clean text or raise InvalidInput naming the field and the problem."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{field} is not valid UTF-8", field=field) from exc
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"{field} is not valid UTF-8 (lone surrogates)", field=field) from exc
    if not value.strip():
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(value) > max_chars:
        raise InvalidInput(
            f"{field} is {len(value)} characters; the maximum is {max_chars}", field=field
        )
    return value


def importance_value(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInput("importance must be a number between 0 and 1", field="importance")
    return float(value)


def tag_values(tags: Iterable[Any]) -> tuple[str, ...]:
    if isinstance(tags, str):
        raise InvalidInput("tags must be a list of strings", field="tags")
    out = tuple(tags)
    if any(not isinstance(t, str) or not t.strip() or len(t) > 200 for t in out):
        raise InvalidInput("tags must be non-empty strings of at most 200 characters", field="tags")
    return out


def metadata_value(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or any(not isinstance(k, str) for k in value):
        raise InvalidInput("metadata must be an object with string keys", field="metadata")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"metadata is not JSON-serialisable: {exc}", field="metadata") from exc
    return dict(value)


def expiry(ttl: Any, expires_at: Any, now: float) -> float | None:
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
            raise InvalidInput("ttl must be a positive number of seconds", field="ttl")
        return now + float(ttl)
    if expires_at is not None:
        if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
            raise InvalidInput("expires_at must be a UNIX time", field="expires_at")
        return float(expires_at)
    return None


def check_prune(threshold: Any, ttl: Any) -> None:
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not (0 <= threshold <= 1)
    ):
        raise InvalidInput("threshold must be between 0 and 1", field="threshold")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
        raise InvalidInput("ttl must be a positive number of seconds", field="ttl")


def confined_value(name: str, asked: str | None, pin: str | None) -> str | None:
    """The value a confined principal may use: its own (a different one is refused)."""
    if pin is None:
        return asked
    if asked not in (None, "", pin):
        raise Forbidden(f"this credential acts for {name} {pin!r} only", field=name)
    return pin
