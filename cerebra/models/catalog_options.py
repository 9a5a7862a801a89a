"""The `options` each built-in catalog kind takes, as pydantic models: the keyword arguments
of the kind's backend constructor that an entry may set (not those its factory fills from
the entry itself — name, path, key, LoRA, prices — nor objects JSON cannot carry: transports,
price tables, callables).

They are what an entry sent over the API may put in `options`, checked before the backend
is built and stated in the OpenAPI document (cerebra.models.catalog_submission). Strings
never hold `${` (it is not expanded over the API); numbers have the ranges a backend can use.
Helpers here (SAFE, SafeStr, Whole) are shared with the submission models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# a string with no `${` in it, written without look-arounds (any JSON Schema engine reads it)
SAFE = r"^([^$]|\$+[^${])*\$*$"
SafeStr = Annotated[str, Field(pattern=SAFE)]


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# JSON Schema's integer: 3 and 3.0 alike, never true or "3" (as cerebra.server's WHOLE)
Whole = BeforeValidator(_whole)

_HEADER_NAME = r"^[!#%&'*+.^_`|~0-9A-Za-z-]{1,100}$"
_HEADER_VALUE = r"^[\x20-\x23\x25-\x7e]{0,1000}$"  # printable ASCII without `$`
HeaderName = Annotated[str, Field(pattern=_HEADER_NAME)]
HeaderValue = Annotated[str, Field(pattern=_HEADER_VALUE)]
Headers = Annotated[dict[HeaderName, HeaderValue], Field(max_length=32)]
Context = Annotated[int, Field(ge=16, le=10_000_000), Whole]
Threads = Annotated[int, Field(ge=1, le=1024), Whole]
Timeout = Annotated[float, Field(gt=0, le=3600)]
Connections = Annotated[int, Field(ge=1, le=10_000), Whole]


class KindOptions(BaseModel):
    """Options of one kind: nothing else, in JSON's own types."""

    model_config = ConfigDict(extra="forbid", strict=True)


class LlamaCppOptions(KindOptions):
    """cerebra.models.llamacpp.LlamaCppBackend."""

    n_ctx: Context | None = None
    n_threads: Threads | None = None
    seed: Annotated[int, Field(ge=0, le=2**32 - 1), Whole] | None = None
    # "gguf": chats in the file's own chat template (instruction-tuned models)
    chat_format: Literal["transcript", "gguf"] | None = None


class HFOptions(KindOptions):
    """cerebra.models.hf.TransformersBackend."""

    device: Annotated[str, Field(pattern=r"^(cpu|cuda(:[0-9]{1,2})?|mps)$")] | None = None
    n_threads: Threads | None = None


class _HTTPOptions(KindOptions):
    headers: Headers | None = None
    max_context: Context | None = None
    tools: bool | None = None
    timeout_s: Timeout | None = None
    connect_timeout_s: Timeout | None = None
    max_connections: Connections | None = None
    max_keepalive: Annotated[int, Field(ge=0, le=10_000), Whole] | None = None


class OpenAIOptions(_HTTPOptions):
    """cerebra.models.openai_http.OpenAIHTTPBackend."""

    completions_api: bool | None = None
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None
    stream_usage: bool | None = None


class AnthropicOptions(_HTTPOptions):
    """cerebra.models.anthropic.AnthropicBackend."""

    version: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] | None = None
    beta: HeaderValue | None = None
    auth: Literal["x-api-key", "bearer"] | None = None
    send_top_p: bool | None = None
