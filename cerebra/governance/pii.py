"""PII detectors: where a text holds e-mail addresses, phone numbers, card numbers, IBANs and
secrets, and the text with them redacted.

Each detector is a pattern that finds candidates plus a check that keeps only real ones:
card numbers pass the Luhn check (13–19 digits, optionally grouped by spaces or dashes),
IBANs (in capitals, compact or in groups of four) the ISO 13616 mod-97 check; a phone
number needs a leading `+` or separated digit groups (7–15 digits; ISO dates are not
phones — a bare digit run is an id or an amount as often as a phone, so it is not counted);
a secret is an `sk-…`/`ck-…` key, an AWS access key id (`AKIA…`), a PEM private key, or a
long token of high entropy mixing lower case, upper case and digits (hex digests are not
flagged).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum


class PIIKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    IBAN = "iban"
    SECRET = "secret"


@dataclass(frozen=True)
class Finding:
    kind: PIIKind
    start: int
    end: int
    text: str


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits (13–19 of them for a card)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616: country letters, two check digits, then the account; mod 97 == 1."""
    compact = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def shannon_entropy(text: str) -> float:
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?!\w)")
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d[\d ().-]{5,20}\d|\(?\d{2,4}\)?(?:[ .-]\(?\d{2,4}\)?){1,4})(?![\w])"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}[./-]\d{2}[./-]\d{2,4}")
_SECRETS = re.compile(
    # a PEM private key to its END line, or to the end of the text (a stream still coming)
    r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"
    r"(?:[\s\S]*?-----END (?:[A-Z]+ )*PRIVATE KEY-----|[\s\S]*$)"
    r"|(?<![\w-])(?:sk|ck)-[A-Za-z0-9_-]{16,}"
    r"|(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"
)
_TOKEN = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_=-]{32,}(?![\w+/=-])")
# What a detector's patterns cannot match without: a text lacking it is not scanned for that
# kind (most chat text has no digit and no "@"; a scan costs ~1-3 µs a text)
_DIGIT = re.compile(r"\d")
_NEEDS_DIGIT = frozenset({PIIKind.CARD, PIIKind.IBAN, PIIKind.PHONE})  # each branch has \d
_SECRET_MARK = re.compile(r"-----BEGIN |[sc]k-|AKIA|ASIA")  # a literal part of each branch


def _emails(text: str) -> Iterator[tuple[int, int]]:
    for m in _EMAIL.finditer(text):
        yield m.span()


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            yield m.span()


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    for m in _IBAN.finditer(text):
        # the whole match or nothing: a shorter prefix would pass mod 97 one time in 97
        if iban_valid(m.group()):
            yield m.span()


def _phones(text: str) -> Iterator[tuple[int, int]]:
    for m in _PHONE.finditer(text):
        found = m.group()
        digits = re.sub(r"\D", "", found)
        if not 7 <= len(digits) <= 15 or _DATE.fullmatch(found):
            continue
        if not found.startswith("+") and not re.search(r"[ ().-]", found):
            continue
        yield m.span()


def _secrets(text: str) -> Iterator[tuple[int, int]]:
    if _SECRET_MARK.search(text):
        for m in _SECRETS.finditer(text):
            yield m.span()
    for m in _TOKEN.finditer(text):
        token = m.group()
        classes = sum(bool(re.search(p, token)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
        if classes == 3 and shannon_entropy(token) >= 4.0:
            yield m.span()


DETECTORS: dict[PIIKind, Callable[[str], Iterator[tuple[int, int]]]] = {
    # order matters where spans overlap: the first kind to claim a span keeps it
    PIIKind.SECRET: _secrets,
    PIIKind.IBAN: _ibans,
    PIIKind.CARD: _cards,
    PIIKind.EMAIL: _emails,
    PIIKind.PHONE: _phones,
}


def find_pii(text: str, kinds: Iterator[PIIKind] | list[PIIKind] | None = None) -> list[Finding]:
    """Every finding of the given kinds (default: all), in text order, without overlaps."""
    wanted = set(DETECTORS if kinds is None else kinds)
    if "@" not in text:
        wanted.discard(PIIKind.EMAIL)
    if not wanted.isdisjoint(_NEEDS_DIGIT) and not _DIGIT.search(text):
        wanted -= _NEEDS_DIGIT
    taken: list[Finding] = []
    for kind, detect in DETECTORS.items():
        if kind not in wanted:
            continue
        for start, end in detect(text):
            if any(start < f.end and f.start < end for f in taken):
                continue
            taken.append(Finding(kind, start, end, text[start:end]))
    return sorted(taken, key=lambda f: f.start)


def placeholder(kind: PIIKind) -> str:
    return f"[{kind.value.upper()} REDACTED]"


def redact(text: str, findings: list[Finding]) -> str:
    """`text` with each finding replaced by its placeholder."""
    out: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: f.start):
        out.append(text[pos:f.start])
        out.append(placeholder(f.kind))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
