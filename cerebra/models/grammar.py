"""Structured output for llama.cpp: the OpenAI `response_format` of a request (JSON mode, or
a JSON Schema) as a llama.cpp grammar, so a local model can only produce what was asked —
how a 135M–270M model gives a parseable verdict at all.

`{"type": "json_object"}` is llama.cpp's JSON grammar; `{"type": "json_schema",
"json_schema": {"schema": {...}}}` is a grammar compiled from the schema (cached per schema;
compiling costs milliseconds). `{"type": "text"}` or nothing: no grammar. A schema llama.cpp
cannot compile is bad input naming `response_format`.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from cerebra.errors import InvalidInput

_cache: dict[str, Any] = {}
_lock = threading.Lock()


def grammar_for(response_format: object) -> Any | None:
    """The LlamaGrammar `response_format` asks for, or None for free text."""
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise InvalidInput("response_format must be an object", field="response_format")
    kind = response_format.get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        key, source = "json_object", None
    elif kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise InvalidInput("response_format.json_schema.schema must be a JSON Schema "
                               "object", field="response_format")
        source = json.dumps(schema)  # key order kept: properties are generated in it
        key = source
    else:
        raise InvalidInput(f"response_format.type {kind!r} is not one of text, json_object, "
                           "json_schema", field="response_format")
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    try:
        built = (LlamaGrammar.from_string(JSON_GBNF, verbose=False) if source is None
                 else LlamaGrammar.from_json_schema(source, verbose=False))
    except Exception as exc:  # llama.cpp's converter refuses what it cannot express
        raise InvalidInput(f"response_format: the schema cannot be used as a grammar ({exc})",
                           field="response_format") from exc
    with _lock:
        if len(_cache) > 256:
            _cache.clear()
        _cache[key] = built
    return built
