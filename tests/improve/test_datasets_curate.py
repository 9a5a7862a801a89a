"""DatasetStore.curate: a version curated into the next one (parent, report, lineage), and
a dataset made from the tenant's signals (part A1's training_examples) with the traces it
came from — decontaminated against the evaluation texts given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.errors import Conflict
from cerebra.improve.curation import CurationOptions
from cerebra.improve.datasets import DatasetStore
from cerebra.improve.rows import PrefPair, SftRow
from cerebra.improve.signals import Signal, SignalStore
from tests.improve.test_signals_store import ACME, GLOBEX, seed


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(made)
    yield made
    made.dispose()


def test_a_version_curated_into_the_next(engine: Engine) -> None:
    store = DatasetStore(engine)
    rows = [SftRow("q1", "a1", trace_id="t1"), SftRow("q1", "a1", trace_id="t2"),
            SftRow("mail bob@example.com", "ok", trace_id="t3"), SftRow("", "x")]
    v1 = store.create_version(ACME, "d", "sft", rows)
    v2 = store.curate(ACME, "d", eval_texts=())
    assert (v2.version, v2.parent_id, v2.rows) == (2, v1.id, 2)
    assert store.rows(ACME, v2.id) == [SftRow("q1", "a1", trace_id="t1"),
                                       SftRow("mail [EMAIL REDACTED]", "ok", trace_id="t3")]
    assert v2.lineage == {"versions": [v1.id], "trace_ids": ["t1", "t3"]}
    report = v2.report["curation"]
    assert (report["input_rows"], report["output_rows"], report["pii"]) == (4, 2, {"email": 1})
    # curating v1 again with other options is another version, its parent still v1
    v3 = store.curate(ACME, "d", version=1, eval_texts=(),
                      options=CurationOptions(exact_dedup=False))
    assert (v3.version, v3.parent_id, v3.rows) == (3, v1.id, 3)


def test_a_dataset_from_signals(engine: Engine) -> None:
    signals = SignalStore(engine)
    good, fixed, leaked = seed(engine, ACME, [
        ("2+2?", "4"), ("capital of France?", "Lyon"),
        ("Summarise: the quick brown fox jumps over the lazy dog today", "fox jumps")])
    for trace, kind, value, text in ((good, "thumbs", 1.0, None), (fixed, "score", 0.0, None),
                                     (fixed, "correction", None, "Paris"),
                                     (leaked, "thumbs", 1.0, None)):
        signals.add(ACME, Signal(kind, trace, value, text, "user:ann"))  # type: ignore[arg-type]
    eval_texts = ["the quick brown fox jumps over the lazy dog"]
    sft = DatasetStore(engine).curate(ACME, "fb", from_signals=True, eval_texts=eval_texts)
    assert sft.kind == "sft" and sft.parent_id is None
    rows = DatasetStore(engine).rows(ACME, sft.id)
    assert sorted(r.prompt for r in rows) == ["2+2?", "capital of France?"]
    assert sorted(sft.lineage["trace_ids"]) == sorted([good, fixed])
    assert sft.report["curation"]["steps"][4] == {
        "step": "decontamination", "in": 3, "removed": 1, "reasons": {"eval_overlap": 1}}
    prefs = DatasetStore(engine).curate(ACME, "fb-pairs", from_signals=True, kind="dpo",
                                        eval_texts=())
    assert DatasetStore(engine).rows(ACME, prefs.id) == [
        PrefPair("capital of France?", "Paris", "Lyon", "user:ann", fixed, None)]
    with pytest.raises(Conflict):
        DatasetStore(engine).curate(ACME, "fb", from_signals=True, kind="dpo", eval_texts=())
    # another tenant's signals are not its rows
    assert DatasetStore(engine).curate(GLOBEX, "fb", from_signals=True, eval_texts=()).rows == 0
