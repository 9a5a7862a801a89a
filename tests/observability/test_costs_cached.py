"""Cached-token pricing: prompt tokens a backend reports as read from its prompt cache
(OpenAI's `usage.prompt_tokens_details.cached_tokens`, Anthropic's
`cache_read_input_tokens`) cost the cached price — from the built-in table, a pricing
override or a catalog entry's `cached_input` — and that is what the ledger records and
the cost rollups sum. Local HTTP servers answer in each provider's wire format."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from cerebra.db.cost_tables import cost_rollups
from cerebra.db.schema import interactions
from cerebra.models.anthropic import AnthropicBackend
from cerebra.models.anthropic_wire import StreamState
from cerebra.models.base import GenerationRequest, Message, Usage
from cerebra.models.openai_http import OpenAIHTTPBackend
from cerebra.models.pricing import Price, PriceTable
from tests.effects.base import Env, catalog_json, env  # noqa: F401 (the fixture)

OPENAI_REPLY = {
    "id": "c1", "object": "chat.completion", "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100,
              "prompt_tokens_details": {"cached_tokens": 600}},
}
ANTHROPIC_USAGE = {"input_tokens": 300, "cache_creation_input_tokens": 100,
                   "cache_read_input_tokens": 600, "output_tokens": 100}
ANTHROPIC_REPLY = {
    "id": "m1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
    "usage": ANTHROPIC_USAGE,
}


@pytest.fixture
def upstream() -> Iterator[str]:
    """One local server answering /v1/chat/completions and /v1/messages."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            reply = OPENAI_REPLY if self.path.endswith("/chat/completions") else ANTHROPIC_REPLY
            body = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


ASK = GenerationRequest(messages=(Message("user", "hi"),), max_tokens=8)


def test_prices_charge_cached_prompt_tokens_apart() -> None:
    usage = Usage(prompt_tokens=1000, completion_tokens=100, cached_prompt_tokens=600)
    gpt4o = PriceTable().price("gpt-4o")
    assert gpt4o is not None and gpt4o.cached == pytest.approx(1.25e-6)
    assert gpt4o.cost(usage) == pytest.approx(400 * 2.5e-6 + 600 * 1.25e-6 + 100 * 10e-6)
    assert Price(2e-6, 8e-6).cost(usage) == pytest.approx(1000 * 2e-6 + 100 * 8e-6)  # no
    custom = PriceTable({"mine": {"input_per_mtok": 1, "output_per_mtok": 2,  # cached price
                                  "cached_input_per_mtok": 0.1}}).price("mine")
    assert custom is not None and custom.cached == pytest.approx(1e-7)
    claude = PriceTable().price("claude-sonnet-4-5")
    assert claude is not None and claude.cached == pytest.approx(0.3e-6)


def test_openai_and_anthropic_report_their_cache_reads(upstream: str) -> None:
    openai = OpenAIHTTPBackend(f"{upstream}/v1", "gpt-4o")
    got = openai.generate(ASK).usage
    assert (got.prompt_tokens, got.cached_prompt_tokens, got.completion_tokens) == (
        1000, 600, 100)
    assert openai.cost(got) == pytest.approx(400 * 2.5e-6 + 600 * 1.25e-6 + 100 * 10e-6)
    openai.close()
    anthropic = AnthropicBackend("claude-sonnet-4-5", api_key="k", base_url=upstream)
    got = anthropic.generate(ASK).usage
    assert (got.prompt_tokens, got.cached_prompt_tokens) == (1000, 600)
    assert anthropic.cost(got) == pytest.approx(400 * 3e-6 + 600 * 0.3e-6 + 100 * 15e-6)
    anthropic.close()
    stream = StreamState("claude")
    stream.feed("message_start", json.dumps({"type": "message_start", "message": {
        **ANTHROPIC_REPLY, "content": [], "usage": {**ANTHROPIC_USAGE, "output_tokens": 1}}}))
    assert stream.usage_counts()["cached_prompt_tokens"] == 600


def test_the_ledger_records_the_cached_price(env: Env, upstream: str) -> None:  # noqa: F811
    entry = {"name": "cached-gpt", "kind": "openai", "base_url": f"{upstream}/v1",
             "model": "gpt-4o", "price": {"input_per_mtok": 2.0, "output_per_mtok": 8.0,
                                          "cached_input_per_mtok": 0.5}}
    brain = env.brain(CEREBRA_CATALOG__INLINE=catalog_json(entry))
    answer = brain.ask("hi", model="cached-gpt", memory=False)
    want = 400 * 2e-6 + 600 * 0.5e-6 + 100 * 8e-6
    assert answer.cost_usd == pytest.approx(want)
    brain.ledger.flush()
    with brain.engine.connect() as conn:
        assert conn.execute(select(interactions.c.cost_usd)).scalar() == pytest.approx(want)
        rolled = conn.execute(select(cost_rollups.c.cost).where(
            cost_rollups.c.dim == "model", cost_rollups.c.key == "cached-gpt")).scalar()
    assert rolled == pytest.approx(want)
