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

Messages are sanitised: an upstream's error body, a malformed reply's bytes and a transport
exception's text (host, address) never enter an error's message, which reaches HTTP callers;
the message names the backend, the status and at most a known-safe error type
(`SAFE_ERROR_TYPES`). The full detail goes to the log (logger `cerebra.upstream`) and stays
on the exception as `.detail` for library callers; it is not in `to_dict()`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx

from cerebra.errors import BackendError, CerebraError, PromptTooLong
from cerebra.json_codec import loads

log = logging.getLogger("cerebra.upstream")

# error types of the OpenAI and Anthropic wire formats that may be shown to a caller
SAFE_ERROR_TYPES = frozenset({
    "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
    "rate_limit_error", "api_error", "overloaded_error", "request_too_large", "server_error",
    "insufficient_quota", "context_length_exceeded", "model_not_found", "invalid_api_key",
    "billing_error", "timeout_error", "requests", "tokens",
})
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
        detail: str = "",
    ) -> None:
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.backend = backend
        self.upstream_status = upstream_status
        self.detail = detail  # the upstream's own words: logged, never sent to callers
        self.extra = {"backend": backend, "upstream_status": upstream_status}


class UpstreamRejected(UpstreamError):
    """The upstream refused the request as invalid (400/404/422); retrying will not help."""

    status_code = 422
    code = "upstream_rejected"


class UpstreamPromptTooLong(PromptTooLong):
    """The upstream refused the prompt as longer than its context (413)."""

    def __init__(self, message: str, detail: str, *, backend: str, upstream_status: int
                 ) -> None:
        super().__init__(message, field="messages", backend=backend,
                         upstream_status=upstream_status)
        self.detail = detail


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


def safe_type(body: bytes | str) -> str | None:
    """The error type of an OpenAI or Anthropic error body when it is a known one."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None
    err = data.get("error", data) if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return None
    for key in ("type", "code"):
        kind = err.get(key)
        if isinstance(kind, str) and kind in SAFE_ERROR_TYPES:
            return kind
    return None


def _suffix(kind: str | None) -> str:
    return f" ({kind})" if kind else ""


def error_from_status(
    status: int, body: bytes | str, headers: Mapping[str, str], backend: str
) -> CerebraError:
    """The error for an upstream reply with HTTP status >= 400 (message sanitised)."""
    detail = upstream_message(body)
    log.warning("upstream %r answered HTTP %s: %s", backend, status, detail[:2000])
    message = f"upstream {backend!r} answered HTTP {status}{_suffix(safe_type(body))}"
    if status == 413 or (status in (400, 422) and _mentions_context(detail)):
        return UpstreamPromptTooLong(f"{message}: the prompt is too long for this model",
                                     detail, backend=backend, upstream_status=status)
    if status == 429 or status in (408, 409) or status >= 500:
        return UpstreamError(message, backend=backend, upstream_status=status,
                             retryable=True, retry_after=parse_retry_after(headers),
                             detail=detail)
    if status in (400, 404, 422):
        return UpstreamRejected(message, backend=backend, upstream_status=status,
                                retryable=False, detail=detail)
    return UpstreamError(message, backend=backend, upstream_status=status, retryable=False,
                         detail=detail)


def reported_error(backend: str, body: bytes | str, where: str = "reply") -> UpstreamError:
    """An error the upstream reported inside a 200 reply or a stream (message sanitised)."""
    detail = upstream_message(body)
    log.warning("upstream %r reported an error in its %s: %s", backend, where, detail[:2000])
    return UpstreamError(
        f"upstream {backend!r} reported an error in its {where}{_suffix(safe_type(body))}",
        backend=backend, retryable=True, detail=detail)


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
        return transport_error(backend, f"upstream {what}", exc)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        what = "stream broken mid-way" if streaming else "connection broken mid-reply"
        return transport_error(backend, what, exc)
    return transport_error(backend, "cannot reach upstream", exc)


def transport_error(backend: str, what: str, exc: BaseException) -> UpstreamError:
    """A retryable error naming what went wrong and the exception's type, not its text
    (which may hold the upstream's address); the text goes to the log."""
    detail = f"{type(exc).__name__}: {exc}"
    log.warning("upstream %r: %s: %s", backend, what, detail)
    return UpstreamError(f"{backend}: {what} ({type(exc).__name__})", backend=backend,
                         retryable=True, detail=detail)


def malformed(backend: str, detail: str, sample: bytes | str = b"") -> UpstreamError:
    """A reply that is not the JSON (or event) the protocol promises; the sample of what
    came is logged, not put in the message."""
    if isinstance(sample, bytes):
        sample = sample.decode("utf-8", "replace")
    if sample:
        log.warning("upstream %r: malformed reply: %s (got %r)", backend, detail, sample[:500])
    return UpstreamError(f"{backend}: malformed reply from upstream: {detail}",
                         backend=backend, retryable=True, detail=sample[:500])


def decode_json(content: bytes | str, backend: str) -> dict[str, Any]:
    """Parse a JSON object from upstream or raise a retryable `malformed` error."""
    try:
        data = loads(content)
    except json.JSONDecodeError as exc:
        raise malformed(backend, f"invalid JSON ({exc.msg})", content) from exc
    if not isinstance(data, dict):
        raise malformed(backend, "expected a JSON object", content)
    return data
