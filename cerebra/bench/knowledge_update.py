"""The knowledge-update suite: generated conversations whose facts change, and the measure.

Every conversation (one user scope) is generated from a seed: a person (first person, or
named in the question), two or three attributes that change during it (where they live,
employer, job, diet, relationship status, a favourite thing, age), each stated first with
one value and later with another, in phrasings drawn from several templates per attribute
(some of which the rule extractor does not read, so the suite also measures what it
misses). Around them, turns that make recency alone fail:

- facts about other people with the same attribute, stated after the update ("my sister
  just moved to Lisbon") — the newest turn on the topic is not the user's;
- the old value mentioned again after the update, not as a fact ("I miss Paris, the cafés
  were great") — the newest mention of the old value;
- the old fact restated before the update ("still loving life in Paris") — two statements
  of the superseded value against one of the current one;
- unrelated small talk, newest of all.

Turns are days apart. For each change, two questions: the current one ("Where does Ann live
now?", "Where do I live?") must rank the update above every statement of the old value;
the as-of one names a moment between the two statements (`as_of=` for half of them, a date
in the question — "in March 2023", "as of 2023-03-14" — for the other half) and must rank
the old statement above the update. The same generated data is stored twice: with
supersession and without (the store's `supersession=False`), and both are measured in one
run. Nothing here is fitted to LoCoMo; the templates are this file's own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cerebra.memory.store import MemoryStore

DAY = 86400.0
NAMES = ["Ann", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
         "Kemi", "Lars", "Maya", "Noor", "Oscar", "Priya", "Quinn", "Rosa", "Sam", "Tara"]
RELATIVES = ["sister", "brother", "cousin", "best friend", "neighbour", "colleague"]
OTHERS = ["Alice", "Bruno", "Carmen", "Diego", "Fatima", "Gustav", "Hana", "Igor"]

# attribute: values, first statements, updates, other-person statements, reminiscences,
# current questions, as-of questions ({who}, {when}); "{v}" is the value.
ATTRIBUTES: dict[str, dict[str, list[str]]] = {
    "lives_in": {
        "values": ["Paris", "Berlin", "Lisbon", "Toronto", "Osaka", "Denver", "Madrid", "Oslo",
                   "Nairobi", "Melbourne", "Prague", "Seattle", "Dublin", "Austin"],
        "first": ["I live in {v}.", "I've been living in {v} for a few years now.",
                  "My home is in {v}, near the river.", "I'm based in {v} these days."],
        "restate": ["Still loving life in {v}, I live in {v} and the spring here is lovely.",
                    "Living in {v} means I walk everywhere."],
        "update": ["Big news: I moved to {v} last week!", "I just relocated to {v} for good.",
                   "We finally moved to {v}, the boxes are everywhere.",
                   "I'm living in {v} now, the new flat is small but bright.",
                   "Settling into my new place in {v}."],
        "other": ["My {rel} just moved to {v}.", "{other} lives in {v} and loves it."],
        "remember": ["I miss {old} sometimes, the cafés there were great.",
                     "Saw a documentary about {old} yesterday, brought back memories."],
        "current": ["Where does {who} live now?", "Which city is {who} living in?",
                    "Where is {who} based?"],
        "as_of": ["Where did {who} live {when}?", "Which city was {who} living in {when}?"],
    },
    "employer": {
        "values": ["Acme", "Globex", "Initech", "Umbrella Labs", "Stark Foods", "Wayne Logistics",
                   "Hooli", "Vandelay Imports", "Soylent Health", "Cyberdyne", "Tyrell Bank"],
        "first": ["I work at {v}.", "I've been working for {v} for three years.",
                  "My employer is {v}."],
        "restate": ["Another long week at {v}, I work at {v} and the projects never stop."],
        "update": ["I started a new job at {v} this week!", "I got hired at {v}, starting Monday.",
                   "I now work at {v}.", "I accepted an offer from {v} and handed in my notice."],
        "other": ["My {rel} works at {v}.", "{other} got a job at {v}."],
        "remember": ["Had lunch with my old team from {old}, good to catch up."],
        "current": ["Which company does {who} work for?", "Where does {who} work now?",
                    "Who is {who}'s employer?"],
        "as_of": ["Which company did {who} work for {when}?", "Where was {who} working {when}?"],
    },
    "job": {
        "values": ["nurse", "teacher", "software engineer", "chef", "architect", "pharmacist",
                   "accountant", "journalist", "electrician", "data analyst", "pilot"],
        "first": ["I work as a {v}.", "I'm a {v} and I like it.", "My job is {v}."],
        "restate": ["Being a {v} is tiring, I work as a {v} and the shifts are long."],
        "update": ["I retrained and I'm a {v} now.", "I got a new job as a {v}!",
                   "I work as a {v} these days.", "Career change: I became a {v}."],
        "other": ["My {rel} is a {v}.", "{other} works as a {v}."],
        "remember": ["Sometimes I still think like a {old}, old habits."],
        "current": ["What does {who} do for a living?", "What is {who}'s job?",
                    "What is {who}'s profession now?"],
        "as_of": ["What was {who}'s job {when}?", "What did {who} do for a living {when}?"],
    },
    "diet": {
        "values": ["vegetarian", "vegan", "pescatarian", "keto", "omnivore"],
        "first": ["I'm {v}.", "I've been {v} for years.", "I am strictly {v}."],
        "restate": ["Cooked a {v} feast tonight, being {v} is easy with good recipes."],
        "update": ["I'm {v} now.", "I went {v} last month.", "I've become {v}, feeling great."],
        "other": ["My {rel} is {v}.", "{other} went {v} recently."],
        "remember": ["Found my old {old} cookbook in a box."],
        "current": ["What diet does {who} follow?", "Is {who} vegetarian, vegan or what?",
                    "What does {who} eat these days?"],
        "as_of": ["What diet did {who} follow {when}?", "What was {who} eating {when}?"],
    },
    "relationship": {
        "values": ["single", "engaged", "married", "divorced"],
        "first": ["I'm {v}.", "I am {v} at the moment.", "I've been {v} for a while."],
        "restate": ["People keep asking, but yes, I'm {v} and happy."],
        "update": ["I got {v} last weekend!", "I'm {v} now.", "Life update: I'm {v}."],
        "other": ["My {rel} got {v}.", "{other} is {v}."],
        "remember": ["Found old photos from when I was {old}."],
        "current": ["What is {who}'s relationship status?", "Is {who} married, single or engaged?"],
        "as_of": ["What was {who}'s relationship status {when}?",
                  "Was {who} married or single {when}?"],
    },
    "favourite:colour": {
        "values": ["teal", "crimson", "yellow", "navy", "emerald", "lavender", "orange"],
        "first": ["My favourite colour is {v}.", "My favorite color is {v}, always has been."],
        "restate": ["Bought another {v} scarf, my favourite colour is {v} after all."],
        "update": ["My favourite colour is {v} now.", "My new favourite colour is {v}.",
                   "These days {v} is my favourite colour."],
        "other": ["My {rel}'s favourite colour is {v}.", "{other}'s favourite colour is {v}."],
        "remember": ["Painted the old shelf {old} years ago."],
        "current": ["What is {who}'s favourite colour?", "Which colour does {who} like best?"],
        "as_of": ["What was {who}'s favourite colour {when}?"],
    },
    "age": {
        "values": [],
        "first": ["I'm {v} years old.", "I am {v} years old."],
        "restate": ["At {v} years old I finally learned to swim, I'm {v} years old and proud."],
        "update": ["I just turned {v}!", "I turned {v} yesterday, what a party."],
        "other": ["My {rel} just turned {v}.", "{other} is {v} years old."],
        "remember": ["When I was {old} I thought I knew everything."],
        "current": ["How old is {who}?", "What is {who}'s age?"],
        "as_of": ["How old was {who} {when}?"],
    },
}
SMALL_TALK = [
    "The weather was lovely today, we had a picnic.", "I watched a great movie last night.",
    "Do you have a good recipe for banana bread?", "My knee hurts after the long run.",
    "Can you recommend a podcast about history?", "I finished a 1000-piece puzzle!",
    "Traffic was terrible this morning.", "I'm reading a novel about sailors.",
    "We played board games all evening.", "The garden tomatoes are finally ripe.",
    "I need to renew my passport soon.", "Tried a new coffee shop, the latte was fine.",
]


@dataclass
class Change:
    """One fact that changed: the memory ids of its statements and its two questions."""

    attribute: str
    old: list[int] = field(default_factory=list)  # turn indexes stating the old value
    new: int = -1
    current_q: str = ""
    as_of_q: str = ""
    as_of: float | None = None  # None: the date is in the question


@dataclass
class Conversation:
    user: str
    speaker: str
    turns: list[tuple[str, float]]
    changes: list[Change]


def _when(moment: float, rng: random.Random) -> tuple[str, float | None]:
    """A phrase naming `moment` in the question, or (`"", moment`) for as_of=."""
    day = datetime.fromtimestamp(moment)
    style = rng.randrange(3)
    if style == 0:
        return "", moment
    if style == 1:
        return f"as of {day:%Y-%m-%d}", None
    return f"on {day.day} {day:%B} {day.year}", None


def generate(n_conversations: int, seed: int = 7, start: float | None = None) -> list[Conversation]:
    """The suite's conversations (reproducible for a seed)."""
    rng = random.Random(seed)
    base = start if start is not None else time.time() - 900 * DAY
    out: list[Conversation] = []
    for c in range(n_conversations):
        name = NAMES[c % len(NAMES)]
        attrs = rng.sample(sorted(ATTRIBUTES), rng.choice([2, 3]))
        t = base + c * 3 * DAY
        turns: list[tuple[str, float]] = []
        changes: list[Change] = []
        plans = []
        for attr in attrs:
            spec = ATTRIBUTES[attr]
            if attr == "age":
                first_age = rng.randrange(20, 70)
                old_v, new_v = str(first_age), str(first_age + 1)
            else:
                old_v, new_v = rng.sample(spec["values"], 2)
            plans.append((attr, spec, old_v, new_v))

        def say(text: str, turns: list[tuple[str, float]] = turns) -> int:
            nonlocal t
            t += rng.uniform(2, 9) * DAY
            turns.append((text, t))
            return len(turns) - 1

        for _ in range(rng.randrange(1, 3)):
            say(rng.choice(SMALL_TALK))
        for attr, spec, old_v, _ in plans:
            ch = Change(attr)
            ch.old.append(say(rng.choice(spec["first"]).format(v=old_v)))
            changes.append(ch)
            say(rng.choice(SMALL_TALK))
        for (_, spec, old_v, _), ch in zip(plans, changes, strict=True):
            if rng.random() < 0.6:
                ch.old.append(say(rng.choice(spec["restate"]).format(v=old_v)))
        between = t
        for (_, spec, _, new_v), ch in zip(plans, changes, strict=True):
            ch.new = say(rng.choice(spec["update"]).format(v=new_v))
        for attr, spec, old_v, new_v in plans:  # distractors after the updates
            other_v = old_v if attr == "age" else rng.choice(
                [v for v in spec["values"] if v not in (old_v, new_v)])
            if attr == "age":
                other_v = str(rng.randrange(20, 70))
            say(rng.choice(spec["other"]).format(
                v=other_v, rel=rng.choice(RELATIVES), other=rng.choice(OTHERS)))
            say(rng.choice(spec["remember"]).format(old=old_v))
        for _ in range(rng.randrange(1, 4)):
            say(rng.choice(SMALL_TALK))
        first_person = rng.random() < 0.5
        for (_, spec, _, _), ch in zip(plans, changes, strict=True):
            who = "I" if first_person else name
            q = rng.choice(spec["current"]).format(who=who)
            ch.current_q = _first_person(q) if first_person else q
            moment = rng.uniform(turns[ch.old[-1]][1], min(between, turns[ch.new][1]))
            phrase, ch.as_of = _when(moment, rng)
            q = rng.choice(spec["as_of"]).format(who=who, when=phrase)
            q = q.replace("  ", " ").replace(" ?", "?")
            ch.as_of_q = _first_person(q) if first_person else q
        out.append(Conversation(f"ku{c}", name, turns, changes))
    return out


def _first_person(question: str) -> str:
    """"Where does I live now?" → "Where do I live now?"; "I's job" → "my job"."""
    q = question.replace("I's", "my").replace("does I", "do I").replace("is I ", "am I ")
    return q.replace("Is I ", "Am I ").replace("is I?", "am I?")


def ingest(store: MemoryStore, convs: Sequence[Conversation], agent: str = "ku") -> list[list[str]]:
    """Store every turn (speaker metadata: the person) and return the memory ids."""
    ids = []
    for conv in convs:
        items = [{"text": text, "created_at": at, "metadata": {"speaker": conv.speaker}}
                 for text, at in conv.turns]
        ids.append(store.add_many(agent, items, user_id=conv.user))
    return ids


def _rank(hits: Sequence[Any], uid: str) -> int:
    return next((n for n, h in enumerate(hits) if h.memory.uid == uid), 10**6)


def measure(store: MemoryStore, convs: Sequence[Conversation], ids: Sequence[Sequence[str]],
            *, k: int = 10, agent: str = "ku") -> dict[str, Any]:
    """Share of current questions ranking the update above every old statement (and at
    rank 1), and of as-of questions ranking an old statement above the update."""
    cur = top1 = asof = asof_top1 = n = 0
    missed: list[str] = []
    for conv, uids in zip(convs, ids, strict=True):
        for ch in conv.changes:
            n += 1
            hits = store.search(agent, ch.current_q, k=k, user_id=conv.user)
            new = _rank(hits, uids[ch.new])
            old = min(_rank(hits, uids[i]) for i in ch.old)
            cur += new < old
            top1 += new == 0
            hits = store.search(agent, ch.as_of_q, k=k, user_id=conv.user, as_of=ch.as_of)
            new = _rank(hits, uids[ch.new])
            old = min(_rank(hits, uids[i]) for i in ch.old)
            asof += old < new
            asof_top1 += old == 0
            if old >= new and len(missed) < 5:
                missed.append(ch.as_of_q)
    return {
        "questions": n,
        "current_above_superseded": round(cur / max(n, 1), 4),
        "current_at_1": round(top1 / max(n, 1), 4),
        "as_of_gets_older": round(asof / max(n, 1), 4),
        "as_of_older_at_1": round(asof_top1 / max(n, 1), 4),
        "as_of_missed_examples": missed,
    }


class _Cached:
    """An embedder that embeds each text once (both stores see the same vectors)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id: str = inner.model_id
        self.dimension: int = inner.dimension
        self._seen: dict[str, Any] = {}

    def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        todo = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if todo:
            self._seen.update(zip(todo, self.inner.embed(todo), strict=True))
        return np.stack([self._seen[t] for t in texts])

    async def aembed(self, texts: Sequence[str]) -> Any:
        return self.embed(texts)


def run_suite(embedder: Any, folder: Any, n_conversations: int, *, seed: int = 7,
              k: int = 10) -> dict[str, Any]:
    """Generate, store with and without supersession, measure both (see the module doc)."""
    from pathlib import Path

    from cerebra.memory.sqlite import SQLiteBackend

    convs = generate(n_conversations, seed=seed)
    cached = _Cached(embedder)
    out: dict[str, Any] = {"conversations": n_conversations, "seed": seed, "k": k,
                           "turns": sum(len(c.turns) for c in convs)}
    for label, on in (("supersession", True), ("without_supersession", False)):
        backend = SQLiteBackend(str(Path(folder) / f"{label}.db"))
        try:
            store = MemoryStore(backend, cached, supersession=on)
            out[label] = measure(store, convs, ingest(store, convs), k=k)
        finally:
            backend.close()
    on, off = out["supersession"], out["without_supersession"]
    out["difference"] = {key: round(on[key] - off[key], 4) for key in on
                         if isinstance(on[key], float)}
    return out
