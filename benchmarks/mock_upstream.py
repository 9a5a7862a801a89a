"""A fast mock OpenAI upstream for gateway benchmarks: a fixed chat completion (JSON or SSE).

Raw ASGI on uvicorn, no framework, so the upstream itself adds as little as possible and
every gateway is measured against the same thing.

    python benchmarks/mock_upstream.py --port 9000
"""

from __future__ import annotations

import argparse
import json
from typing import Any

REPLY = "The quick brown fox jumps over the lazy dog."
_COMPLETION = json.dumps(
    {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "mock",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": REPLY},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22},
    }
).encode()
_MODELS = json.dumps(
    {"object": "list", "data": [{"id": "mock", "object": "model", "created": 0, "owned_by": "me"}]}
).encode()


def _stream_body() -> bytes:
    parts = []
    base = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "mock",
    }
    for i, word in enumerate(REPLY.split(" ")):
        delta = {"content": (" " if i else "") + word}
        parts.append({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    parts.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    parts.append(
        {
            **base,
            "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22},
        }
    )
    return b"".join(f"data: {json.dumps(p)}\n\n".encode() for p in parts) + b"data: [DONE]\n\n"


_STREAM = _stream_body()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path.endswith("/models"):
        payload, ctype = _MODELS, b"application/json"
    elif path.endswith("/chat/completions"):
        streaming = b'"stream":true' in body.replace(b" ", b"")
        payload = _STREAM if streaming else _COMPLETION
        ctype = b"text/event-stream" if streaming else b"application/json"
    else:
        payload, ctype = b'{"status":"ok"}', b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", ctype), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
