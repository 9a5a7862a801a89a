"""The cycle's dataset step with augmentation (CycleOptions.augment): the task's signals are
curated into a version, then a further version adds paraphrases by a registered model, each
kept only when it still states the facts the answer repeats; lineage points at the curated
version; augment=0 adds nothing. keeps_answer_facts is the check."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from cerebra.improve.augment import keeps_answer_facts
from cerebra.improve.datasets import DatasetStore
from cerebra.improve.loop import CycleOptions, ImprovementLoop
from cerebra.improve.signals import Signal, SignalStore
from cerebra.models.registry import ModelRegistry
from cerebra.testing import FakeModel
from tests.improve.test_signals_store import ACME, seed

TASK = "expenses"
PARAPHRASES = {  # prompt → what the paraphrasing model answers
    "Note: Ysolde Marchetti-Brun paid 39 to Quillmere Ferries":
        "Ysolde Marchetti-Brun sent Quillmere Ferries 39",
    "Note: Odalys Vantongeren paid 12 to Fjordline Tapestries":
        "Odalys Vantongeren paid some money to Fjordline Tapestries",  # drops the 12
}


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:  # SQLite, then PostgreSQL
    return sql_engine


def paraphraser(prompt: str) -> str:
    return next((v for k, v in PARAPHRASES.items() if k in prompt), "")


def rated(engine: Engine) -> None:
    store = SignalStore(engine)
    answers = ['{"person": "Ysolde Marchetti-Brun", "company": "Quillmere Ferries", "amount": 39}',
               '{"person": "Odalys Vantongeren", "company": "Fjordline Tapestries", "amount": 12}']
    traces = seed(engine, ACME, list(zip(PARAPHRASES, answers, strict=True)))
    for trace in traces:
        store.add(ACME, Signal("thumbs", trace, 1.0, source="user:ann", task=TASK))


def loop(engine: Engine) -> tuple[ImprovementLoop, FakeModel]:
    models = ModelRegistry()
    model = FakeModel(paraphraser, name="writer")
    models.add(model)
    return ImprovementLoop(engine, models), model


def test_augmented_version_keeps_only_paraphrases_that_keep_the_facts(engine: Engine) -> None:
    rated(engine)
    improvement, model = loop(engine)
    version = improvement._dataset(ACME, TASK, CycleOptions(augment=1,
                                                            augment_model="writer"))
    store = DatasetStore(engine)
    curated = store.get(ACME, version.name, 1)
    assert (curated.row_count, version.version, version.row_count) == (2, 2, 3)
    rows = store.rows(ACME, version.id)
    added = [r for r in rows if r.source.endswith("+paraphrase")]
    assert [r.prompt for r in added] == ["Ysolde Marchetti-Brun sent Quillmere Ferries 39"]
    assert added[0].completion.endswith('"amount": 39}') and added[0].task == TASK
    assert version.report["augment"] == {"rows": 2, "attempts": 2, "kept": 1, "same": 0,
                                         "failed_check": 1, "errors": 0}
    assert version.lineage["versions"] == [curated.id]
    assert len(model.calls) == 2  # one paraphrase asked per row


def test_no_augmentation_by_default(engine: Engine) -> None:
    rated(engine)
    improvement, model = loop(engine)
    version = improvement._dataset(ACME, TASK, CycleOptions())
    assert (version.version, version.row_count, model.calls) == (1, 2, [])


@pytest.mark.parametrize(("paraphrase", "kept"), [
    ("Ysolde Marchetti-Brun sent 39 to Quillmere Ferries.", True),
    ("YSOLDE MARCHETTI-BRUN paid Quillmere Ferries 39 euros", True),  # case, extra words
    ("Ysolde paid 39 to Quillmere Ferries", False),  # the surname the answer repeats is gone
    ("Ysolde Marchetti-Brun paid 93 to Quillmere Ferries", False),  # the amount changed
])
def test_keeps_answer_facts(paraphrase: str, kept: bool) -> None:
    original = "Note: Ysolde Marchetti-Brun paid 39 to Quillmere Ferries. JSON:"
    answer = '{"person": "Ysolde Marchetti-Brun", "company": "Quillmere Ferries", "amount": 39}'
    assert keeps_answer_facts(original, paraphrase, answer) is kept
