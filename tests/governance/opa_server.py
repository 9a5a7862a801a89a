"""A local stand-in for Open Policy Agent's HTTP data API, for tests.

It speaks the real wire format: `POST /v1/data/<path>` with `{"input": …}` answers
`{"result": …}`, or `{}` when no policy is loaded at that path (OPA's undefined document);
a body that is not JSON is a 400 with OPA's error shape. Every request is recorded. The
policy at `cerebra/policy` is a small rule set over `input.text`: "forbidden" → deny,
"hush" → redacted to "[hushed]", "odd" → flag; anything else is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.helpers import http_server

Policy = Callable[[dict[str, Any]], Any]


def house_policy(inp: dict[str, Any]) -> Any:
    text = str(inp.get("text", ""))
    if "forbidden" in text:
        return {"allow": False, "rule": "opa.forbidden_word",
                "reason": f"the {inp.get('stage')} says a forbidden word"}
    if "hush" in text:
        return {"action": "redact", "rule": "opa.hush", "reason": "hushed",
                "text": text.replace("hush", "[hushed]")}
    if "odd" in text:
        return {"action": "flag", "rule": "opa.odd", "reason": "odd"}
    return {"allow": True}


@dataclass
class FakeOPA:
    url: str
    policies: dict[str, Policy]
    requests: list[tuple[str, Any]] = field(default_factory=list)


@contextmanager
def running_opa(policies: dict[str, Policy] | None = None) -> Iterator[FakeOPA]:
    state = FakeOPA("", dict(policies if policies is not None
                             else {"cerebra/policy": house_policy}))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(*((200, {}) if self.path == "/health" else (404, {})))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self.path.startswith("/v1/data/"):
                self._send(404, {"code": "not_found", "message": "no such endpoint"})
                return
            path = self.path[len("/v1/data/"):].strip("/")
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send(400, {"code": "invalid_parameter",
                                 "message": "body contains malformed input document"})
                return
            state.requests.append((path, body))
            policy = state.policies.get(path)
            if policy is None:
                self._send(200, {})  # undefined document: no "result"
                return
            self._send(200, {"result": policy(body.get("input") or {})})

    with http_server(Handler) as url:
        state.url = url
        yield state
