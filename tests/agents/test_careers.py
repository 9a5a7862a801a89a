"""The rules behind agents: the Wilson interval, the title a record earns (hysteresis
between promotion and demotion, the sandbox left only by a promotion), and personas
generated from traits by fixed rules."""

from __future__ import annotations

import pytest

from cerebra.agents.careers import Thresholds, next_title, wilson
from cerebra.agents.persona import generate, merge_traits, normalise_traits
from cerebra.errors import InvalidInput

RULES = Thresholds()


def test_wilson_interval() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(5, 5)
    assert low == pytest.approx(0.5655, abs=1e-4) and high == 1.0
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    # more results, narrower: the same mean is trusted more
    assert wilson(40, 50)[0] > wilson(8, 10)[0] > wilson(4, 5)[0]


@pytest.mark.parametrize("title, n, total, expected", [
    ("novice", 4, 4.0, None),  # too few results
    ("novice", 5, 5.0, "promoted"),
    ("novice", 5, 4.0, None),  # mean 0.8 is not enough at n = 5
    ("promoted", 20, 20.0, "expert"),
    ("expert", 30, 20.0, None),  # worse, but not confidently bad: keeps its title
    ("promoted", 10, 5.0, None),  # in between: no move either way
    ("expert", 10, 1.0, "demoted"),
    ("novice", 10, 0.0, "sandboxed"),
    ("sandboxed", 12, 3.0, None),  # no longer that bad, but demotion does not release it
    ("sandboxed", 30, 30.0, "expert"),  # earned its way out
    ("demoted", 10, 9.0, "promoted"),
])
def test_next_title(title: str, n: int, total: float, expected: str | None) -> None:
    move = next_title(title, n, total, RULES)
    assert (move[0] if move else None) == expected
    if move:
        assert f"{n} results" in move[1]


def test_personas_are_deterministic_and_cover_unknown_traits() -> None:
    one = generate("alice", ("brave", "curious"))
    assert one == generate("alice", ("brave", "curious"))
    assert (one.mood, one.tone) == ("confident", "direct")
    assert one.system_prompt.startswith("You are alice, an assistant who is brave, curious.")
    # the mood most traits share; the tone of the first trait that has one
    mixed = generate("x", ("stoic", "analytical", "concise", "friendly"))
    assert (mixed.mood, mixed.tone) == ("focused", "precise")
    assert "You are stoic." in mixed.system_prompt
    unknown = generate("zed", ("stoic", "left-handed"))
    assert (unknown.mood, unknown.tone) == ("calm", "neutral")
    assert "stoic, left-handed" in unknown.system_prompt
    plain = generate("p", ())
    assert "helpful and honest" in plain.system_prompt


def test_traits_are_normalised_and_merged() -> None:
    assert normalise_traits(["  Very   Brave ", "very brave", "x-1"]) == ("very brave", "x-1")
    for bad in (["a;b"], [""], ["x" * 41], [3], ["ok"] * 1 + [f"t{i}" for i in range(16)]):
        with pytest.raises(InvalidInput):
            normalise_traits(bad)  # type: ignore[arg-type]
    assert merge_traits(("a", "b", "c"), ("b", "d")) == ("a", "b", "d", "c")
    many = merge_traits(tuple(f"a{i}" for i in range(16)), tuple(f"b{i}" for i in range(16)))
    assert len(many) == 16 and "b0" in many and "b7" in many  # both parents represented
