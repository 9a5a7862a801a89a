"""Upstream HTTP failures → Cerebra errors, so the router can tell what to do with them.

| upstream                              | error                         | router does  |
|---------------------------------------|-------------------------------|--------------|
| 429 (Retry-After honoured)            | UpstreamError, retryable      | retry/wait   |
| 408, 409, 5xx, 529 (overloaded)       | UpstreamError, retryable      | retry        |
| timeout, connection error, cut stream | UpstreamError, retryable      | retry        |
| malformed JSON                        | UpstreamError, retryable      | retry        |
| 400/422 "context too long", 413       | PromptTooLong                 | skip backend |
| 400/404/422 other                     | UpstreamRejected (HTTP 422)   | fall back    |
| 401/403 and other 4xx                 | UpstreamError, not retryable  | fall back    |

An upstream 400 is not fatal for the whole request: it usually means *this* backend does
not accept something (a parameter, tools) that another backend may accept.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from cerebra.errors import BackendError, CerebraError, PromptTooLong

_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "context length",
    "maximum context",
    "prompt is too long",
    "too many tokens",
    "context window",
)


class UpstreamError(BackendError):
    """A remote model server failed; `upstream_status` is its HTTP status (None: no reply)."""

    def __init__(
        self,
        message: str,
        *,
        backend: str,
        upstream_status: int | None = None,
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.backend = backend
        self.upstream_status = upstream_status
        self.extra = {"backend": backend, "upstream_status": upstream_status}


class UpstreamRejected(UpstreamError):
    """The upstream refused the request as invalid (400/404/422); retrying will not help."""

    status_code = 422
    code = "upstream_rejected"


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def upstream_message(body: bytes | str) -> str:
    """The human message in an OpenAI or Anthropic error body, else the body's start."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data: Any = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict) and err.get("message"):
            kind = err.get("type") or err.get("code")
            return f"{kind}: {err['message']}" if kind else str(err["message"])
        if isinstance(err, str):
            return err
        if isinstance(data.get("detail"), str):
            return str(data["detail"])
    return text.strip()[:300]


def error_from_status(
    status: int, body: bytes | str, headers: Mapping[str, str], backend: str
) -> CerebraError:
    """The error for an upstream reply with HTTP status >= 400."""
    detail = upstream_message(body)
    message = f"{backend}: upstream answered HTTP {status}: {detail}"
    if status == 413 or (status in (400, 422) and _mentions_context(detail)):
        return PromptTooLong(message, field="messages", backend=backend, upstream_status=status)
    if status == 429 or status in (408, 409) or status >= 500:
        return UpstreamError(message, backend=backend, upstream_status=status,
                             retryable=True, retry_after=parse_retry_after(headers))
    if status in (400, 404, 422):
        return UpstreamRejected(message, backend=backend, upstream_status=status,
                                retryable=False)
    return UpstreamError(message, backend=backend, upstream_status=status, retryable=False)


def _mentions_context(detail: str) -> bool:
    lowered = detail.lower()
    return any(marker in lowered for marker in _CONTEXT_MARKERS)


def error_from_response(response: httpx.Response, backend: str) -> CerebraError:
    """Like error_from_status, for a response whose body has been read."""
    return error_from_status(response.status_code, response.content, response.headers, backend)


def error_from_transport(exc: httpx.HTTPError, backend: str, *, streaming: bool = False
                         ) -> UpstreamError:
    """Timeouts, refused connections and connections cut mid-reply: all worth a retry."""
    if isinstance(exc, httpx.TimeoutException):
        what = "timed out" + (" waiting for the next stream chunk" if streaming else "")
        return UpstreamError(f"{backend}: upstream {what} ({type(exc).__name__})",
                             backend=backend, retryable=True)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        what = "stream broken mid-way" if streaming else "connection broken mid-reply"
        return UpstreamError(f"{backend}: {what}: {type(exc).__name__}: {exc}",
                             backend=backend, retryable=True)
    return UpstreamError(f"{backend}: cannot reach upstream: {type(exc).__name__}: {exc}",
                         backend=backend, retryable=True)


def malformed(backend: str, detail: str, sample: bytes | str = b"") -> UpstreamError:
    """A reply that is not the JSON (or event) the protocol promises."""
    if isinstance(sample, bytes):
        sample = sample.decode("utf-8", "replace")
    shown = f" (got {sample[:120]!r})" if sample else ""
    return UpstreamError(f"{backend}: malformed reply from upstream: {detail}{shown}",
                         backend=backend, retryable=True)


def decode_json(content: bytes | str, backend: str) -> dict[str, Any]:
    """Parse a JSON object from upstream or raise a retryable `malformed` error."""
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        raise malformed(backend, f"invalid JSON ({exc.msg})", content) from exc
    if not isinstance(data, dict):
        raise malformed(backend, "expected a JSON object", content)
    return data
