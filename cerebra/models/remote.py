"""What every remote (HTTP) ModelBackend shares: name, capabilities with prices, a token
estimate, the probe, and the lifetime of its pooled HTTP clients.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from typing import Any

from cerebra.models.base import (
    Capabilities,
    GenerationRequest,
    Message,
    ProbeResult,
    Usage,
)
from cerebra.models.http_pool import HttpPool
from cerebra.models.pricing import PriceTable, default_price_table


def estimate_tokens(text: str) -> int:
    """About four characters per token: the usual rule for BPE tokenizers on English."""
    return math.ceil(len(text) / 4) if text else 0


def request_text(request: GenerationRequest) -> str:
    if request.prompt is not None:
        return request.prompt
    return "\n".join(m.content for m in request.messages)


class RemoteBackend(ABC):
    """Base class of the HTTP backends; subclasses implement generate/stream and the async pair."""

    name: str
    model: str
    pool: HttpPool

    def _setup_capabilities(
        self,
        *,
        max_context: int,
        tools: bool,
        pricing: PriceTable | None,
        cost_per_input_token: float | None,
        cost_per_output_token: float | None,
    ) -> None:
        price = (pricing or default_price_table()).price(self.model)
        self._capabilities = Capabilities(
            streaming=True,
            max_context=max_context,
            tools=tools,
            cost_per_input_token=(cost_per_input_token if cost_per_input_token is not None
                                  else price.input if price else 0.0),
            cost_per_output_token=(cost_per_output_token if cost_per_output_token is not None
                                   else price.output if price else 0.0),
            # the table's cached price goes with its input price, not with one set here
            cost_per_cached_input_token=(price.cached if price and cost_per_input_token is None
                                         else None),
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def count_tokens(self, text: str) -> int:
        """An estimate: remote servers report exact counts in `usage` after the fact."""
        return estimate_tokens(text)

    def cost(self, usage: Usage) -> float:
        return self._capabilities.cost(usage)

    def _usage(self, reported: Any, request: GenerationRequest, text: str,
               input_key: str = "prompt_tokens", output_key: str = "completion_tokens") -> Usage:
        """Usage from the upstream's report, estimated for whatever it left out."""
        data = reported if isinstance(reported, dict) else {}
        prompt = data.get(input_key)
        completion = data.get(output_key)
        details = data.get("prompt_tokens_details")  # OpenAI: the prompt cache's share
        cached = data.get("cached_prompt_tokens",
                          details.get("cached_tokens") if isinstance(details, dict) else None)
        return Usage(
            int(prompt) if isinstance(prompt, int) else estimate_tokens(request_text(request)),
            int(completion) if isinstance(completion, int) else estimate_tokens(text),
            int(cached) if isinstance(cached, int) and isinstance(prompt, int) else 0,
        )

    @abstractmethod
    def generate(self, request: GenerationRequest) -> Any: ...

    def probe(self) -> ProbeResult:
        """A one-token chat generation (chat works on every server, legacy completions not)."""
        start = time.perf_counter()
        try:
            self.generate(GenerationRequest(messages=(Message("user", "Hello"),),
                                            max_tokens=1, temperature=0.0))
        except Exception as exc:  # a probe reports failure, it never raises
            return ProbeResult(False, (time.perf_counter() - start) * 1000,
                               f"{type(exc).__name__}: {exc}")
        return ProbeResult(True, (time.perf_counter() - start) * 1000, "ok")

    def close(self) -> None:
        self.pool.close()

    async def aclose(self) -> None:
        await self.pool.aclose()

    def __enter__(self) -> RemoteBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, model={self.model!r}, " \
               f"base_url={self.pool.base_url!r})"
