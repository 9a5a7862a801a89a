"""JSON in C, with the standard library's results: `dumps` is orjson's (compact UTF-8, as
JSONResponse sends; the standard library's for what orjson refuses, an integer past 64 bits)
and `loads` is orjson's wherever the two would read a document alike, so every document is
read exactly as `json.loads` reads it, faster on the hot paths (memory rows' metadata,
PostgreSQL's JSON results, request bodies, upstream replies).

orjson refuses NaN and Infinity (the standard library reads them) and reads an integer past
64 bits as a float (the standard library keeps it exact). A document with a run of 19 or
more digits, where such an integer could be, is read by the standard library; the runs are
found with one `bytes.translate` (every digit to "0", everything else to a space) and one
substring search, both in C.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19  # 2**63 has 19 digits: shorter integers fit orjson's 64 bits


def loads(text: str | bytes | bytearray) -> Any:
    """The value of a JSON document; json.JSONDecodeError (a ValueError) when it is not one."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if _LONG_RUN in data.translate(_DIGITS_ONLY):
        return json.loads(text)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON (what JSONResponse sends): orjson, or the standard
    library for what orjson refuses (an integer past 64 bits)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
