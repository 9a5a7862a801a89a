"""Text normalisation for full-text search: tokenize, drop stop words, stem (Snowball English).

Both backends index the output of `terms()`, so SQLite FTS5 and PostgreSQL rank the same
tokens, and queries go through the same function as documents.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how how's
    i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
    myself no nor not of off on once only or other ought our ours ourselves out over own same
    shan't she she'd she'll she's should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've this
    those through to too under until up very was wasn't we we'd we'll we're we've were
    weren't what what's when when's where where's which while who who's whom why why's will
    with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
    s t just also""".split()  # noqa: SIM905 - a word list reads better as text
)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def terms(text: str) -> list[str]:
    """Stemmed content words of `text`, in order (duplicates kept, for term frequency)."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in STOP_WORDS]
    words = [w[:-2] if w.endswith("'s") else w.replace("'", "") for w in words]
    return [w for w in _stemmer().stemWords(words) if w]


def terms_text(text: str) -> str:
    return " ".join(terms(text))


def content_hash(text: str) -> str:
    """Identity of a memory's content for deduplication: whitespace- and case-insensitive."""
    normal = " ".join(text.split()).lower()
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()
