"""Text for full-text search: normalised terms, BM25 over them, and the dates a query names.

Both backends index the output of `terms()` (tokenize, drop stop words, Snowball English
stemming), so SQLite FTS5 and PostgreSQL hold the same tokens, and queries go through the
same function as documents. `bm25()` scores candidates from per-scope statistics a backend
reports (`TermStats`), so every backend ranks alike and other scopes do not skew the IDF.
`date_mentions()` reads calendar dates out of a query's terms for the date signal.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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


@dataclass(frozen=True)
class TermStats:
    """Full-text statistics of one scope, for BM25 computed the same way on every backend.

    `docs`: live memories in the scope; `avg_len`: their mean number of terms; `df`: for
    each asked term, how many of them contain it; `doc_terms`: for each asked row id, the
    normalised terms it was indexed with (the output of `terms()`, in order).
    """

    docs: int
    avg_len: float
    df: Mapping[str, int]
    doc_terms: Mapping[int, Sequence[str]]


def bm25(
    query_terms: Sequence[str], stats: TermStats, *, k1: float = 0.9, b: float = 0.4
) -> dict[int, float]:
    """Okapi BM25 (Lucene's IDF) of every row in `stats.doc_terms` that holds a query term."""
    unique = [t for t in dict.fromkeys(query_terms) if t]
    n = max(stats.docs, 1)
    avg = stats.avg_len if stats.avg_len > 0 else 1.0
    idf = {}
    for t in unique:
        df = min(max(int(stats.df.get(t, 0)), 0), n)
        if df:  # Lucene's IDF: positive even for a term in most of a small scope
            idf[t] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
    out: dict[int, float] = {}
    if not idf:
        return out
    for row_id, doc in stats.doc_terms.items():
        norm = k1 * (1.0 - b + b * len(doc) / avg)
        score = 0.0
        for t, weight in idf.items():
            tf = doc.count(t) if t in doc else 0
            if tf:
                score += weight * tf * (k1 + 1.0) / (tf + norm)
        if score > 0:
            out[row_id] = score
    return out


_MONTHS = {
    stem: n
    for n, names in enumerate(
        (
            ("januari", "jan"),
            ("februari", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("juli", "jul"),
            ("august", "aug"),
            ("septemb", "sep", "sept"),
            ("octob", "oct"),
            ("novemb", "nov"),
            ("decemb", "dec"),
        ),
        start=1,
    )
    for stem in names
}
_DAY = re.compile(r"^([12]?\d|3[01])(?:st|nd|rd|th)?$")
_YEAR = re.compile(r"^(19|20)\d\d$")


def _day(token: str) -> int | None:
    match = _DAY.match(token)
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


def _interval(year: int, month: int | None = None, day: int | None = None) -> tuple[float, float]:
    if month is None:
        start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
    elif day is None:
        start = datetime(year, month, 1)
        end = datetime(year + month // 12, month % 12 + 1, 1)
    else:
        start = datetime(year, month, day)
        end = start + timedelta(days=1)
    return start.timestamp(), end.timestamp()


def date_mentions(query_terms: Sequence[str]) -> list[tuple[float, float]]:
    """Local-time (start, end) epoch intervals of the dates a query names, from its terms.

    Recognises day-month-year, month-day-year, month-year and a bare year ("16 November,
    2023", "July 10, 2022", "May 2022", "in 2024"); a month without a year is not a date.
    """
    toks = list(query_terms)
    out: list[tuple[float, float]] = []
    used: set[int] = set()
    for i, tok in enumerate(toks):
        month = _MONTHS.get(tok)
        if month is None:
            continue
        before = _day(toks[i - 1]) if i > 0 and i - 1 not in used else None
        after = _day(toks[i + 1]) if i + 1 < len(toks) else None
        year_at = i + 2 if after is not None else i + 1
        if year_at >= len(toks) or not _YEAR.match(toks[year_at]):
            continue
        day = after if after is not None else before
        try:
            out.append(_interval(int(toks[year_at]), month, day))
        except ValueError:  # 31 February and the like: keep the month
            out.append(_interval(int(toks[year_at]), month))
        used.update({i, year_at, i + 1 if after is not None else i - 1})
    for i, tok in enumerate(toks):
        if i not in used and _YEAR.match(tok):
            out.append(_interval(int(tok)))
    return out
