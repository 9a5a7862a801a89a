"""cerebra.json_codec reads every document exactly as the standard library does (orjson
where the two agree), on the hot paths that use it: memory rows, request bodies, replies."""

from __future__ import annotations

import json

import pytest

from cerebra.json_codec import loads
from cerebra.memory.sqlvocab import loads_json


@pytest.mark.parametrize("text", [
    '{"a": [1, 2.5, "é", null, true], "b": {"c": -0.0}}',
    b'{"n": 12}',
    "[NaN, Infinity, -Infinity]",  # orjson refuses these
    "123456789012345678901234567890",  # orjson would read a float
    b'{"id": -98765432109876543210}',
    '{"phone": "1234567890123456789012", "x": 0.1}',
    "9223372036854775807",
    "1e400",
])
def test_the_same_value_as_the_standard_library(text: str | bytes) -> None:
    assert repr(loads(text)) == repr(json.loads(text))


def test_not_json_is_the_standard_librarys_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads('{"a": ')
    with pytest.raises(ValueError):
        loads(b"")


def test_memory_metadata_keeps_a_long_integer_exact() -> None:
    assert loads_json('{"order": 123456789012345678901234567890}', {}) == {
        "order": 123456789012345678901234567890}
    assert loads_json("[]", ()) == () and loads_json(None, {}) == {}


def test_dumps_is_compact_utf8_also_for_what_orjson_refuses() -> None:
    from cerebra.json_codec import dumps

    for value in ({"a": [1, 2.5, "é", None]}, {"big": 2**70, "s": "é"}):
        assert dumps(value) == json.dumps(value, ensure_ascii=False,
                                          separators=(",", ":")).encode()
