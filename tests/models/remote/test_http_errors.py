"""Upstream status → error mapping, Retry-After parsing, the SSE decoder, transport errors."""

from __future__ import annotations

import email.utils
from typing import Any

import httpx
import pytest

from cerebra.errors import BackendError, PromptTooLong
from cerebra.models.base import GenerationRequest, Message
from cerebra.models.http_errors import (
    UpstreamError,
    UpstreamRejected,
    error_from_status,
    parse_retry_after,
    upstream_message,
)
from cerebra.models.http_pool import SSEDecoder, SSEEvent
from cerebra.models.openai_http import OpenAIHTTPBackend

OPENAI_ERR = b'{"error": {"message": "Slow down", "type": "requests", "code": null}}'
ANTHROPIC_ERR = b'{"type": "error", "error": {"type": "api_error", "message": "Boom"}}'


@pytest.mark.parametrize(("status", "cls", "retryable"), [
    (429, UpstreamError, True), (500, UpstreamError, True), (502, UpstreamError, True),
    (503, UpstreamError, True), (529, UpstreamError, True), (408, UpstreamError, True),
    (400, UpstreamRejected, False), (404, UpstreamRejected, False),
    (422, UpstreamRejected, False), (401, UpstreamError, False), (403, UpstreamError, False),
    (402, UpstreamError, False),
])
def test_status_mapping(status: int, cls: type[UpstreamError], retryable: bool) -> None:
    err = error_from_status(status, OPENAI_ERR, {}, "b1")
    assert type(err) is cls and isinstance(err, BackendError)
    assert err.retryable is retryable and err.upstream_status == status
    assert err.to_dict()["backend"] == "b1" and f"HTTP {status}" in err.message
    # the body's words are logged and kept as .detail, never in the message callers see
    assert "Slow down" not in err.message and "Slow down" not in str(err.to_dict())
    assert "Slow down" in err.detail and "(requests)" in err.message


def test_context_overflow_is_prompt_too_long() -> None:
    body = b'{"error": {"message": "prompt is too long: 210000 tokens > 200000 maximum"}}'
    assert isinstance(error_from_status(400, body, {}, "b"), PromptTooLong)
    assert isinstance(error_from_status(413, b"too big", {}, "b"), PromptTooLong)


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "12"}) == 12.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=1_000_000) == pytest.approx(30)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    err = error_from_status(429, b"", httpx.Headers({"Retry-After": "3"}), "b")
    assert isinstance(err, BackendError) and err.retry_after == 3.0


def test_upstream_message_shapes() -> None:
    assert upstream_message(OPENAI_ERR) == "requests: Slow down"
    assert upstream_message(ANTHROPIC_ERR) == "api_error: Boom"
    assert upstream_message(b'{"detail": "nope"}') == "nope"
    assert upstream_message(b"<html>Bad Gateway</html>") == "<html>Bad Gateway</html>"
    assert upstream_message(b"") == "(empty body)"


def test_sse_decoder_follows_the_spec() -> None:
    decoder = SSEDecoder()
    lines = [": comment", "event: ping", "data: {}", "", "data:a", "data: b", "", "id: 1",
             "data: tail"]
    events = [e for line in lines if (e := decoder.feed(line)) is not None]
    assert events == [SSEEvent("ping", "{}"), SSEEvent("message", "a\nb")]
    assert decoder.flush() == SSEEvent("message", "tail") and decoder.flush() is None


def _mock(handler: Any) -> OpenAIHTTPBackend:
    return OpenAIHTTPBackend("http://upstream.test/v1", "m",
                             transport=httpx.MockTransport(handler))


REQ = GenerationRequest(messages=(Message("user", "hi"),))


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"),
                                 httpx.RemoteProtocolError("cut")])
def test_transport_errors_are_retryable(exc: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(UpstreamError) as info:
        _mock(handler).generate(REQ)
    assert info.value.retryable and isinstance(info.value.__cause__, httpx.HTTPError)


@pytest.mark.parametrize(("payload", "match"), [
    (b"[1, 2]", "expected a JSON object"),
    (b'{"choices": "x"}', "no 'choices' list"),
    (b'{"choices": []}', "empty 'choices'"),
    (b'{"choices": [{"message": {"content": 5}}]}', "content is not text"),
    (b'{"error": {"message": "engine died"}}', "reported an error in its reply"),
])
def test_unexpected_reply_shapes(payload: bytes, match: str) -> None:
    backend = _mock(lambda request: httpx.Response(200, content=payload))
    with pytest.raises(UpstreamError, match=match) as info:
        backend.generate(REQ)
    assert info.value.retryable


def test_usage_is_estimated_when_upstream_reports_none() -> None:
    body = b'{"choices": [{"message": {"content": "twelve chars"}, "finish_reason": "stop"}]}'
    out = _mock(lambda request: httpx.Response(200, content=body)).generate(REQ)
    assert out.usage.prompt_tokens == 1 and out.usage.completion_tokens == 3


def test_an_error_event_inside_an_openai_stream() -> None:
    text = 'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"error":{"message":"oom"}}\n\n'
    backend = _mock(lambda request: httpx.Response(200, text=text))
    with pytest.raises(UpstreamError, match="reported an error in its stream") as info:
        list(backend.stream(REQ))
    assert "oom" not in info.value.message and info.value.detail == "oom"


def test_replies_orjson_refuses_are_read_by_the_standard_library() -> None:
    from cerebra.models.http_errors import decode_json

    data = decode_json(b'{"big": 123456789012345678901234567890, "x": NaN}', "b1")
    assert data["big"] == 123456789012345678901234567890 and data["x"] != data["x"]
    with pytest.raises(UpstreamError, match="invalid JSON") as info:
        decode_json(b'{"choices": [', "b1")
    assert info.value.retryable
