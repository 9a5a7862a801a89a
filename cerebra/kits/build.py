"""Rebuild the built-in kits' items (deterministic, seeded): `python -m cerebra.kits.build`.

Four kits of different kinds, each with a train split and a disjoint held-out eval split:
- `date-iso`: dates written many ways → ISO 8601 (exact match);
- `invoice-extract`: short payment notes → JSON with person, company and amount (JSON Schema
  and a field-by-field match with the reference);
- `ticket-triage`: support messages → one label of five (normalised match);
- `cerebra-docs`: cloze questions on the sentences of this project's own README.md and
  docs/*.md (real text, not templates): the passage, the sentence with a blank, the missing
  span (normalised match). Train and eval come from different sentences.
Only the JSONL files are written; kit.yaml is kept by hand beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cerebra.judging.checker import normalize
from cerebra.kits.registry import BUILTIN_DIR

SEED = 20261130
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_DATE_FORMATS: list[Callable[[dt.date], str]] = [
    lambda d: f"{d.day} {MONTHS[d.month - 1]}, {d.year}",
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{_ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{MONTHS[d.month - 1][:3]} {_ordinal(d.day)} {d.year}",
    lambda d: f"{d.day}-{MONTHS[d.month - 1][:3]}-{d.year}",
    lambda d: f"{WEEKDAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    lambda d: f"{MONTHS[d.month - 1].lower()} {d.day} {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3]}. {d.year}",
]
_DATE_TIMES = ["", "1:56 pm on ", "10:04 am on ", "7:30 pm on ", "9:15 am, "]


def date_items(rng: random.Random, count: int) -> Iterator[dict[str, Any]]:
    start = dt.date(1990, 1, 1).toordinal()
    seen: set[str] = set()
    while len(seen) < count:
        day = dt.date.fromordinal(start + rng.randrange(365 * 45))
        text = rng.choice(_DATE_TIMES) + rng.choice(_DATE_FORMATS)(day)
        if normalize(text) in seen:
            continue
        seen.add(normalize(text))
        yield {"input": text, "reference": day.isoformat()}


FIRST = ["Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
         "Keiko", "Liam", "Maya", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara",
         "Umar", "Vera", "Wei", "Xenia", "Yusuf", "Zoe", "Marta", "Tomás", "Priya", "Lukas"]
LAST = ["Novak", "Schmidt", "Okafor", "Rossi", "Tanaka", "Dubois", "Kowalski", "Haddad",
        "Larsen", "Moreau", "Silva", "Brennan", "Ivanova", "Nakamura", "Fischer", "Costa",
        "Walsh", "Berg", "Patel", "Meyer", "Romero", "Andersen", "Kaya", "Lindqvist"]
COMPANY_A = ["Acme", "Blue Harbor", "Northwind", "Kestrel", "Juniper", "Orbit", "Pinecrest",
             "Redline", "Silverleaf", "Tidewater", "Vantage", "Westbrook", "Granite",
             "Lumen", "Marlow", "Quartz", "Helix", "Brightside", "Cobalt", "Evergreen"]
COMPANY_B = ["Ltd", "GmbH", "Inc.", "Logistics", "Labs", "Foods", "Systems", "Media",
             "Partners", "Studio", "Energy", "Supplies"]
_NOTES = [
    "{person} from {company} sent the invoice for {amount}.",
    "Payment of {amount} approved for {company}; contact: {person}.",
    "{company} billed us {amount} — please ask {person} if anything is unclear.",
    "Reminder: {person} ({company}) is still waiting for {amount}.",
    "Received {amount} from {person} at {company} yesterday.",
    "Refund of {amount} owed to {company}, handled by {person}.",
    "Per {person}, {company} will charge {amount} for the renewal.",
    "{company} quote: {amount}. Signed off by {person}.",
]


def _money(rng: random.Random) -> tuple[str, float]:
    value = round(rng.choice([rng.uniform(5, 99), rng.uniform(100, 9999),
                              rng.uniform(10_000, 250_000)]), rng.choice([0, 2]))
    currency = rng.choice(["$", "€", "£", "USD ", "EUR "])
    whole = value == int(value) and rng.random() < 0.5
    written = f"{int(value):,}" if whole else f"{value:,.2f}"
    if rng.random() < 0.2:
        written = written.replace(",", "")
    return f"{currency}{written}", float(value)


def invoice_items(rng: random.Random, count: int) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    while len(seen) < count:
        person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        company = f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}"
        written, value = _money(rng)
        text = rng.choice(_NOTES).format(person=person, company=company, amount=written)
        if normalize(text) in seen:
            continue
        seen.add(normalize(text))
        amount: float | int = int(value) if value == int(value) else value
        reference = json.dumps({"person": person, "company": company, "amount": amount},
                               ensure_ascii=False)
        yield {"input": text, "reference": reference}


_TICKETS: dict[str, list[str]] = {
    "billing": ["I was charged twice for {thing} this month", "my invoice for {thing} shows "
                "the wrong amount", "can I get a refund for {thing}", "the card payment for "
                "{thing} failed but money left my account", "why did the price of {thing} go "
                "up", "please send a receipt for {thing}"],
    "bug": ["{thing} crashes when I open it", "{thing} shows a blank screen after the update",
            "I get an error 500 when I use {thing}", "{thing} freezes on startup",
            "the export in {thing} produces an empty file", "{thing} loses my changes when "
            "I save"],
    "feature": ["it would be great if {thing} had a dark mode", "could you add CSV export "
                "to {thing}", "please let {thing} sync with my calendar", "I wish {thing} "
                "supported keyboard shortcuts", "can {thing} get an offline mode",
                "would love a search box in {thing}"],
    "account": ["I cannot log in to {thing} anymore", "how do I reset my password for "
                "{thing}", "please delete my {thing} account", "I want to change the email "
                "on my {thing} account", "my {thing} account got locked", "how do I add a "
                "second user to {thing}"],
    "shipping": ["my order of {thing} has not arrived", "the {thing} I ordered came "
                 "damaged", "can I change the delivery address for {thing}", "tracking for "
                 "{thing} has not moved in a week", "I received the wrong {thing}",
                 "when will {thing} be delivered"],
}
_THINGS = ["the mobile app", "the desktop app", "the Pro plan", "the web dashboard",
           "the printer", "the headphones", "the annual subscription", "the team plan",
           "the smart watch", "the photo editor", "the router", "the starter kit",
           "the backup service", "the keyboard", "the calendar app", "the e-reader"]
_OPENERS = ["", "Hi, ", "Hello team, ", "Urgent: ", "Hey — ", "Good morning. ", "Help! "]
_CLOSERS = ["", ".", ". Thanks!", ", please help.", "?", ". Regards, {name}", "!!"]


def ticket_items(rng: random.Random, count: int) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    labels = sorted(_TICKETS)
    while len(seen) < count:
        label = labels[len(seen) % len(labels)]
        template, thing = rng.choice(_TICKETS[label]), rng.choice(_THINGS)
        body = template.format(thing=thing)
        closer = rng.choice(_CLOSERS).format(name=rng.choice(FIRST))
        text = rng.choice(_OPENERS) + body + closer
        text = text[0].upper() + text[1:]
        if normalize(text) in seen:
            continue
        seen.add(normalize(text))
        yield {"input": text, "reference": label, "group": f"{template}|{thing}"}


_SPAN = re.compile(r"`([^`\n]{2,30})`")
_TERM = re.compile(r"(?<![\w`./-])(\d+(?:\.\d+)?(?: ?(?:%|ms|s|MB|GB|KB|minutes|seconds|tokens))?"
                   r"|[A-Z][a-z]+[A-Z][A-Za-z]*|[A-Z]{3,}[0-9]*|[a-z]+(?:[._][a-z0-9]+)+"
                   r"|[A-Z][a-z]{3,}(?= [a-z]))(?![\w`/-])")


def _doc_sentences(root: Path) -> Iterator[tuple[str, list[str]]]:
    """(sentence, its paragraph's sentences) for the prose of README.md and docs/*.md."""
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
        text = re.sub(r"<!-- settings:start -->.*?<!-- settings:end -->", "", text,
                      flags=re.DOTALL)
        for block in re.split(r"\n\s*\n", text):
            if block.lstrip().startswith(("#", "|", "<")):
                continue
            flat = " ".join(line.strip().lstrip("-*> ").strip() for line in block.splitlines())
            sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z`])", flat)
                         if 40 <= len(s) <= 400]
            for sentence in sentences:
                yield sentence, sentences


def _inside_code(sentence: str, at: int) -> bool:
    return sentence[:at].count("`") % 2 == 1


def docs_items(root: Path) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    for sentence, paragraph in _doc_sentences(root):
        for match in [*_SPAN.finditer(sentence), *_TERM.finditer(sentence)]:
            span, whole = match.group(1), match.group(0)
            if sentence.count(whole) != 1 or (match.re is _TERM and _inside_code(
                    sentence, match.start())):
                continue
            question = (sentence[:match.start()] + "____" + sentence[match.end():]).replace(
                "`", "")
            if normalize(question) in seen:
                continue
            seen.add(normalize(question))
            at = paragraph.index(sentence)
            context = " ".join(paragraph[max(0, at - 1): at + 2]).replace("`", "")
            if len(context) > 500:
                context = sentence.replace("`", "")
            yield {"input": question, "passage": context, "reference": span,
                   "group": hashlib.sha256(" ".join(paragraph).encode()).hexdigest()[:12]}


def _split(items: list[dict[str, Any]], eval_count: int, rng: random.Random,
           prefix: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shuffle, hold out `eval_count` items (whole groups when items carry one)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(str(item.pop("group", item["input"])), []).append(item)
    keys = sorted(groups)
    rng.shuffle(keys)
    eval_: list[dict[str, Any]] = []
    train: list[dict[str, Any]] = []
    for key in keys:
        (eval_ if len(eval_) < eval_count else train).extend(groups[key])
    out = []
    for split, rows in (("train", train), ("eval", eval_)):
        out.append([{"id": f"{prefix}-{split}-{n:04d}", **row} for n, row in enumerate(rows)])
    return out[0], out[1]


def build(root: Path, out: Path = BUILTIN_DIR) -> dict[str, tuple[int, int]]:
    rng = random.Random(SEED)
    made = {
        "date-iso": _split(list(date_items(rng, 650)), 250, rng, "date"),
        "invoice-extract": _split(list(invoice_items(rng, 650)), 250, rng, "inv"),
        "ticket-triage": _split(list(ticket_items(rng, 650)), 250, rng, "tix"),
    }
    docs = list(docs_items(root))
    made["cerebra-docs"] = _split(docs, max(200, len(docs) * 2 // 5), rng, "doc")
    counts = {}
    for name, (train, eval_) in made.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for split, rows in (("train", train), ("eval", eval_)):
            (folder / f"{split}.jsonl").write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                encoding="utf-8")
        counts[name] = (len(train), len(eval_))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="the repository root (README.md and docs/)")
    parser.add_argument("--out", type=Path, default=BUILTIN_DIR)
    args = parser.parse_args()
    for name, (train, eval_) in build(args.root, args.out).items():
        print(f"{name}: {train} train, {eval_} eval")


if __name__ == "__main__":
    main()
