"""Personas: an agent's traits turned into its system prompt, mood and tone by fixed rules,
so the same traits always give the same persona (and an unknown trait still gives one).

Each known trait contributes a sentence, a mood and a tone; the mood is the one most traits
share (the first such on a tie), the tone that of the first trait that has one. An unknown
trait becomes "You are <trait>." with no mood or tone of its own. Traits are normalised
(lower case, single spaces) and checked: letters, digits, spaces and hyphens, at most
40 characters, at most 16 of them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cerebra.errors import InvalidInput

MAX_TRAITS = 16
MAX_TRAIT_CHARS = 40
DEFAULT_MOOD = "calm"
DEFAULT_TONE = "neutral"
_TRAIT = re.compile(r"[a-z0-9][a-z0-9 -]*")
TRAIT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 -]{0,39}$"  # what an API accepts (then normalised)


@dataclass(frozen=True)
class _Trait:
    sentence: str
    mood: str
    tone: str


TRAITS: dict[str, _Trait] = {
    "brave": _Trait("You take on hard questions directly and commit to an answer.",
                    "confident", "direct"),
    "curious": _Trait("You explore ideas and ask what lies behind a question.",
                      "eager", "inquisitive"),
    "cautious": _Trait("You check your claims and say plainly what you are unsure of.",
                       "careful", "measured"),
    "friendly": _Trait("You are warm and welcoming to whoever you talk to.",
                       "cheerful", "warm"),
    "formal": _Trait("You write in complete, correct sentences without slang.",
                     "composed", "formal"),
    "concise": _Trait("You answer in as few words as the question allows.",
                      "focused", "terse"),
    "creative": _Trait("You look for original angles and unexpected ideas.",
                       "playful", "imaginative"),
    "analytical": _Trait("You break problems into parts and reason step by step.",
                         "focused", "precise"),
    "precise": _Trait("You give exact figures, names and definitions.", "focused", "precise"),
    "humorous": _Trait("You lighten answers with a little humour where it fits.",
                       "playful", "light"),
    "patient": _Trait("You explain again, more simply, whenever it helps.", "calm", "gentle"),
    "empathetic": _Trait("You notice how the person feels and answer with care.",
                         "caring", "warm"),
    "skeptical": _Trait("You question assumptions and ask for evidence.",
                        "careful", "probing"),
    "optimistic": _Trait("You look for what can work and say so.", "cheerful", "upbeat"),
    "honest": _Trait("You never pretend to know what you do not.", "calm", "candid"),
    "helpful": _Trait("You aim at what the person actually needs.", "cheerful", "warm"),
    "ambitious": _Trait("You aim for the best answer, not an adequate one.",
                        "driven", "direct"),
    "methodical": _Trait("You work through tasks in order and leave nothing out.",
                         "focused", "structured"),
}


@dataclass(frozen=True)
class Persona:
    """What an agent says it is: its system prompt, mood, tone and the traits behind them."""

    system_prompt: str
    mood: str
    tone: str
    traits: tuple[str, ...]


def normalise_traits(traits: Iterable[str]) -> tuple[str, ...]:
    """Traits cleaned, checked and without repeats, in their order (InvalidInput names one
    that is not a trait)."""
    if isinstance(traits, str):
        raise InvalidInput("traits is a list of words, not one string", field="traits")
    out: list[str] = []
    for index, raw in enumerate(traits):
        if not isinstance(raw, str):
            raise InvalidInput("a trait is a string", field=f"traits[{index}]")
        trait = " ".join(raw.lower().split())
        if not trait or len(trait) > MAX_TRAIT_CHARS or not _TRAIT.fullmatch(trait):
            raise InvalidInput(
                f"trait {raw[:60]!r}: letters, digits, spaces and hyphens, 1 to "
                f"{MAX_TRAIT_CHARS} characters", field=f"traits[{index}]")
        if trait not in out:
            out.append(trait)
    if len(out) > MAX_TRAITS:
        raise InvalidInput(f"at most {MAX_TRAITS} traits", field="traits")
    return tuple(out)


def merge_traits(first: Sequence[str], second: Sequence[str]) -> tuple[str, ...]:
    """The traits of a combined agent, both parents' interleaved (first's first, second's
    first, first's second, …) without repeats, so both are represented when the result is
    cut to MAX_TRAITS."""
    merged: list[str] = []
    for index in range(max(len(first), len(second))):
        for side in (first, second):
            if index < len(side) and side[index] not in merged:
                merged.append(side[index])
    return tuple(merged[:MAX_TRAITS])


def generate(name: str, traits: Sequence[str]) -> Persona:
    """The persona of agent `name` with these (normalised) traits."""
    known = [TRAITS[t] for t in traits if t in TRAITS]
    moods = Counter(t.mood for t in known)
    mood = DEFAULT_MOOD
    if moods:
        top = max(moods.values())
        mood = next(t.mood for t in known if moods[t.mood] == top)
    tone = known[0].tone if known else DEFAULT_TONE
    described = ", ".join(traits) if traits else "helpful and honest"
    sentences = [TRAITS[t].sentence if t in TRAITS else f"You are {t}." for t in traits]
    prompt = " ".join([
        f"You are {name}, an assistant who is {described}.",
        *sentences,
        f"Your mood is {mood} and your tone is {tone}.",
        "Answer the User's last message.",
    ])
    return Persona(system_prompt=prompt, mood=mood, tone=tone, traits=tuple(traits))
