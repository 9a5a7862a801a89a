"""A long-turn test set derived from LoCoMo: user–assistant sessions with ~2,000-char turns.

Why: Cerebra's retrieval was developed on LoCoMo, whose turns are ~100 characters. Public
benchmarks in the other common style (multi-session user–assistant chats, e.g. LongMemEval)
have assistant turns of ~2,000 characters, and signals fitted to short turns (BM25's length
normalisation, neighbour propagation, the speaker bonus) cost recall there. No copy of such a
benchmark is available offline, so this module *derives* one, deterministically, from a
LoCoMo-format file, in LoCoMo's own format (so `cerebra bench memory` runs it unchanged):

- each source conversation becomes one haystack: its own sessions plus the sessions of
  `distractors` other conversations (chosen with `seed`), all ordered by session date and
  renumbered. The distractors' two speakers are renamed to the haystack's own two (in the
  speaker prefixes and wherever their names occur in the text), so that a name in a
  question does not single out the evidence sessions: in user–assistant benchmarks every
  session is the same user's;
- inside each session the original turns are regrouped into alternating turns: a "user"
  turn is one original utterance (~100 chars); the "assistant" turn after it concatenates
  the following utterances, each still prefixed by its original speaker's name (and its
  image caption inline), until a length drawn with `seed` from [min_chars, max_chars] is
  reached (never past max_chars unless one utterance alone is longer);
- the speakers of the derived turns are "user" and "assistant" (as in such benchmarks, a
  question never names the speaker of a turn);
- each question of the source conversation (categories 1-4, well-formed evidence) keeps
  its text and category; its evidence ids are mapped to the derived turns that now contain
  them (duplicates merged). LLM-written summaries and observations are dropped;
- with `evidence_in="user"`, every evidence utterance of the haystack's own conversation
  begins a user turn (the assistant turn before it ends there), so that evidence sits in
  short user turns between long assistant turns, as in LongMemEval.

What it can tell: whether retrieval copes with long memories whose relevant sentence is one
of ~20 inside them, whose whole-text embedding is truncated (MiniLM reads 256 word pieces),
with distractor sessions around them and no usable speaker names. What it cannot tell: its
questions are LoCoMo's (not about standing instructions, preferences stated to an assistant
or knowledge updates), its long turns are transcripts rather than written answers, evidence
sits mostly in assistant turns unless `evidence_in="user"` (in LongMemEval mostly in user
turns), and several evidence ids often collapse into one long turn, which makes recall@k
easier than on the source.
Figures on it are a development signal, not a stand-in for the real benchmark.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cerebra.bench.locomo import CATEGORIES, EVIDENCE_ID, parse_session_date, read_locomo_json
from cerebra.errors import InvalidInput

_SESSION = re.compile(r"^session_(\d+)$")
USER, ASSISTANT = "user", "assistant"


def _utterance(item: dict[str, Any], rename: dict[str, str]) -> str:
    speaker = str(item.get("speaker", ""))
    text = f"{rename.get(speaker, speaker)}: {_renamed(str(item.get('text', '')), rename)}"
    caption = item.get("blip_caption")
    return f"{text} [image: {_renamed(str(caption), rename)}]" if caption else text


def _renamed(text: str, rename: dict[str, str]) -> str:
    text = text.strip()
    for old, new in rename.items():
        if old != new:
            text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    return text


def _sessions(raw: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    conv = raw["conversation"]
    numbers = sorted(int(m.group(1)) for k in conv if (m := _SESSION.match(k)))
    out = []
    for s in numbers:
        items = [i for i in conv[f"session_{s}"] if isinstance(i, dict)]
        items = [i for i in items if str(i.get("text", "")).strip()]
        out.append((str(conv.get(f"session_{s}_date_time", "")), items))
    return out


def _regroup(
    items: Sequence[dict[str, Any]],
    rng: random.Random,
    min_chars: int,
    max_chars: int,
    rename: dict[str, str],
    starts: frozenset[str] = frozenset(),
) -> list[tuple[str, str, list[str]]]:
    """(speaker, text, source dia_ids) of the derived turns of one session; an utterance
    whose dia_id is in `starts` always begins a user turn."""
    out: list[tuple[str, str, list[str]]] = []
    i = 0
    while i < len(items):
        out.append((USER, _utterance(items[i], rename), [str(items[i].get("dia_id", ""))]))
        i += 1
        target = rng.randint(min_chars, max_chars)
        parts: list[str] = []
        ids: list[str] = []
        size = 0
        while i < len(items) and size < target:
            dia_id = str(items[i].get("dia_id", ""))
            if dia_id in starts:
                break
            piece = _utterance(items[i], rename)
            if parts and size + len(piece) + 1 > max_chars:
                break
            parts.append(piece)
            ids.append(dia_id)
            size += len(piece) + 1
            i += 1
        if parts:
            out.append((ASSISTANT, "\n".join(parts), ids))
    return out


def _speakers(raw: dict[str, Any]) -> tuple[str, str]:
    conv = raw["conversation"]
    a, b = (str(conv.get(k, "")).strip() for k in ("speaker_a", "speaker_b"))
    return a, b


def derive_long_turns(
    source: Sequence[dict[str, Any]],
    *,
    seed: int = 0,
    min_chars: int = 1500,
    max_chars: int = 2500,
    distractors: int = 2,
    evidence_in: str = "any",
) -> list[dict[str, Any]]:
    """The derived dataset (a JSON-ready list in LoCoMo's format); see the module doc.
    `evidence_in="user"` puts every evidence utterance at the start of a user turn (the
    long assistant turns then only surround it, as in LongMemEval); "any" lets it fall
    where the regrouping puts it (mostly inside assistant turns)."""
    if not 0 < min_chars <= max_chars:
        raise InvalidInput("need 0 < min_chars <= max_chars", field="min_chars")
    if evidence_in not in ("any", "user"):
        raise InvalidInput("evidence_in must be 'any' or 'user'", field="evidence_in")
    rng = random.Random(seed)
    out = []
    for index, raw in enumerate(source):
        if not isinstance(raw, dict) or not isinstance(raw.get("conversation"), dict):
            raise InvalidInput(f"dataset[{index}] has no 'conversation' object", field="dataset")
        names = _speakers(raw)
        others = [j for j in range(len(source)) if j != index]
        chosen = sorted(rng.sample(others, min(distractors, len(others))))
        sessions = []  # (date epoch, source order, n, owner?, date text, turns, renaming)
        for j in [index, *chosen]:
            rename = {old: new for old, new in zip(_speakers(source[j]), names, strict=True)
                      if old and new}
            for n, (date, items) in enumerate(_sessions(source[j])):
                when = parse_session_date(date) or 0.0
                sessions.append((when, j, n, j == index, date, items, rename))
        sessions.sort(key=lambda s: (s[0], s[1], s[2]))
        starts = frozenset(
            str(e) for item in raw.get("qa", []) or [] if isinstance(item, dict)
            for e in item.get("evidence") or [] if isinstance(e, str)
        ) if evidence_in == "user" else frozenset()
        conversation: dict[str, Any] = {"speaker_a": USER, "speaker_b": ASSISTANT}
        where: dict[str, str] = {}  # source dia_id (owner's sessions) -> derived dia_id
        for number, (_, _, _, own, date, items, rename) in enumerate(sessions, start=1):
            turns = []
            for k, (speaker, text, ids) in enumerate(
                _regroup(items, rng, min_chars, max_chars, rename, starts if own else frozenset()),
                start=1,
            ):
                dia_id = f"D{number}:{k}"
                turns.append({"speaker": speaker, "dia_id": dia_id, "text": text})
                if own:
                    where.update(dict.fromkeys(ids, dia_id))
            conversation[f"session_{number}_date_time"] = date
            conversation[f"session_{number}"] = turns
        qa = []
        for item in raw.get("qa", []) or []:
            evidence = item.get("evidence") or [] if isinstance(item, dict) else []
            if not isinstance(item, dict) or item.get("category") not in CATEGORIES:
                continue
            if not evidence or not all(
                isinstance(e, str) and EVIDENCE_ID.match(e) and e in where for e in evidence
            ):
                continue
            mapped = list(dict.fromkeys(where[e] for e in evidence))
            qa.append({"question": item.get("question", ""), "answer": item.get("answer", ""),
                       "evidence": mapped, "category": item["category"]})
        out.append({"sample_id": f"{raw.get('sample_id', index)}-long",
                    "conversation": conversation, "qa": qa})
    return out


def write_long_turns(source: Path, target: Path, **options: Any) -> dict[str, Any]:
    """Derive from the LoCoMo-format file `source` into `target`; returns a summary."""
    data = derive_long_turns(read_locomo_json(source), **options)
    Path(target).write_text(json.dumps(data, indent=1), encoding="utf-8")
    return summary(data)


def summary(data: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts and turn lengths of a derived dataset."""
    lengths: dict[str, list[int]] = {USER: [], ASSISTANT: []}
    for conv in data:
        for key, turns in conv["conversation"].items():
            if _SESSION.match(key):
                for t in turns:
                    lengths.setdefault(t["speaker"], []).append(len(t["text"]))

    def mean(v: list[int]) -> float:
        return round(sum(v) / len(v), 1) if v else 0.0

    return {
        "conversations": len(data),
        "turns": sum(len(v) for v in lengths.values()),
        "questions": sum(len(c["qa"]) for c in data),
        "mean_chars": {k: mean(v) for k, v in lengths.items()},
    }
