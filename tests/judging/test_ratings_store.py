"""JudgingStore on SQLite and PostgreSQL: competitions, entries and comparisons stored per
tenant, the leaderboard fitted from them, and another tenant's data out of reach."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine

from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.judging.ratings import Comparison, Outcome
from cerebra.judging.store import JudgingStore

ACME = RequestContext(tenant_id="acme")
GLOBEX = RequestContext(tenant_id="globex")


@dataclass(frozen=True)
class Entry:  # the shape of cerebra.judging.base.Entry the store reads
    contestant_id: str
    answer: str
    kind: str = "model"
    model: str = ""
    score: float = 0.0
    error: str = ""
    trace_id: str = ""


@dataclass(frozen=True)
class Verdict:
    winner: str | None
    rationale: str = ""
    judge: str = "checker"
    agreement: float | None = None
    comparisons: tuple[Comparison, ...] = ()
    failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    prompt: str
    entries: tuple[Entry, ...]
    verdict: Verdict
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)


def _competition(winner: str, loser: str, *, prompt: str = "2+2?") -> Result:
    return Result(
        prompt=prompt,
        entries=(Entry(winner, "4", model="gemma", score=1.0),
                 Entry(loser, "5", model="smollm2", score=0.0, trace_id="t1")),
        verdict=Verdict(winner, rationale=f"{winner} is right", agreement=1.0,
                        comparisons=(Comparison(winner, loser, Outcome.A),)),
    )


@pytest.fixture
def store(sql_engine: Engine) -> JudgingStore:
    return JudgingStore(sql_engine)


def test_a_competition_is_stored_and_read_back(store: JudgingStore) -> None:
    result = _competition("alice", "bob")
    assert store.record_competition(ACME, result, category="math") == result.id
    shown = store.get_competition(ACME, result.id)
    assert shown["winner_id"] == "alice" and shown["judge"] == "checker"
    assert shown["agreement"] == 1.0 and shown["category"] == "math"
    assert [e["contestant_id"] for e in shown["entries"]] == ["alice", "bob"]
    assert shown["entries"][1] | {"answer": "5"} == {
        "contestant_id": "bob", "kind": "model", "model": "smollm2", "answer": "5",
        "score": 0.0, "error": "", "trace_id": "t1"}
    assert shown["comparisons"] == [{"a": "alice", "b": "bob", "outcome": "a"}]
    assert store.comparisons(ACME) == [Comparison("alice", "bob", Outcome.A)]
    assert store.comparisons(ACME, category="chat") == []


def test_a_tie_and_the_judges_failures_are_kept(store: JudgingStore) -> None:
    tie = Result("hi", (Entry("a", "x"), Entry("b", "y")),
                 Verdict(None, rationale="unparseable reply", judge="model:gemma",
                         comparisons=(Comparison("a", "b", Outcome.TIE),),
                         failures=("reply was not JSON",)))
    store.record_competition(ACME, tie)
    shown = store.get_competition(ACME, tie.id)
    assert shown["winner_id"] is None and shown["failures"] == ["reply was not JSON"]
    board = store.leaderboard(ACME, n_boot=20)
    assert [r.wins for r in board.ratings] == [0.5, 0.5]


def test_the_leaderboard_ranks_by_fitted_strength(store: JudgingStore) -> None:
    for _ in range(6):
        store.record_competition(ACME, _competition("alice", "bob"))
        store.record_competition(ACME, _competition("bob", "carol"))
    store.record_competition(ACME, _competition("carol", "alice"))
    store.record_comparisons(ACME, [Comparison("alice", "carol", Outcome.A)] * 3)
    board = store.leaderboard(ACME, n_boot=50, seed=1)
    assert [r.contestant for r in board.ratings] == ["alice", "bob", "carol"]
    assert board.comparisons == 16 and board.n_boot == 50
    assert board.to_dict() == store.leaderboard(ACME, n_boot=50, seed=1).to_dict()
    top = board.ratings[0]
    assert top.low < top.theta < top.high and top.comparisons == 10


def test_listing_newest_first_and_by_contestant(store: JudgingStore) -> None:
    first = _competition("alice", "bob", prompt="first")
    second = Result("second", (Entry("carol", "c"), Entry("dave", "d")),
                    Verdict("carol"), created_at=first.created_at + 1)
    store.record_competition(ACME, first)
    store.record_competition(ACME, second)
    assert [c["prompt"] for c in store.list_competitions(ACME)] == ["second", "first"]
    assert [c["id"] for c in store.list_competitions(ACME, contestant="bob")] == [first.id]
    assert store.list_competitions(ACME, limit=1, offset=1)[0]["contestants"] == ["alice", "bob"]
    assert store.count_competitions(ACME) == 2
    store.delete_competition(ACME, first.id)
    assert store.count_competitions(ACME) == 1 and store.comparisons(ACME) == []


def test_another_tenants_competitions_are_unknown(store: JudgingStore) -> None:
    mine = _competition("alice", "bob")
    store.record_competition(ACME, mine)
    store.record_comparisons(GLOBEX, [Comparison("zed", "yan", Outcome.B)])
    with pytest.raises(NotFound):
        store.get_competition(GLOBEX, mine.id)
    with pytest.raises(NotFound):
        store.delete_competition(GLOBEX, mine.id)
    assert store.list_competitions(GLOBEX) == [] and store.count_competitions(GLOBEX) == 0
    assert [r.contestant for r in store.leaderboard(GLOBEX, n_boot=0).ratings] == ["yan", "zed"]
    assert {r.contestant for r in store.leaderboard(ACME, n_boot=0).ratings} == {"alice", "bob"}
    # the same competition id may exist in both tenants without touching the other
    store.record_competition(GLOBEX, Result("theirs", (Entry("zed", "z"),), Verdict("zed"),
                                            id=mine.id))
    assert store.get_competition(ACME, mine.id)["prompt"] == "2+2?"
    assert store.get_competition(GLOBEX, mine.id)["prompt"] == "theirs"


def test_bad_comparisons_are_refused(store: JudgingStore) -> None:
    with pytest.raises(InvalidInput):
        store.record_comparisons(ACME, [Comparison("a", "b", Outcome.A), _Raw("a", "b", "x")])
    with pytest.raises(InvalidInput):
        store.record_comparisons(ACME, [_Raw("a", "a", "a")])
    with pytest.raises(InvalidInput):
        store.record_comparisons(ACME, [Comparison("a", "b", Outcome.A)], category="c" * 101)
    assert store.comparisons(ACME) == []  # nothing half-written


@dataclass(frozen=True)
class _Raw:
    a: str
    b: str
    outcome: str


def test_competitions_from_compete_feed_the_leaderboard(store: JudgingStore) -> None:
    """The real thing: compete() with a checker judge stores its CompetitionResult here, and
    the right answerer rises to the top."""
    from cerebra.judging.checker import Check, CheckerJudge
    from cerebra.judging.compete import compete
    from cerebra.testing import FakeModel

    right, wrong = FakeModel("Paris", name="right"), FakeModel("Lyon", name="wrong")
    judge = CheckerJudge(Check.exact("Paris", contains=True))
    ids = [compete("capital of France?", [right, wrong], judge=judge, store=store,
                   context=ACME, category="geo").effects["stored"] for _ in range(3)]
    shown = store.get_competition(ACME, ids[0])
    assert shown["winner_id"] == "right" and shown["category"] == "geo"
    assert {e["contestant_id"]: e["answer"] for e in shown["entries"]} == {
        "right": "Paris", "wrong": "Lyon"}
    board = store.leaderboard(ACME, category="geo", n_boot=20)
    assert [r.contestant for r in board.ratings] == ["right", "wrong"]
    assert board.comparisons == 3 and store.list_competitions(GLOBEX) == []
