"""The checks a Query passes before the prompt path runs: the prompt's text (cleaned,
within memory.max_chars), max_tokens within the cap, a temperature between 0 and 2 — each
refusal an InvalidInput naming its field."""

from __future__ import annotations

from dataclasses import replace

from cerebra.config import Settings
from cerebra.errors import InvalidInput
from cerebra.exchange import Query
from cerebra.memory.store import validate_text


def checked_query(query: Query, settings: Settings) -> Query:
    """The query as the path runs it (its prompt cleaned: a copy only then), or InvalidInput."""
    prompt = validate_text(query.prompt, field="prompt", max_chars=settings.memory.max_chars)
    if query.max_tokens is not None and query.max_tokens < 1:
        raise InvalidInput("max_tokens must be at least 1", field="max_tokens")
    cap = settings.generation.max_tokens_cap
    if query.max_tokens is not None and query.max_tokens > cap:
        raise InvalidInput(
            f"max_tokens is {query.max_tokens}; the cap is {cap} (CEREBRA_MAX_TOKENS_CAP)",
            field="max_tokens",
            cap=cap,
        )
    if query.temperature is not None and not 0.0 <= query.temperature <= 2.0:
        raise InvalidInput("temperature must be between 0 and 2", field="temperature")
    if prompt is not query.prompt:  # cleaned (bytes decoded): a copy only then
        query = replace(query, prompt=prompt)
    return query
