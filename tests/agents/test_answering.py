"""Answers given as an agent go through Brain with the agent's persona (or its template),
memory scope and preferred model; a sandboxed agent answers only in competitions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cerebra.agents import AgentRegistry, AgentSandboxed
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.testing import FakeEmbedder, FakeModel


@pytest.fixture
def brain(tmp_path: Path) -> Iterator[Brain]:
    settings = Settings(home=tmp_path / "h", model={"fake": True}, memory={"embedder": "fake"})
    b = Brain.from_settings(settings, model=FakeModel("I am here.", name="fake"),
                            embedder=FakeEmbedder())
    yield b
    b.close()


@pytest.fixture
def registry(brain: Brain) -> AgentRegistry:
    return AgentRegistry(brain.engine, settings=brain.settings)


def _model(brain: Brain, name: str = "fake") -> FakeModel:
    model = brain.models.get(name)
    assert isinstance(model, FakeModel)
    return model


def test_the_persona_and_memory_scope_reach_the_model(brain: Brain,
                                                      registry: AgentRegistry) -> None:
    alice = registry.ensure("alice", ["brave", "curious"])
    answer = registry.ask("alice", "What is the capital of France?", brain=brain)
    assert answer.answer == "I am here."
    assert alice.system_prompt in _model(brain).prompts[-1]
    row = brain.ledger.get(answer.trace_id)
    assert row is not None and row["agent_id"] == "alice"
    memory = brain.memory.get(answer.stored_memory_id or "")
    assert memory is not None and memory.agent_id == "alice"
    # another agent's scope does not recall alice's exchange
    registry.ensure("bob", ["formal"])
    other = registry.ask("bob", "What is the capital of France?", brain=brain)
    assert answer.stored_memory_id not in [h.memory.uid for h in other.memories]
    again = registry.ask("alice", "What is the capital of France?", brain=brain)
    assert answer.stored_memory_id in [h.memory.uid for h in again.memories]


def test_a_shared_memory_scope(brain: Brain, registry: AgentRegistry) -> None:
    registry.ensure("alice")
    registry.ensure("twin", memory_scope="alice")
    first = registry.ask("alice", "Remember the code word pelican.", brain=brain)
    second = registry.ask("twin", "What is the code word pelican?", brain=brain)
    assert first.stored_memory_id in [h.memory.uid for h in second.memories]


def test_the_first_preferred_model_the_brain_has(brain: Brain,
                                                 registry: AgentRegistry) -> None:
    brain.models.add(FakeModel("from m2", name="m2"))
    registry.ensure("alice", preferred_models=["missing", "m2"])
    assert registry.ask("alice", "hi", brain=brain).model == "m2"
    assert registry.ask("alice", "hi", brain=brain, model="fake").model == "fake"
    registry.ensure("bob", preferred_models=["missing"])
    assert registry.ask("bob", "hi", brain=brain).model == "fake"  # the default


def test_a_template_replaces_the_persona(brain: Brain, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    class Templates:
        def render(self, name: str, /, **variables: Any) -> str:
            seen.append({"template": name, **variables})
            return f"TEMPLATE {name}: be {variables['tone']}, {variables['name']}"

    registry = AgentRegistry(brain.engine, settings=brain.settings, templates=Templates())
    registry.ensure("alice", ["brave"], template="short")
    registry.ask("alice", "hi there", brain=brain)
    assert seen[0]["template"] == "short" and seen[0]["prompt"] == "hi there"
    assert seen[0]["traits"] == ["brave"] and seen[0]["mood"] == "confident"
    prompt = _model(brain).prompts[-1]
    assert "TEMPLATE short: be direct, alice" in prompt
    assert "commit to an answer" not in prompt  # the generated persona is replaced


def test_a_sandboxed_agent_answers_only_in_competitions(brain: Brain,
                                                        registry: AgentRegistry) -> None:
    registry.ensure("bob")
    registry.sandbox("bob", "lost every match")
    with pytest.raises(AgentSandboxed) as info:
        registry.ask("bob", "hi", brain=brain)
    assert info.value.status_code == 409 and "sandboxed" in str(info.value)
    calls = len(_model(brain).prompts)
    assert registry.ask("bob", "hi", brain=brain, competition=True).answer == "I am here."
    assert len(_model(brain).prompts) == calls + 1


def test_another_tenants_context_is_refused(brain: Brain, registry: AgentRegistry) -> None:
    from cerebra.agents import UnknownAgent

    registry.ensure("alice")
    with pytest.raises(UnknownAgent):
        registry.ask("alice", "hi", brain=brain, context=RequestContext(tenant_id="other"))
