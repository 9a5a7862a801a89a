"""Judges on deterministic models: the model judge (pairwise in both orders, disagreement as a
tie, listwise, length control, unparseable replies and failing models as ties with reasons),
every checker kind (with the killed hang and memory hog), and the panel."""

from __future__ import annotations

import json
import re

import pytest

from cerebra.errors import InvalidInput
from cerebra.judging.base import Comparison, JudgeProtocol, Verdict
from cerebra.judging.checker import Check, CheckerJudge, extract_json, normalize
from cerebra.judging.model_judge import ModelJudge
from cerebra.judging.panel import PanelJudge
from cerebra.testing import FakeModel

Q = "What is the capital of France?"
ANSWERS = {"good": "The capital of France is Paris.", "bad": "It is Lyon, I think."}


def _block(prompt: str, label: str) -> str:
    found = re.search(rf"\[Answer {label}\]\n(.*?)\n\[End of answer {label}\]", prompt, re.S)
    return found.group(1) if found else ""


def prefers(word: str) -> FakeModel:
    """A fair judge: the answer that mentions `word` wins, whichever place it is in."""
    def reply(prompt: str) -> str:
        a, b = _block(prompt, "A"), _block(prompt, "B")
        if (word in a) == (word in b):
            return '{"winner": "tie", "reason": "alike"}'
        return json.dumps({"winner": "A" if word in a else "B", "reason": f"mentions {word}"})
    return FakeModel(reply, name="fair-judge")


def test_pairwise_judge_both_orders_agree() -> None:
    model = prefers("Paris")
    verdict = ModelJudge(model).judge(Q, ANSWERS)
    assert verdict.winner == "good" and verdict.agreement == 1.0
    assert verdict.scores == {"good": 1.0, "bad": 0.0}
    assert verdict.comparisons == (Comparison("good", "bad", "a"),)
    assert "mentions Paris" in verdict.rationale and not verdict.failures
    assert len(model.calls) == 2  # one pair, both orders
    firsts = [_block(p, "A") for p in model.prompts]
    assert firsts == [ANSWERS["good"], ANSWERS["bad"]]  # each answer shown first once
    assert all(m.role == "system" for m in (c.messages[0] for c in model.calls))


def test_the_verdict_is_asked_for_as_structured_output() -> None:
    model = prefers("Paris")
    ModelJudge(model).judge(Q, ANSWERS)
    formats = [c.extra["response_format"] for c in model.calls]
    assert len(model.calls) == 2 and formats[0] == formats[1]
    schema = formats[0]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["winner", "reason"]  # the winner comes first
    assert schema["properties"]["winner"]["enum"] == ["A", "B", "tie"]
    listwise = prefers("Paris")
    ModelJudge(listwise, mode="listwise").judge(Q, ANSWERS)
    assert "ranking" in listwise.calls[0].extra["response_format"]["json_schema"]["schema"][
        "properties"]
    plain = prefers("Paris")
    ModelJudge(plain, structured=False).judge(Q, ANSWERS)
    assert all("response_format" not in c.extra for c in plain.calls)


def test_position_bias_is_disagreement_and_a_tie() -> None:
    verdict = ModelJudge(FakeModel('{"winner": "A", "reason": "first"}')).judge(Q, ANSWERS)
    assert verdict.winner is None and verdict.tie
    assert verdict.agreement == 0.0
    assert verdict.scores == {"good": 0.5, "bad": 0.5}
    assert verdict.comparisons == (Comparison("good", "bad", "tie"),)
    assert "the orders disagree" in verdict.rationale


def test_three_contestants_round_robin() -> None:
    answers = {"x": "Paris.", "y": "Lyon.", "z": "Paris, of course."}
    verdict = ModelJudge(prefers("Paris")).judge(Q, answers)
    assert verdict.scores == {"x": 0.75, "y": 0.0, "z": 0.75}
    assert verdict.winner is None  # x and z share the top
    assert {c.outcome for c in verdict.comparisons if "y" in (c.a, c.b)} <= {"a", "b"}


@pytest.mark.parametrize("reply,problem", [
    ("I think answer A is better.", "no JSON"),
    ('{"winner": "C"}', "winner"),
    ('{"verdict": "A"}', "winner"),
    ('["A"]', "not the verdict"),
])
def test_unparseable_replies_are_ties_with_the_reason(reply: str, problem: str) -> None:
    verdict = ModelJudge(FakeModel(reply)).judge(Q, ANSWERS)
    assert verdict.winner is None and verdict.agreement is None
    assert verdict.scores == {"good": 0.5, "bad": 0.5}
    assert len(verdict.failures) == 2 and all("unparseable" in f for f in verdict.failures)
    assert problem in verdict.failures[0]
    assert "no verdict in both orders" in verdict.rationale


def test_a_fenced_or_chatty_json_reply_is_read() -> None:
    chatty = 'Sure! ```json\n{"winner": "a", "reason": "ok"}\n``` Hope that helps.'
    assert extract_json(chatty) == {"winner": "a", "reason": "ok"}
    verdict = ModelJudge(FakeModel(chatty)).judge(Q, ANSWERS)
    assert not verdict.failures and verdict.tie  # read in both orders: "A" twice disagrees


def test_a_failing_judge_model_is_a_tie_not_a_crash() -> None:
    verdict = ModelJudge(FakeModel('{"winner": "A"}', max_context=5)).judge(Q, ANSWERS)
    assert verdict.tie and verdict.failures
    assert "the judge model failed" in verdict.failures[0]


def test_listwise_ranks_in_both_orders() -> None:
    def ranker(prompt: str) -> str:  # puts answers mentioning Paris first, shorter first
        labels = re.findall(r"\[Answer ([A-Z])\]", prompt)
        key = {lab: ("Paris" not in _block(prompt, lab), len(_block(prompt, lab)))
               for lab in labels}
        return json.dumps({"ranking": sorted(labels, key=key.__getitem__), "reason": "r"})
    answers = {"x": "Paris.", "y": "Lyon.", "z": "Paris, of course."}
    verdict = ModelJudge(FakeModel(ranker), mode="listwise").judge(Q, answers)
    assert verdict.winner == "x" and verdict.agreement == 1.0
    assert verdict.scores == {"x": 1.0, "y": 0.0, "z": 0.5}
    biased = ModelJudge(FakeModel('{"ranking": ["A", "B", "C"]}'), mode="listwise")
    tied = biased.judge(Q, answers)
    assert tied.winner is None and tied.agreement == pytest.approx(0.0)
    broken = ModelJudge(FakeModel('{"ranking": ["A", "A", "B"]}'), mode="listwise")
    out = broken.judge(Q, answers)
    assert out.tie and "every label exactly once" in out.failures[0]


def test_length_controlled_mode_shows_equal_lengths() -> None:
    def likes_long(prompt: str) -> str:
        a, b = len(_block(prompt, "A").split()), len(_block(prompt, "B").split())
        return json.dumps({"winner": "A" if a > b else "B" if b > a else "tie"})
    answers = {"terse": "Paris is the capital.",
               "verbose": "Well, " + "as everyone knows, " * 20 + "it is Paris."}
    plain = ModelJudge(FakeModel(likes_long)).judge(Q, answers)
    assert plain.winner == "verbose"
    model = FakeModel(likes_long)
    controlled = ModelJudge(model, length_controlled=True, min_words=4).judge(Q, answers)
    assert controlled.winner is None and controlled.agreement == 1.0  # a tie, both orders
    assert "Length is no merit" in model.prompts[0]
    assert all(len(_block(p, "B").split()) == 4 for p in model.prompts)  # cut to 4 words
    assert ModelJudge(FakeModel("x"), length_controlled=True).name.endswith(":lc")


def test_one_answer_needs_no_model_and_no_answers_is_refused() -> None:
    model = FakeModel("never")
    assert ModelJudge(model).judge(Q, {"solo": "Paris"}).winner == "solo"
    assert model.calls == []
    with pytest.raises(InvalidInput):
        ModelJudge(model).judge(Q, {})
    with pytest.raises(InvalidInput, match="brain"):
        ModelJudge("some-model")


# -- the checker ---------------------------------------------------------------------------
@pytest.mark.parametrize("check,passing,failing", [
    (Check.exact("Paris"), "  Paris\n", "paris"),
    (Check.normalized("Paris"), '"PARIS."', "Paris, France"),
    (Check.normalized("Paris", contains=True), "It is Paris, of course", "Parisian food"),
    (Check.regex(r"\bparis\b"), "It's PARIS", "Lyon"),
    (Check.json_schema({"type": "object", "required": ["city"],
                        "properties": {"city": {"type": "string"}}}),
     'Here: ```json\n{"city": "Paris"}\n```', '{"city": 3}'),
    (Check.numeric(1234.5, abs_tol=0.01), "The total is 1,234.5 dollars", "about 1234.6"),
    (Check.numeric(0.5, rel_tol=0.1), "so x = 0.52", "x = 0.6"),
    (Check.function("def check(answer):\n    return answer.count('a') / 4"), "aaaa", "bbb"),
])
def test_each_check_kind(check: Check, passing: str, failing: str) -> None:
    assert check.score(passing).score == 1.0, check.score(passing).reason
    assert check.score(failing).score == 0.0
    verdict = CheckerJudge(check).judge("q", {"p": passing, "f": failing})
    assert verdict.winner == "p" and verdict.comparisons == (Comparison("p", "f", "a"),)
    assert verdict.agreement == 1.0 and "p: 1" in verdict.rationale


def test_checker_ties_and_edge_cases() -> None:
    judge = CheckerJudge(Check.exact("4"))
    assert judge.judge("2+2?", {"a": "4", "b": "4", "c": "5"}).winner is None
    assert judge.judge("2+2?", {"a": "5", "b": "44"}).winner is None  # none passed
    assert Check.numeric(3).score("no digits here").reason == "no number in the answer"
    assert Check.json_schema({"type": "object"}).score("none").reason == \
        "the answer holds no JSON"
    assert normalize("  «Hello   World!» ") == "hello world"
    assert normalize("**Ｐaris.**") == "paris"
    with pytest.raises(InvalidInput, match="pattern"):
        Check.regex("(unclosed")
    with pytest.raises(InvalidInput, match="schema"):
        Check.json_schema({"type": "no-such-type"})
    with pytest.raises(InvalidInput, match="compile"):
        Check.function("def check(:")
    with pytest.raises(InvalidInput):
        Check.numeric(float("nan"))


def test_a_hanging_checker_is_killed_and_fails_with_the_reason() -> None:
    hang = Check.function("import time\ndef check(answer):\n    time.sleep(60)",
                          time_limit_s=1)
    result = hang.score("anything")
    assert result.score == 0.0 and "killed: time limit of 1 s exceeded" in result.reason
    spin = Check.function("def check(answer):\n    while True:\n        pass", time_limit_s=1)
    assert "killed" in spin.score("x").reason
    verdict = CheckerJudge(hang).judge("q", {"a": "x"})
    assert verdict.scores == {"a": 0.0} and "time limit" in verdict.failures[0]


def test_a_memory_hog_is_stopped_at_its_limit() -> None:
    hog = Check.function("def check(answer):\n    blocks = []\n    while True:\n"
                         "        blocks.append(bytearray(10**7))", memory_mb=64)
    result = hog.score("x")
    assert result.score == 0.0 and "memory limit exceeded" in result.reason


def test_checker_function_errors_and_bad_results() -> None:
    assert "ZeroDivisionError" in Check.function("def check(a):\n    return 1/0").score(
        "x").reason
    assert "outside [0, 1]" in Check.function("def check(a):\n    return 7").score("x").reason
    assert "no function check" in Check.function("x = 1").score("x").reason
    leaky = Check.function("import os\ndef check(a):\n    return 'HOME' not in os.environ")
    assert leaky.score("x").score == 1.0  # the child sees no environment (no secrets)


# -- the panel -------------------------------------------------------------------------------
class Fixed:
    """A judge whose verdict is set in advance."""

    def __init__(self, name: str, winner: str | None, scores: dict[str, float],
                 agreement: float | None = None) -> None:
        self.name, self.winner, self.scores, self.agreement = name, winner, scores, agreement

    def judge(self, prompt: str, answers: object) -> Verdict:
        return Verdict(self.winner, self.scores, f"{self.name} says", self.name,
                       self.agreement)


def test_panel_majority_and_weighted() -> None:
    s = {"a": 1.0, "b": 0.0}
    judges = [Fixed("j1", "a", s, 1.0), Fixed("j2", "b", {"a": 0.2, "b": 0.9}, 0.0),
              Fixed("j3", "a", {"a": 0.6, "b": 0.5})]
    assert all(isinstance(j, JudgeProtocol) for j in judges)
    majority = PanelJudge(judges).judge("q", {"a": "1", "b": "2"})
    assert majority.winner == "a" and majority.scores == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert majority.agreement == 0.5  # the members that measured it
    assert "j2 (weight 1): b" in majority.rationale
    overruled = PanelJudge(judges, weights=[1, 3, 1]).judge("q", {"a": "1", "b": "2"})
    assert overruled.winner == "b"
    weighted = PanelJudge(judges, mode="weighted").judge("q", {"a": "1", "b": "2"})
    assert weighted.scores == pytest.approx({"a": 0.6, "b": 1.4 / 3})
    assert weighted.winner == "a" and weighted.comparisons == (Comparison("a", "b", "a"),)
    split = PanelJudge([Fixed("x", "a", s), Fixed("y", "b", s), Fixed("z", None, s)])
    assert split.judge("q", {"a": "1", "b": "2"}).winner is None


def test_panel_of_real_judges_and_bad_panels() -> None:
    panel = PanelJudge([CheckerJudge(Check.normalized("Paris", contains=True)),
                        ModelJudge(prefers("Paris"))], mode="weighted", weights=[2, 1])
    verdict = panel.judge(Q, ANSWERS)
    assert verdict.winner == "good" and verdict.scores["good"] == 1.0
    with pytest.raises(InvalidInput):
        PanelJudge([])
    with pytest.raises(InvalidInput):
        PanelJudge([Fixed("x", None, {})], weights=[1, 2])
    with pytest.raises(InvalidInput):
        PanelJudge([Fixed("x", None, {})], weights=[0])
