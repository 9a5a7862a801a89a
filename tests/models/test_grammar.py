"""Structured output on llama.cpp (cerebra/models/grammar.py): a JSON Schema in the request's
`response_format` holds the model to it; bad formats are errors naming response_format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cerebra.errors import InvalidInput
from cerebra.models.base import GenerationRequest, Message
from cerebra.models.grammar import grammar_for

VERDICT = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": {
    "type": "object",
    "properties": {"winner": {"type": "string", "enum": ["A", "B", "tie"]},
                   "reason": {"type": "string", "maxLength": 40}},
    "required": ["winner", "reason"], "additionalProperties": False}}}


def test_text_or_nothing_is_no_grammar_and_a_schema_is_compiled_once() -> None:
    assert grammar_for(None) is None and grammar_for({"type": "text"}) is None
    first = grammar_for(VERDICT)
    assert first is not None and grammar_for(VERDICT) is first
    assert grammar_for({"type": "json_object"}) is not None


@pytest.mark.parametrize("bad", [
    "json", {"type": "xml"}, {"type": "json_schema"},
    {"type": "json_schema", "json_schema": {"schema": "not a schema"}},
])
def test_a_bad_response_format_names_the_field(bad: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        grammar_for(bad)
    assert refused.value.field == "response_format"


@pytest.mark.slow
def test_a_local_model_answers_in_the_schema(llama_backend: Any) -> None:
    request = GenerationRequest(
        messages=(Message("user", "Which is bigger, A: 3 or B: 7? Reply in JSON."),),
        max_tokens=48, temperature=0.0, extra={"response_format": VERDICT})
    text = llama_backend.generate(request).text
    reply = json.loads(text)
    assert set(reply) == {"winner", "reason"} and reply["winner"] in ("A", "B", "tie")
    assert list(reply) == ["winner", "reason"]  # generated in the schema's key order
