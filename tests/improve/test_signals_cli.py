"""`cerebra signals list | examples | rlaif` in a subprocess over the configured database:
the tenant's signals, the rows they make, RLAIF with a checker judge; misuse exits 2."""

from __future__ import annotations

import json

from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.improve.signals import Signal, SignalStore
from tests.helpers import run_cli
from tests.improve.test_signals_store import seed

DEFAULT = RequestContext(tenant_id="default")


def _seeded() -> list[str]:
    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    traces = seed(engine, DEFAULT, [("2+2?", "4"), ("2+2?", "five"), ("hi", "hello")])
    SignalStore(engine).add(DEFAULT, Signal("thumbs", traces[2], 1.0, source="user:ann"))
    engine.dispose()
    return traces


def test_signals_from_the_cli() -> None:
    assert "no signals yet" in run_cli("signals", "list").stdout
    four, _, hello = _seeded()
    listed = json.loads(run_cli("signals", "list", "--json").stdout)
    assert [(s["trace_id"], s["kind"]) for s in listed] == [(hello, "thumbs")]
    done = run_cli("signals", "rlaif", "--judge-contains", "4", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["pairs"], report["labelled"]) == (1, 1)
    again = run_cli("signals", "rlaif", "--judge-contains", "4").stdout
    assert "0 pairs judged" in again and "1 labelled before" in again
    rows = json.loads(run_cli("signals", "examples", "--json").stdout)
    assert [(r["prompt"], r["completion"]) for r in rows["sft"]] == [("hi", "hello")]
    assert [(p["chosen"], p["rejected"], p["trace_id"]) for p in rows["pairs"]] == [
        ("4", "five", four)]
    assert "1 SFT rows, 1 preference pairs" in run_cli("signals", "examples").stdout
    assert json.loads(run_cli("signals", "list", "--json", "--tenant", "globex").stdout) == []
    # misuse: no judge, two judges, a bad kind
    for args in (("rlaif",), ("rlaif", "--judge-contains", "4", "--judge-regex", "4"),
                 ("list", "--kind", "vote")):
        bad = run_cli("signals", *args)
        assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
