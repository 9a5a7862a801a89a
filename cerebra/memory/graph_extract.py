"""Entities and relations in a memory's text, by rules alone (no model, no download).

`extract(text)` finds:
- names: runs of capitalised words ("Caroline", "New York City", "LGBTQ"), joined over
  "of"/"de"/"van"/"the"/"&" inside a run ("Bank of America"); a sentence's first word only
  when it is no function word (see `opener` below). A name after a place preposition ("in", "to",
  "from", "at", ...) or containing an organisation word is kind `name`, other names are
  `person` (a cheap guess that only coreference uses). A lone capitalised word opening a
  sentence and capitalised nowhere else in the text ("Dana lives in Paris", but also
  "Painting is fun") is kind `opener`: the store counts it only where the same key is
  mentioned as a real name somewhere in the tenant (cerebra.memory.graph_store);
- dates: "8 May 2023", "May 8, 2023", "May 2023", a year ("2022"), a weekday; key "2023-05-08";
- numbers with the noun they count ("3 kids" → "3 kid"), amounts ("$500");
- noun phrases: runs of two or three content words ("support group", "pottery class"),
  keyed by their stems, kind `thing`.

Mentions of one entity share a key: lower case, possessive "'s" and a leading "the"
dropped, so "Caroline's", "caroline" and "CAROLINE" link; a first name alone ("Caroline")
is folded into a full name seen in the same text ("Caroline Smith"); across memories the
store folds it the same way (cerebra.memory.graph_store). Coreference inside a text: he,
she, him, her, his, hers (and they/them/their for the last group name) count as a mention of
the last person (or name) before them. Relations: between two consecutive entities of a
sentence, the one to four words between them that hold a content word are the predicate
("Caroline" — "moved to" — "Sweden").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cerebra.memory.text import STOP_WORDS, terms

MAX_KEY = 200
OPENER = "opener"  # kind of a lone capitalised sentence opener (see the module docstring)
_SENTENCE = re.compile(r"(?<=[.!?:])\s+|\n+")  # a "Name: text" label ends like a sentence
_BREAK = re.compile(r"[,;:()\[\]\"“”—–!?]")  # punctuation no name or phrase runs across
_TOKEN = re.compile(r"\$?\d[\d,.]*%?|[^\W\d_]+(?:[-'’][^\W\d_]+)*", re.UNICODE)
_JOINERS = frozenset({"of", "de", "del", "da", "van", "von", "the", "&"})
_PLACE_PREPS = frozenset({"in", "to", "from", "at", "near", "into", "visited", "visit"})
_ORG_WORDS = frozenset(
    """inc ltd llc corp company university college school club church museum park street
    road avenue hospital bank center centre institute foundation association society group
    festival conference lake river mountain city county state""".split()  # noqa: SIM905
)
_HE_SHE = frozenset({"he", "she", "him", "her", "his", "hers", "himself", "herself"})
_THEY = frozenset({"they", "them", "their", "theirs", "themselves"})
_MONTH_NAMES = {
    m: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for m in names
}
_WEEKDAYS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday".split()  # noqa: SIM905
)
# Words that open sentences in capitals but never name anything.
_OPENERS = STOP_WORDS | frozenset(
    """hey hi hello oh wow yeah yes no ok okay thanks thank sure well so great good nice
    cool awesome really just also maybe please sorry congrats congratulations haha lol
    hmm um ah aw yep nope absolutely definitely totally anyway btw""".split()  # noqa: SIM905
)
# Content words too common in speech to make a noun phrase.
_WEAK = frozenset(
    """really very much many lot lots thing things stuff something anything everything
    kind sort pretty quite totally definitely always never ever still even got get gets
    getting make makes made making go goes going went gone want wants wanted know knew
    think thought feel felt see saw seen look looks looking love loved like liked glad
    sounds sound seems seem way ways time times day days one ones good great nice cool
    awesome amazing wow yeah hey thanks thank sure well also just keep kept let lets kinda
    gonna wanna gotta last next ago yesterday today tomorrow tonight week weeks month
    months year years""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Mention:
    """An entity as one memory mentions it: key (links memories), surface name, kind, count."""

    key: str
    name: str
    kind: str
    count: int = 1


@dataclass(frozen=True)
class Relation:
    """Subject entity key, the words between, object entity key."""

    subject: str
    predicate: str
    object: str


@dataclass(frozen=True)
class Extraction:
    mentions: tuple[Mention, ...]
    relations: tuple[Relation, ...]

    def keys(self) -> set[str]:
        return {m.key for m in self.mentions}


@dataclass
class _Found:
    start: int  # token index in the sentence
    end: int
    key: str
    name: str
    kind: str


def name_key(name: str) -> str:
    """The key of a name: lower case, no possessive, no leading "the", single spaces."""
    words = name.replace("’", "'").split()
    if words and words[-1].lower().endswith("'s"):
        words[-1] = words[-1][:-2]
    if len(words) > 1 and words[0].lower() == "the":
        words = words[1:]
    return " ".join(w.lower() for w in words if w)[:MAX_KEY]


def thing_key(words: Iterable[str]) -> str:
    return " ".join(terms(" ".join(words)))[:MAX_KEY]


def _capital(tok: str) -> bool:
    return tok[:1].isupper() and tok.lower() != "i"


def _date_at(toks: list[str], i: int) -> tuple[int, str, str] | None:
    """(end, key, surface) of a date starting at token i, if one does."""
    low = [t.lower().rstrip(",.") for t in toks[i : i + 4]]
    day = lambda s: int(s) if s.isdigit() and 1 <= int(s) <= 31 else None  # noqa: E731
    year = lambda s: int(s) if s.isdigit() and len(s) == 4 and 1500 <= int(s) < 2100 else None  # noqa: E731
    if low and low[0] in _MONTH_NAMES and _capital(toks[i]):
        month = _MONTH_NAMES[low[0]]
        if len(low) > 2 and day(low[1]) and year(low[2]):  # May 8, 2023
            return i + 3, f"{low[2]}-{month:02d}-{int(low[1]):02d}", " ".join(toks[i : i + 3])
        if len(low) > 1 and year(low[1]):  # May 2023
            return i + 2, f"{low[1]}-{month:02d}", " ".join(toks[i : i + 2])
        return None
    if len(low) > 2 and day(low[0]) and low[1] in _MONTH_NAMES and year(low[2]):
        key = f"{low[2]}-{_MONTH_NAMES[low[1]]:02d}-{int(low[0]):02d}"  # 8 May 2023
        return i + 3, key, " ".join(toks[i : i + 3])
    if low and year(low[0]):
        return i + 1, low[0], toks[i]
    if low and low[0] in _WEEKDAYS and _capital(toks[i]):
        return i + 1, low[0], toks[i]
    return None


def _tokens(sentence: str) -> tuple[list[str], list[bool]]:
    """The tokens of a sentence and, for each, whether punctuation separates it from the
    token before ("Paris, Rome": Rome is separated)."""
    toks: list[str] = []
    breaks: list[bool] = []
    end = 0
    for match in _TOKEN.finditer(sentence):
        toks.append(match.group())
        breaks.append(bool(_BREAK.search(sentence, end, match.start())))
        end = match.end()
    return toks, breaks


def _names(toks: list[str], breaks: list[bool], mid_capitals: set[str]) -> list[_Found]:
    found: list[_Found] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        date = _date_at(toks, i) if tok[0].isdigit() or tok[0].isupper() else None
        if date is not None:
            found.append(_Found(i, date[0], date[1], date[2].rstrip(",."), "date"))
            i = date[0]
            continue
        if tok[0].isdigit() or tok.startswith("$"):
            nxt = toks[i + 1].lower() if i + 1 < len(toks) and not breaks[i + 1] else ""
            if nxt and nxt not in STOP_WORDS and nxt.isalpha():
                key = f"{tok.rstrip(',.')} {thing_key([nxt])}".strip()
                found.append(_Found(i, i + 2, key, f"{tok} {toks[i + 1]}", "number"))
                i += 2
                continue
            if tok.startswith("$") or tok.endswith("%"):
                found.append(_Found(i, i + 1, tok.rstrip(",."), tok, "number"))
            i += 1
            continue
        if not _capital(tok) or (i == 0 and (tok.lower() in _OPENERS or tok.lower() in _WEAK)):
            i += 1
            continue
        j = i + 1
        while j < len(toks) and not breaks[j]:
            if _capital(toks[j]) and toks[j].lower() not in _MONTH_NAMES:
                j += 1
            elif (
                toks[j].lower() in _JOINERS
                and j + 1 < len(toks)
                and not breaks[j + 1]
                and _capital(toks[j + 1])
            ):
                j += 2
            else:
                break
        words = toks[i:j]
        low = [w.lower() for w in words]
        before = toks[i - 1].lower() if i > 0 else ""
        placed = (
            before in _PLACE_PREPS
            or any(w in _ORG_WORDS for w in low)
            or (len(words) == 1 and len(tok) > 1 and tok.isupper())  # an acronym
        )
        kind = "name" if placed else "person"
        if i == 0 and j == 1 and tok.lower().rstrip("'s’") not in mid_capitals:
            kind = OPENER  # a lone capitalised opener: a name if one elsewhere in the scope
        key = name_key(" ".join(words))
        if key and key not in STOP_WORDS:
            found.append(_Found(i, j, key, " ".join(words), kind))
        i = j
    return found


def _things(toks: list[str], breaks: list[bool], taken: set[int]) -> list[_Found]:
    """Runs of 2-3 lower-case content words not inside a name."""
    out: list[_Found] = []
    run: list[int] = []

    def close() -> None:
        for start in range(0, len(run) - 1, 3):
            part = run[start : start + 3]
            if len(part) >= 2:
                key = thing_key(toks[k] for k in part)
                if key.count(" ") >= 1:
                    out.append(
                        _Found(part[0], part[-1] + 1, key, " ".join(toks[k] for k in part), "thing")
                    )

    for k, tok in enumerate(toks):
        low = tok.lower()
        if breaks[k]:
            close()
            run = []
        if (
            k not in taken
            and tok.isalpha()
            and tok.islower()
            and len(tok) > 2
            and low not in STOP_WORDS
            and low not in _WEAK
            and not low.endswith("ly")
        ):
            run.append(k)
        else:
            close()
            run = []
    close()
    return out


def extract(text: str) -> Extraction:
    """Entities (with counts) and relations of `text`."""
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    tokenised = [_tokens(s) for s in sentences]
    mid_capitals = {  # capitalised words not opening a sentence, or opening a longer name
        t.lower().rstrip("'s’")
        for toks, _ in tokenised
        for k, t in enumerate(toks)
        if _capital(t)
        and t.lower() not in STOP_WORDS
        and (k > 0 or (len(toks) > 1 and _capital(toks[1])))
    }
    counts: dict[str, int] = {}
    names: dict[str, tuple[str, str]] = {}
    relations: list[Relation] = []
    last_person: str | None = None
    last_name: str | None = None
    for toks, breaks in tokenised:
        found = _names(toks, breaks, mid_capitals)
        taken = {k for f in found for k in range(f.start, f.end)}
        found += _things(toks, breaks, taken)
        for k, tok in enumerate(toks):  # pronouns stand for the last person / name
            low = tok.lower()
            target = last_name if low in _THEY else last_person if low in _HE_SHE else None
            if target is not None and k not in taken:
                found.append(_Found(k, k + 1, target, tok, "pronoun"))
        found.sort(key=lambda f: f.start)
        for f in found:
            if f.kind != "pronoun":
                names.setdefault(f.key, (f.name, f.kind))
                if f.kind in ("person", OPENER):
                    last_person = f.key
                if f.kind in ("person", "name"):
                    last_name = f.key
            counts[f.key] = counts.get(f.key, 0) + 1
        for a, b in itertools.pairwise(found):
            between = toks[a.end : b.start]
            if (
                1 <= len(between) <= 4
                and a.key != b.key
                and any(w.lower() not in STOP_WORDS for w in between)
            ):
                relations.append(Relation(a.key, " ".join(w.lower() for w in between), b.key))
    alias = _first_names(names)
    merged: dict[str, int] = {}
    for key, n in counts.items():
        merged[alias.get(key, key)] = merged.get(alias.get(key, key), 0) + n
    mentions = tuple(
        Mention(key, names[key][0][:MAX_KEY], names[key][1], max(1, n))
        for key, n in merged.items()
        if key in names
    )
    rels = tuple(
        dict.fromkeys(
            Relation(
                alias.get(r.subject, r.subject),
                r.predicate[:MAX_KEY],
                alias.get(r.object, r.object),
            )
            for r in relations
        )
    )
    return Extraction(mentions, rels)


def _first_names(names: dict[str, tuple[str, str]]) -> dict[str, str]:
    """One-word person keys that are the first word of exactly one longer person key."""
    longer: dict[str, list[str]] = {}
    for key, (_, kind) in names.items():
        if kind == "person" and " " in key:
            longer.setdefault(key.split(" ", 1)[0], []).append(key)
    return {
        key: longer[key][0]
        for key, (_, kind) in names.items()
        if kind in ("person", OPENER) and " " not in key and len(longer.get(key, [])) == 1
    }


def query_keys(query: str) -> set[str]:
    """Entity keys a query names: its names (a first word included) and noun phrases."""
    found = extract(query).keys()
    toks = _TOKEN.findall(query)
    if toks and _capital(toks[0]) and toks[0].lower() not in _OPENERS:
        found.add(name_key(toks[0]))
    return found
