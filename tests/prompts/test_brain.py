"""Prompts through Brain: an agent's template rendered by the PromptManager becomes the
persona its answers go out with, and pipelines and the rewriter answer through Brain."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from cerebra.agents import AgentRegistry
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.prompts.manager import AgentTemplates, PromptManager, brain_model
from cerebra.prompts.rewriter import PromptRewriter
from cerebra.prompts.template_store import TemplateStore
from cerebra.testing import FakeEmbedder, FakeModel


@pytest.fixture
def brain(tmp_path: Path) -> Iterator[Brain]:
    settings = Settings(home=tmp_path / "h", model={"fake": True}, memory={"embedder": "fake"})
    b = Brain.from_settings(settings, model=FakeModel("- a\n- b", name="fake"),
                            embedder=FakeEmbedder())
    yield b
    b.close()


def _model(brain: Brain) -> FakeModel:
    model = brain.models.get("fake")
    assert isinstance(model, FakeModel)
    return model


def test_an_agents_template_is_its_persona(brain: Brain) -> None:
    templates = TemplateStore(brain.engine)
    templates.add("agent-persona", "You are {{ name }}, {{ persona }} {{ modifiers }}")
    manager = PromptManager(templates=templates, store=brain.memory)
    registry = AgentRegistry(brain.engine, settings=brain.settings,
                             templates=AgentTemplates(manager))
    alice = registry.ensure("alice", ["brave"])
    registry.create("carol", ["calm"], template="agent-persona")
    answer = registry.ask("carol", "What now?", brain=brain)
    sent = _model(brain).prompts[-1]
    assert answer.answer == "- a\n- b"
    assert "You are carol," in sent and "mood" in sent
    registry.ask("alice", "What now?", brain=brain)
    assert alice.system_prompt in _model(brain).prompts[-1]  # no template: its persona


def test_pipeline_and_rewriter_answer_through_brain(brain: Brain) -> None:
    templates = TemplateStore(brain.engine)
    templates.add("ask", "Question about {{ topic }}: {{ previous }}")
    manager = PromptManager(templates=templates, model=brain_model(brain))
    final, trace = manager.run_pipeline("a1", ["ask", "ask"], topic="owls", debug=True)
    assert final == "- a\n- b" and trace[1].prompt.endswith(": - a\n- b")
    assert "Question about owls" in _model(brain).prompts[-1]

    @dataclass(frozen=True)
    class Scores:
        scores: Mapping[str, float]

    class LengthJudge:
        def judge(self, prompt: str, answers: Mapping[str, str]) -> Scores:
            return Scores({k: float(len(v)) for k, v in answers.items()})

    report = PromptRewriter(templates, judge=LengthJudge(), answer=brain_model(brain)).rewrite(
        "ask", [{"topic": f"t{i}"} for i in range(5)], rules=["role"])
    assert report.adopted is None  # the same answer either way: no win
    assert len(templates.versions("ask")) == 2
