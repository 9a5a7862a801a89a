"""A local OTLP/HTTP traces receiver for tests: a real HTTP server on loopback that takes
`POST /v1/traces` bodies (protobuf ExportTraceServiceRequest, gzip or not), decodes them with
opentelemetry-proto's classes and keeps the spans; it answers as a collector does (200 with
an empty ExportTraceServiceResponse)."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PATH = "/v1/traces"


@dataclass
class Received:
    """What the receiver was sent: every span with its resource's attributes."""

    spans: list[Any] = field(default_factory=list)  # opentelemetry.proto.trace.v1.Span
    resources: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_trace(self, trace_id: str) -> list[Any]:
        with self.lock:
            return [s for s in self.spans if s.trace_id.hex() == trace_id]


def attributes(items: Any) -> dict[str, Any]:
    """OTLP KeyValues as a dict of plain values."""
    out: dict[str, Any] = {}
    for kv in items:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind) if kind else None
    return out


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, Received]]:
    """(the traces URL to export to, what arrives there) while the server runs."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != PATH:
                self.send_error(404)
                return
            request = ExportTraceServiceRequest.FromString(body)
            with received.lock:
                received.content_types.append(self.headers.get("Content-Type", ""))
                for resource_spans in request.resource_spans:
                    received.resources.append(attributes(resource_spans.resource.attributes))
                    for scope_spans in resource_spans.scope_spans:
                        received.spans.extend(scope_spans.spans)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PATH}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
