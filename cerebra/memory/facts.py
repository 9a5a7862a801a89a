"""Rule-based extraction of (subject, attribute, value) statements from a memory's text.

No model: a few patterns people write about themselves and others ("I live in Paris", "I
moved to Berlin", "my favourite colour is teal", "I work at Acme as a nurse", "I'm now
vegetarian", "Alice lives in Rome", "my sister Ana works at Fiat"), applied clause by
clause. First person ("I", "we", "my") resolves to the speaker of the line: a line opening
with "Name:" is that person's ("User:" is the memory's speaker, an "Assistant:" line states
nothing about anyone), otherwise the memory's `speaker` metadata or its user. "my sister"
without a name is `<speaker>:sister`; he / she / they resolve to the last person named in
the same text. Questions, and clauses under "if", "want", "would", "might", ... are skipped.

Single-valued attributes (`lives_in`, `employer`, `job`, `diet`, `relationship`, `age`,
`favourite:<thing>`) take one value at a time; things one can have many of are keyed by
the thing (`likes:<thing>`, `owns:<thing>`) with the value "yes" or "no", so liking tea
never supersedes liking hiking, but "I don't like tea anymore" supersedes "I love tea".
Within one text, the last statement of a key wins. A cheap keyword test skips texts that
cannot match, so this runs on every write (a few microseconds for most turns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Fact:
    """One statement: `subject` and `value` normalised (lower case, no articles)."""

    subject: str
    attribute: str
    value: str


_REL = (
    "sister|brother|mom|mum|mother|dad|father|wife|husband|partner|boyfriend|girlfriend|son|"
    "daughter|best friend|friend|boss|cousin|aunt|uncle|grandma|grandmother|grandpa|"
    "grandfather|roommate|neighbou?r|colleague|coworker|fianc[eé]e?"
)
_NAME = r"[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?"
_SUBJ = (
    rf"(?P<s>\b[Ii]\b|\b[Ww]e\b|\b[Mm]y\s+(?:{_REL})(?:\s+{_NAME})?|\b(?:[Hh]e|[Ss]he|[Tt]hey)\b"
    rf"|\b{_NAME})"
)
_POSS = (
    rf"(?P<s>\b[Mm]y\s+(?:{_REL})(?:\s+{_NAME})?'s|\b[Mm]y|\b[Oo]ur|\b[Hh]is|\b[Hh]er|"
    rf"\b[Tt]heir|\b{_NAME}'s)"
)
_ADV = (
    r"(?i:\s+(?:just|recently|finally|now|actually|currently|also|still|officially|already|"
    r"eventually|then|since|happily|newly|fully|really|totally))*"
)
_V = r"(?P<v>[^\s,.;!?][^,.;!?]*)"
_BE = (
    r"(?i:am|'m|are|'re|is|'s|was|were|have\s+been|'ve\s+been|has\s+been|became|"
    r"have\s+become|'ve\s+become|got|just\s+got|went|have\s+gone|'ve\s+gone|turned)"
)
_WORK = (
    r"(?i:work|works|working|am\s+working|'m\s+working|are\s+working|is\s+working|"
    r"'s\s+working|have\s+been\s+working|'ve\s+been\s+working|has\s+been\s+working|"
    r"started\s+working|began\s+working|started\s+(?:a\s+)?(?:new\s+)?job|started|"
    r"got\s+a\s+(?:new\s+)?job|got\s+hired|was\s+hired|accepted\s+an?\s+(?:job\s+)?offer|"
    r"am\s+employed|'m\s+employed|is\s+employed|'s\s+employed|accepted\s+a\s+(?:job|position))"
)
_JOBS = (
    "nurse|teacher|doctor|physician|surgeon|engineer|developer|programmer|designer|lawyer|"
    "attorney|accountant|chef|cook|manager|student|scientist|researcher|professor|"
    "analyst|consultant|architect|pharmacist|dentist|therapist|counselor|counsellor|"
    "electrician|plumber|carpenter|mechanic|pilot|driver|writer|journalist|editor|artist|"
    "musician|photographer|paramedic|firefighter|officer|soldier|farmer|baker|barista|"
    "waiter|waitress|cashier|librarian|veterinarian|vet|intern|clerk|receptionist|"
    "salesperson|realtor|banker|economist|translator|tutor|coach|trainer|ceo|cto|founder|"
    "freelancer|retiree|unemployed|secretary|technician|administrator|director"
)
_DIETS = (
    "vegetarian|vegan|pescatarian|keto|gluten[- ]free|dairy[- ]free|carnivore|paleo|omnivore"
)
_STATUS = "married|engaged|divorced|single|separated|widowed|in a relationship"
_OWNED = (
    "dog|cat|puppy|kitten|car|house|apartment|flat|bike|bicycle|motorcycle|motorbike|boat|"
    "horse|rabbit|parrot|hamster|fish|turtle|truck|van|condo|guinea pig|tesla|scooter"
)
_TRIGGER = re.compile(
    r"(?i)liv|moved|relocat|reside|based|settl|home|place|work|job|hired|employ|offer|join|quit|"
    r"left|"
    r"resign|laid off|fired|promot|became|favou?rite|fave|love|like|enjoy|adore|prefer|into|"
    r"fan of|hate|dislike|can't stand|stopped|vegetarian|vegan|pescatarian|keto|free|"
    r"carnivore|paleo|omnivore|meat|married|engaged|divorced|single|separated|widowed|"
    r"relationship|broke up|turned|years old|\d|have|has|own|bought|adopted|sold|gave away|"
    r"died|passed away|rehomed|\b(?:am|'m|is|'s)\s+(?:now\s+)?an?\s"
)
_HYPOTHETICAL = re.compile(
    r"(?i)\b(?:if|unless|whether|wish|hope|maybe|might|would|could|should|want|wants|"
    r"wanted|plan|plans|planning|thinking|considering|dream|dreaming|someday|will|may|"
    r"gonna|going to|used to|never|before|when|wonder)\b|'d\b|'ll\b"
)
_STOP_SUBJECTS = frozenset(
    """the this that it there here everyone everybody someone somebody nobody people you your
    what who where when how why then today yesterday tomorrow also and but so now well yes no
    oh hey hi thanks thank please last next after before since lately recently sometimes
    actually honestly anyway plus yeah wow okay ok sure right great good nice""".split()  # noqa: SIM905
)
_CUT = re.compile(
    r"(?i)\s+(?:and|but|because|since|for|with|when|where|which|who|while|last|next|this|"
    r"that|now|after|before|recently|ago|so|as|to|about|from|until|means|in\s+(?:\d+|january|"
    r"february|march|april|may|june|july|august|september|october|november|december)|"
    r"on|at|or|anymore|any\s+more|again|though|too|these\s+days|nowadays|lately|"
    r"instead|over|than|years?|months?|weeks?|days?|together|full[- ]time|part[- ]time)\b.*$"
)
_LEAD = re.compile(r"(?i)^(?:(?:a|an|the|my|our|his|her|their|some|really|just)\s+)+")
_LINE = re.compile(
    r"^\s*((?i:user|assistant|ai|bot|system|model)|[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,2}):"
    r"\s+(.*)$"
)
_CLAUSE = re.compile(r"(?<=[.!?;])\s+|\n+|,\s*(?:but|and\s+then|so)\s+|\s+but\s+")
_SPELLING = {"color": "colour", "flavor": "flavour", "colors": "colour", "colours": "colour"}
_NOT_SPEAKERS = frozenset({"assistant", "ai", "bot", "system", "model", "gpt", "chatbot"})


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, re.Pattern[str], str]]:
    """(attribute, pattern, kind) in the order statements are read: kind says how the
    value is cleaned ("place" / "org": a capitalised name is preferred; "yes" / "no":
    the thing is part of the key; "word": the value as matched)."""
    s, a = _SUBJ, _ADV
    table = [
        ("lives_in", rf"{s}{a}\s+(?i:(?:have|has|had)\s+been\s+)?(?i:live|lives|living|"
         rf"am\s+living|'m\s+living|are\s+living|'re\s+living|is\s+living|'s\s+living|reside|resides|am\s+based|'m\s+based|"
         rf"are\s+based|'re\s+based|is\s+based|'s\s+based|have\s+settled|'ve\s+settled|"
         rf"settled)(?i:\s+down)?\s+(?i:in)\s+{_V}", "place"),
        ("lives_in", rf"{s}{a}\s+(?i:have\s+|'ve\s+|has\s+)?(?i:just\s+)?(?i:moved|relocated)"
         rf"(?i:\s+back|\s+over)?(?:\s+(?i:from)\s+[^,.;!?]+?)?\s+(?i:to)\s+{_V}", "place"),
        ("lives_in", rf"(?:{s}{a}\s+(?i:am\s+|are\s+|is\s+)?(?i:settling|settled|moving|moved)"
         rf"\s+(?i:into|in\s+to)\s+|^\s*(?P<g>)(?i:settling|settled)\s+(?i:into)\s+)"
         rf"(?i:my|our|his|her|their|a)\s+(?i:new\s+)?(?i:place|home|house|flat|apartment)"
         rf"\s+(?i:in)\s+{_V}", "place"),
        ("lives_in", rf"^\s*(?P<g>)(?i:living|based)\s+(?i:in)\s+{_V}", "place"),
        ("lives_in", rf"{_POSS}\s+(?i:home|hometown|address)\s+(?i:is)(?i:\s+now)?\s+(?i:in\s+)?"
         rf"{_V}", "place"),
        ("employer", rf"{s}{a}\s+{_WORK}(?i:\s+as\s+(?:an?\s+)?[a-z ]+?)?\s+"
         rf"(?i:at|for|with|by|from)\s+{_V}", "org"),
        ("employer", rf"{s}{a}\s+(?i:joined|have\s+joined|'ve\s+joined)\s+(?P<v>[A-Z][\w&'.-]*"
         rf"(?:\s+[A-Z][\w&'.-]*)*)", "org"),
        ("employer", rf"{s}{a}\s+(?i:am|is|are|was)\s+(?i:an?)\s+(?i:[a-z]+\s+)?(?i:{_JOBS})\s+"
         rf"(?i:at|for|with)\s+{_V}", "org"),
        ("employer", rf"{_POSS}\s+(?i:employer|company)\s+(?i:is)(?i:\s+now)?\s+{_V}", "org"),
        ("employer", rf"{s}{a}\s+(?i:quit|left|resigned\s+from|was\s+laid\s+off\s+from|"
         rf"got\s+laid\s+off\s+from|got\s+fired\s+from|lost)\s+(?P<v>(?i:my|his|her|their)\s+"
         rf"(?i:job))", "none"),
        ("job", rf"{s}{a}\s+{_WORK}(?:\s+(?i:at|for|with)\s+[^,.;!?]+?)?\s+(?i:as)\s+"
         rf"(?i:an?\s+|the\s+)?{_V}", "word"),
        ("job", rf"{s}{a}\s+(?i:was\s+|got\s+|have\s+been\s+|'ve\s+been\s+|has\s+been\s+)?"
         rf"(?i:promoted)\s+(?i:to)\s+(?i:an?\s+|the\s+)?{_V}", "word"),
        ("job", rf"{_POSS}\s+(?i:job|job\s+title|title|role|position|profession|occupation)"
         rf"\s+(?i:is)(?i:\s+now)?\s+(?i:an?\s+)?{_V}", "word"),
        ("job", rf"{s}{a}\s+(?i:am|'m|is|'s|are|'re|became|have\s+become|'ve\s+become)"
         rf"{a}\s+(?i:an?)\s+(?P<v>(?i:[a-z]+\s+)?(?i:{_JOBS}))\b", "word"),
        ("favourite", rf"(?:^|(?i:these\s+days|now|lately),?\s+)(?P<v>[A-Za-z]+(?:\s+[a-z]+)?)"
         rf"\s+(?i:is|are)(?i:\s+now)?\s+{_POSS}(?i:\s+(?:new|current))?\s+(?i:favou?rite|fave)"
         rf"\s+(?P<what>[A-Za-z]+)", "word"),
        ("favourite", rf"{_POSS}(?i:\s+(?:all[- ]time|new|current))?\s+(?i:favou?rite|fave)\s+"
         rf"(?P<what>[A-Za-z]+(?:\s+[a-z]+)?)\s+(?i:is|are|has\s+become|became)"
         rf"(?i:\s+now|\s+still|\s+definitely)?\s+{_V}", "word"),
        ("likes", rf"{s}{a}\s+(?i:love|loves|like|likes|enjoy|enjoys|adore|adores|prefer|"
         rf"prefers|am\s+into|'m\s+into|are\s+into|'re\s+into|is\s+into|'s\s+into|"
         rf"am\s+a\s+(?:big\s+|huge\s+)?fan\s+of|'m\s+a\s+(?:big\s+|huge\s+)?fan\s+of|"
         rf"got\s+into|have\s+gotten\s+into|'ve\s+gotten\s+into)\s+{_V}", "yes"),
        ("likes", rf"{s}{a}\s+(?i:don't|do\s+not|doesn't|does\s+not|no\s+longer|can't\s+stand|"
         rf"cannot\s+stand|hate|hates|dislike|dislikes|stopped|gave\s+up|am\s+over|'m\s+over|"
         rf"am\s+tired\s+of|'m\s+tired\s+of|got\s+tired\s+of|am\s+sick\s+of|'m\s+sick\s+of)"
         rf"(?i:\s+(?:really|even))?(?i:\s+(?:like|likes|love|enjoy|enjoys|eating|drinking|"
         rf"doing|playing))?\s+{_V}", "no"),
        ("diet", rf"{s}{a}\s+{_BE}{a}(?i:\s+(?:a|an|strictly|strict))?\s+(?P<v>(?i:{_DIETS}))\b",
         "word"),
        ("diet", rf"{s}{a}\s+(?i:stopped\s+being|am\s+no\s+longer|'m\s+no\s+longer|"
         rf"is\s+no\s+longer|'s\s+no\s+longer|quit\s+being)\s+(?i:an?\s+)?(?P<v>(?i:{_DIETS}))\b",
         "not"),
        ("relationship", rf"{s}{a}\s+{_BE}{a}\s+(?P<v>(?i:{_STATUS}))\b", "word"),
        ("relationship", rf"{s}{a}\s+(?i:broke\s+up|split\s+up|separated)\b(?P<v>)", "single"),
        ("age", rf"{s}{a}\s+(?i:turned|just\s+turned|turn)\s+(?P<v>\d{{1,3}})\b", "word"),
        ("age", rf"{s}\s+(?i:am|'m|is|'s)\s+(?:now\s+)?(?P<v>\d{{1,3}})\s*(?i:years?\s+old|"
         rf"y/?o)\b", "word"),
        ("owns", rf"{s}{a}\s+(?i:have|has|own|owns|got|bought|adopted|'ve\s+got|have\s+got|"
         rf"just\s+got|rescued)\s+(?i:an?\s+|my\s+first\s+|a\s+new\s+|two\s+|three\s+|"
         rf"another\s+|a\s+little\s+|a\s+big\s+)?(?P<v>(?i:{_OWNED}))s?\b", "yes"),
        ("owns", rf"{s}{a}\s+(?i:sold|gave\s+away|rehomed|lost|no\s+longer\s+have|"
         rf"don't\s+have|doesn't\s+have)\s+(?i:my|our|his|her|their|the|an?)\s+"
         rf"(?P<v>(?i:{_OWNED}))s?\b", "no"),
        ("owns", rf"\b(?P<s>[Mm]y|[Oo]ur|[Hh]is|[Hh]er|[Tt]heir|{_NAME}'s)\s+(?P<v>(?i:{_OWNED}))"
         rf"\s+(?i:died|passed\s+away|was\s+stolen|got\s+stolen|ran\s+away)\b", "no"),
    ]
    return [(attr, re.compile(pattern), kind) for attr, pattern, kind in table]


def _clean(value: str, kind: str) -> str:
    v = _CUT.sub("", value.strip())
    if kind in ("place", "org"):
        caps = re.findall(
            r"\b(?!I\b)[A-Z][\w&'.-]*(?:\s+(?:of\s+|de\s+|la\s+)?(?!I\b)[A-Z][\w&'.-]*)*", v
        )
        if caps:
            v = caps[-1]
    v = _LEAD.sub("", v.strip().lower())
    v = re.sub(r"[^\w&' -]+", " ", v)
    return " ".join(v.split())[:80].strip()


def _subject(raw: str, speaker: str, last_named: str | None) -> str | None:
    word = raw.strip()
    low = word.lower()
    if low in ("i", "we", "my", "our"):
        return speaker
    if low in ("he", "she", "they", "his", "her", "their"):
        return last_named
    if low.startswith("my ") or low.startswith("my\t"):
        rest = word.split(None, 1)[1].removesuffix("'s")
        rel = re.match(rf"(?i)({_REL})(?:\s+({_NAME}))?$", rest)
        if rel is None:
            return None
        return rel.group(2).lower() if rel.group(2) else f"{speaker}:{rel.group(1).lower()}"
    name = low[:-2] if low.endswith("'s") else low
    if name.split()[0] in _STOP_SUBJECTS or name in _NOT_SPEAKERS:
        return None
    return " ".join(name.split())


def _lines(text: str, speaker: str) -> list[tuple[str, str]]:
    """(speaker, line) for every line an identifiable person said."""
    out: list[tuple[str, str]] = []
    current = speaker
    for line in text.splitlines():
        labelled = _LINE.match(line)
        if labelled:
            who = labelled.group(1).strip()
            if who.lower() in _NOT_SPEAKERS:
                current = ""
            else:
                current = speaker if who.lower() == "user" else " ".join(who.lower().split())
            line = labelled.group(2)
        if current and line.strip():
            out.append((current, line))
    return out


def speaker_of(metadata: dict[str, Any], user_id: str) -> str:
    """Who "I" is in a memory without a speaker label: its `speaker`, else its user."""
    who = metadata.get("speaker") if isinstance(metadata, dict) else None
    name = str(who) if who else (user_id or "user")
    return " ".join(name.lower().split())[:200] or "user"


def extract_facts(text: str, speaker: str) -> tuple[Fact, ...]:
    """The statements `text` makes, `speaker` being who "I" is (see the module doc)."""
    if not _TRIGGER.search(text):
        return ()
    found: dict[tuple[str, str], Fact] = {}
    last_named: str | None = None
    for who, line in _lines(text, speaker):
        for clause in _CLAUSE.split(line):
            if not clause or clause.rstrip().endswith("?") or not _TRIGGER.search(clause):
                continue
            clause = _expanded(clause)
            hits: list[tuple[int, Fact]] = []
            for attr, pattern, kind in _patterns():
                for m in pattern.finditer(clause):
                    said = m.groupdict().get("s")
                    if _HYPOTHETICAL.search(clause[: m.start("s") if said else m.start()]):
                        continue
                    subject = _subject(said, who, last_named) if said else who
                    if not subject:
                        continue
                    pair = _fact(attr, kind, m)
                    if pair is not None:
                        hits.append((m.start(), Fact(subject[:200], pair[0], pair[1])))
            for _, fact in sorted(hits, key=lambda h: h[0]):
                found.pop((fact.subject, fact.attribute), None)
                found[(fact.subject, fact.attribute)] = fact
                if fact.subject != who and ":" not in fact.subject:
                    last_named = fact.subject
            for name in re.findall(rf"\b[Mm]y\s+(?:{_REL})\s+({_NAME})\b", clause):
                last_named = name.lower()
    return tuple(found.values())


def _expanded(clause: str) -> str:
    """Contractions spelled out ("I'm" → "I am"), so patterns need one form of each."""
    clause = clause.replace("\u2019", "'")
    clause = re.sub(r"\b([Ii])'m\b", r"\1 am", clause)
    clause = re.sub(r"\b(\w+)'ve\b", r"\1 have", clause)
    clause = re.sub(r"\b(\w+)'re\b", r"\1 are", clause)
    return re.sub(r"\b([Hh]e|[Ss]he|[Ii]t)'s\b", r"\1 is", clause)


def _fact(attr: str, kind: str, m: re.Match[str]) -> tuple[str, str] | None:
    """(attribute, value) of one match, None when the value cleans away to nothing."""
    raw = m.group("v") or ""
    if kind == "none":
        return attr, "none"
    if kind == "single":
        return attr, "single"
    if kind == "not":
        return attr, "not " + _clean(raw, "word")
    if kind in ("yes", "no"):
        thing = _clean(raw, "word")
        if not thing or thing in _STOP_SUBJECTS or thing in ("it", "them", "him", "her"):
            return None
        return f"{attr}:{thing}", kind
    value = _clean(raw, kind)
    if not value or value in _STOP_SUBJECTS or value in ("it", "them", "here", "home", "i"):
        return None
    if attr == "favourite":
        what = _SPELLING.get(_clean(m.group("what"), "word"), _clean(m.group("what"), "word"))
        return (f"favourite:{what}", value) if what else None
    return attr, value


_ASKS = {
    "lives_in": "live lives living lived reside resides residing home based move moved moving "
    "relocate relocated city town country located hometown",
    "employer": "work works working worked employer company employed job firm",
    "job": "job work works working profession occupation role title position career living",
    "diet": "diet vegetarian vegan pescatarian meat eat eats eating",
    "relationship": "married single relationship dating partner spouse engaged divorced status",
    "age": "age old birthday",
}
_THINGS = {"likes": "like likes enjoy enjoys love loves into fan prefer prefers",
           "owns": "have has own owns pet pets"}


def asked_attributes(query: str) -> frozenset[str]:
    """The attributes a question asks about: "where does Ann live" → {"lives_in"}, "her
    favourite colour" → {"favourite:colour"}, "does she still like tea" → {"likes:tea"}."""
    words = re.findall(r"[a-z]+", query.lower())
    present = set(words)
    out = {attr for attr, cues in _ASKS.items() if present & set(cues.split())}
    for n, word in enumerate(words):
        if word in ("favourite", "favorite", "fave") and n + 1 < len(words):
            out.add(f"favourite:{_SPELLING.get(words[n + 1], words[n + 1])}")
    for attr, cues in _THINGS.items():
        if present & set(cues.split()):
            out |= {f"{attr}:{w}" for w in present if len(w) > 2}
    for thing in re.findall(rf"(?i)\b({_OWNED})s?\b", query):
        out.add(f"owns:{thing.lower()}")
    return frozenset(out)
