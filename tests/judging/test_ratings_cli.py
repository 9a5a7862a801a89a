"""`cerebra ratings` and `cerebra competitions list | show` in a subprocess, over the
configured database: the tenant's leaderboard and competitions; misuse exits 2."""

from __future__ import annotations

import json

from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.judging.ratings import Comparison, Outcome
from cerebra.judging.store import JudgingStore
from tests.helpers import run_cli
from tests.judging.test_ratings_store import Entry, Result, Verdict


def _seeded() -> str:
    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    store = JudgingStore(engine)
    result = Result("capital of France?", (Entry("gemma", "Paris", score=1.0),
                                           Entry("smollm2", "Lyon")),
                    Verdict("gemma", rationale="Paris", agreement=1.0,
                            comparisons=(Comparison("gemma", "smollm2", Outcome.A),)))
    store.record_competition(RequestContext(tenant_id="default"), result)
    store.record_comparisons(RequestContext(tenant_id="default"),
                             [Comparison("smollm2", "gemma", Outcome.TIE)] * 2)
    store.record_comparisons(RequestContext(tenant_id="globex"),
                             [Comparison("theirs", "gemma", Outcome.A)])
    engine.dispose()
    return result.id


def test_the_leaderboard_from_the_cli() -> None:
    assert "no comparisons yet" in run_cli("ratings").stdout
    _seeded()
    shown = run_cli("ratings", "--json", "--bootstrap", "30")
    assert shown.returncode == 0, shown.stderr
    board = json.loads(shown.stdout)
    assert [r["contestant"] for r in board["ratings"]] == ["gemma", "smollm2"]
    assert board["comparisons"] == 3 and board["ratings"][0]["wins"] == 2.0
    table = run_cli("ratings", "--bootstrap", "0").stdout
    assert "gemma" in table and "95% interval" in table and "theirs" not in table
    other = json.loads(run_cli("ratings", "--json", "--tenant", "globex").stdout)
    assert [r["contestant"] for r in other["ratings"]] == ["theirs", "gemma"]


def test_competitions_list_and_show() -> None:
    cid = _seeded()
    listed = json.loads(run_cli("competitions", "list", "--json").stdout)
    assert [c["id"] for c in listed] == [cid] and listed[0]["winner_id"] == "gemma"
    assert cid in run_cli("competitions", "list").stdout
    shown = json.loads(run_cli("competitions", "show", cid).stdout)
    assert [e["answer"] for e in shown["entries"]] == ["Paris", "Lyon"]
    missing = run_cli("competitions", "show", cid, "--tenant", "globex")
    assert missing.returncode == 2 and "unknown competition" in missing.stderr
    assert run_cli("ratings", "--bootstrap", "-1").returncode == 2
