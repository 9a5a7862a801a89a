"""Curation: each step removes what it should and counts it — quality and length filters,
PII scrubbed (or rows dropped) through the governance detectors and a policy engine, exact
and near duplicates, decontamination against evaluation texts, balanced sampling with a
fixed seed — and augmentation keeping only paraphrases the checker passes."""

from __future__ import annotations

import pytest

from cerebra.governance.constitution import Constitution
from cerebra.governance.policy import BuiltinEngine
from cerebra.improve.augment import augment, model_paraphraser
from cerebra.improve.curation import CurationOptions, NgramIndex, curate, degenerate
from cerebra.improve.rows import PrefPair, SftRow
from cerebra.testing import FakeEmbedder

NONE = CurationOptions(quality=False, pii="keep", exact_dedup=False, decontaminate=False,
                       near_dup_threshold=None, max_prompt_chars=10**6,
                       max_answer_chars=10**6, min_prompt_chars=0, min_answer_chars=0)


def only(**kw: object) -> CurationOptions:
    from dataclasses import replace

    return replace(NONE, **kw)  # type: ignore[arg-type]


def test_quality_filter_counts_each_reason() -> None:
    rows = [SftRow("q", "a"), SftRow("  ", "a"), SftRow("Echo me", "echo  ME"),
            SftRow("q", "spam " * 30), SftRow("q", "!" * 50),
            PrefPair("p", "Same", "same"), PrefPair("p", "good", "bad")]
    kept, report = curate(rows, eval_texts=(), options=only(quality=True))
    assert kept == [rows[0], rows[6]]
    step = report.steps[0]
    assert step["removed"] == 5
    assert step["reasons"] == {"empty": 1, "answer_repeats_prompt": 1, "repetition": 2,
                               "chosen_equals_rejected": 1}
    assert not degenerate("the cat sat on the mat and then it went to sleep by the fire")


def test_length_filter() -> None:
    rows = [SftRow("ok prompt", "ok"), SftRow("x" * 50, "ok"), SftRow("ok prompt", "y" * 50)]
    kept, report = curate(rows, eval_texts=(), options=only(max_prompt_chars=20,
                                                            max_answer_chars=20,
                                                            min_prompt_chars=3))
    assert kept == rows[:1]
    assert report.steps[-1]["reasons"] == {"prompt_length": 1, "answer_length": 1}


def test_pii_scrubbed_and_counted_by_kind() -> None:
    rows = [SftRow("Mail me at jane.doe@example.com", "Call +44 20 7946 0958 tomorrow"),
            SftRow("nothing here", "fine")]
    kept, report = curate(rows, eval_texts=(), options=only(pii="scrub"))
    assert kept[0].prompt == "Mail me at [EMAIL REDACTED]"
    assert kept[0].completion == "Call [PHONE REDACTED] tomorrow"
    assert kept[1] == rows[1]
    assert report.pii == {"email": 1, "phone": 1}
    assert report.steps[-1]["scrubbed_rows"] == 1 and report.steps[-1]["removed"] == 0
    dropped, report = curate(rows, eval_texts=(), options=only(pii="drop"))
    assert dropped == rows[1:] and report.steps[-1]["reasons"] == {"pii": 1}


def test_policy_engine_denial_drops_the_row() -> None:
    policy = BuiltinEngine(Constitution.model_validate(
        {"denied_topics": [{"id": "weapons", "keywords": ["bioweapon"]}]}))
    rows = [SftRow("how to make a bioweapon", "no"), SftRow("hello", "hi")]
    kept, report = curate(rows, eval_texts=(), policy=policy, options=only(pii="scrub"))
    assert kept == rows[1:]
    assert report.steps[-1]["reasons"] == {"policy_denied": 1}


def test_exact_duplicates_after_normalising() -> None:
    rows = [SftRow("What is  2+2?", "4"), SftRow("what is 2+2?", "4 "), SftRow("2+2", "4")]
    kept, report = curate(rows, eval_texts=(), options=only(exact_dedup=True))
    assert kept == [rows[0], rows[2]]
    assert report.removed("exact_duplicates") == 1


def test_decontamination_drops_rows_holding_an_eval_item() -> None:
    eval_item = ("Extract the invoice number from: Invoice INV-2291 was issued to Acme "
                 "Corporation on 3 March 2021 for consulting services.")
    rows = [
        SftRow("Please extract: Invoice INV-2291 was issued to Acme Corporation on 3 March",
               "INV-2291"),  # an 8-word run of the eval item
        SftRow("Extract the invoice number from: Invoice INV-7 was paid", "INV-7"),
        SftRow("Normalise 1 March 2021", "2021-03-01"),
        SftRow("Is this positive?", "yes: the date is 5 may 2020 in iso"),
    ]
    short = "the date is 5 May 2020"  # under 8 words: matched whole
    kept, report = curate(rows, eval_texts=[eval_item, short, "positive"],
                          options=only(decontaminate=True))
    assert kept == rows[1:3]
    assert report.removed("decontamination") == 2
    assert report.eval_texts == 2  # "positive" is too short to count as a leak
    index = NgramIndex([eval_item], n=13)
    assert not index.hits(rows[0].prompt)  # 13-grams would have missed it


def test_near_duplicates_with_an_embedder() -> None:
    rows = [SftRow("reset my password please", "Use the reset link."),
            SftRow("please reset my password", "use the  reset link."),
            SftRow("what is the capital of france", "Paris"),
            SftRow("Please reset my password!", "Call support.")]  # alike, another answer
    embedder = FakeEmbedder()
    kept, report = curate(rows, eval_texts=(), embedder=embedder,
                          options=only(near_dup_threshold=0.95))
    assert kept == [rows[0], rows[2], rows[3]]
    assert report.steps[-1]["step"] == "near_duplicates" and report.steps[-1]["removed"] == 1
    kept, _ = curate(rows, eval_texts=(), embedder=None, options=only(near_dup_threshold=0.95))
    assert kept == rows


def test_balanced_sampling_is_seeded() -> None:
    rows = [SftRow(f"q{i}", "pos" if i < 8 else "neg", task="t") for i in range(10)]
    kept, report = curate(rows, eval_texts=(), options=only(balance_by="label", cap=2, seed=7))
    assert sorted(r.completion for r in kept) == ["neg", "neg", "pos", "pos"]
    again, _ = curate(rows, eval_texts=(), options=only(balance_by="label", cap=2, seed=7))
    assert again == kept
    other = {tuple(curate(rows, eval_texts=(), options=only(balance_by="label", cap=2,
                                                             seed=s))[0]) for s in range(5)}
    assert len(other) > 1  # the seed decides which rows
    assert report.removed("balance") == 6
    kept, _ = curate(rows, eval_texts=(), options=only(max_rows=3))
    assert len(kept) == 3


def test_default_run_reports_every_step() -> None:
    rows = [SftRow("q one", "a"), SftRow("q one", "a")]
    kept, report = curate(rows, eval_texts=(), embedder=FakeEmbedder())
    assert kept == rows[:1]
    assert [s["step"] for s in report.steps] == ["quality", "length", "pii",
                                                 "exact_duplicates", "decontamination",
                                                 "near_duplicates"]
    assert (report.input_rows, report.output_rows) == (2, 1)
    assert report.to_dict()["options"]["ngram"] == 8


def test_augment_keeps_only_checked_paraphrases() -> None:
    rows = [SftRow("What is 2 plus 2?", "4", source="kit", trace_id="t", task="math"),
            PrefPair("p", "a", "b")]
    outputs = iter(["What's 2 added to 2?", "what is 2 plus 2?", "What is 2 plus 3?",
                    "Compute 2 + 2."])

    def paraphrase(prompt: str) -> str:
        return next(outputs)

    def check(row: SftRow) -> bool:  # the task's checker: the answer must still be right
        return "3" not in row.prompt

    out, report = augment(rows, paraphrase, check, n_per_row=4)
    assert [r.prompt for r in out] == ["What is 2 plus 2?", "What's 2 added to 2?",
                                       "Compute 2 + 2.", "p"]
    assert out[1] == SftRow("What's 2 added to 2?", "4", "kit+paraphrase", "t", "math")
    assert (report.attempts, report.kept, report.same, report.failed_check) == (4, 2, 1, 1)
    with pytest.raises(ValueError):
        augment(rows, paraphrase, check, n_per_row=-1)


def test_model_paraphraser_asks_a_registered_model() -> None:
    from cerebra.models.registry import ModelRegistry
    from cerebra.testing import FakeModel

    registry = ModelRegistry()
    registry.add(FakeModel(name="local", reply="Say hello to the world"))
    paraphrase = model_paraphraser(registry, "local")
    assert paraphrase("Greet the world") == "Say hello to the world"


@pytest.mark.slow
def test_near_duplicates_with_minilm() -> None:
    """The real embedder: a reworded row is a near duplicate, another topic is not."""
    from cerebra.memory.embedders import SentenceTransformerEmbedder

    rows = [SftRow("How do I reset my password?", "Open settings and choose Reset password."),
            SftRow("How can I reset my password?", "Open settings and choose Reset password."),
            SftRow("What is the capital of France?", "Paris.")]
    kept, report = curate(rows, eval_texts=(), embedder=SentenceTransformerEmbedder(),
                          options=only(near_dup_threshold=0.9))
    assert kept == [rows[0], rows[2]]
    assert report.steps[-1]["embedder"].endswith("all-MiniLM-L6-v2")
