"""PromptManager: the seed example as written, files and stored versions, history threading
per agent and session, memory context, mood and tone, streaming and pipelines."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from cerebra.auth.identity import IdentityStore
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.memory.store import MemoryStore
from cerebra.prompts.manager import PromptManager
from cerebra.prompts.template_store import TemplateStore


def _folder(root: Path) -> Path:
    folder = root / "templates"
    folder.mkdir()
    (folder / "welcome.txt").write_text(
        "Hello {{ name }}! {{ modifiers }}\n"
        "{% for turn in history %}{{ turn.role }}: {{ turn.text }}\n{% endfor %}"
        "Remembered:\n{{ memory }}\n")
    (folder / "intro.txt").write_text("Introduce {{ name }} to agent {{ agent }}.")
    (folder / "summary.txt").write_text("Summary of ({{ previous }}) for {{ name }}.")
    (folder / "greet.j2").write_text("Hi {{ name }}")
    return folder


def test_seed_example(tmp_path: Path, memory: MemoryStore, monkeypatch: pytest.MonkeyPatch,
                      ) -> None:
    _folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    store = memory

    store.add("a1", "prior event")
    mgr = PromptManager("templates", store=store)
    mgr.add_history("a1", "hello there")
    text = mgr.render("a1", "welcome.txt", mood="cheerful", tone="formal", name="Bob")

    chunks = []
    for chunk in mgr.render_stream("a1", "welcome.txt", name="Bob"):
        chunks.append(chunk)

    final, trace = mgr.run_pipeline(
        "a1",
        ["intro.txt", "summary.txt"],
        name="Bob",
        debug=True,
    )

    assert text.startswith("Hello Bob! Respond in a upbeat and warm mood and with a formal "
                           "and precise tone.")
    assert "user: hello there" in text
    assert "- prior event" in text
    assert len(chunks) > 1 and "".join(chunks).startswith("Hello Bob! \n")
    assert final == "Summary of (Introduce Bob to agent a1.) for Bob."
    assert [step.template for step in trace] == ["intro.txt", "summary.txt"]
    assert trace[0].output == "Introduce Bob to agent a1." and trace[1].prompt == final
    assert mgr.run_pipeline("a1", ["intro.txt"], name="Bob") == "Introduce Bob to agent a1."


def test_missing_variable_is_named(tmp_path: Path) -> None:
    mgr = PromptManager(_folder(tmp_path))
    with pytest.raises(InvalidInput) as caught:
        mgr.render("a1", "welcome.txt")
    assert caught.value.field == "variables.name"
    assert "'name'" in caught.value.message and caught.value.status_code == 422


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''['__class__'] }}",
    "{{ name|attr('__class__') }}",
    "{{ cycler.__init__.__globals__ }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ 'x' * 100000000 }}",
    "{{ 9 ** 999999 }}",
    "{{ [].append(1) }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{{ 'a'|center(1000000) }}",
    "{{ lipsum.__globals__ }}",
])
def test_sandbox_escapes_are_refused(tmp_path: Path, source: str) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "bad.j2").write_text(source)
    with pytest.raises(InvalidInput) as caught:
        PromptManager(folder).render("a1", "bad.j2", name="Bob")
    assert caught.value.code == "template_sandbox"
    assert "bad.j2" in caught.value.message and "sandbox" in caught.value.message


def test_unknown_template_and_traversal_are_404(tmp_path: Path) -> None:
    mgr = PromptManager(_folder(tmp_path))
    (tmp_path / "secret.txt").write_text("secret")
    for name in ("nope.txt", "../secret.txt"):
        with pytest.raises(NotFound):
            mgr.render("a1", name)
    assert mgr.render("a1", "greet", name="Bob") == "Hi Bob"  # .j2 implied
    assert mgr.names() == ["greet.j2"]


def test_history_per_agent_and_per_session(tmp_path: Path) -> None:
    mgr = PromptManager(_folder(tmp_path), history_turns=2)
    mgr.add_history("a1", "one", session_id="s1")
    mgr.add_history("a1", "two", role="assistant", session_id="s2")
    mgr.add_history("a2", "other agent")
    mgr.add_history("a1", "three")
    assert [t["text"] for t in mgr.history("a1")] == ["two", "three"]  # bounded
    assert [t["text"] for t in mgr.history("a1", session_id="s1")] == ["one"]
    text = mgr.render("a1", "welcome.txt", name="B", session_id="s2")
    assert "assistant: two" in text and "three" not in text and "other agent" not in text
    with pytest.raises(InvalidInput):
        mgr.add_history("a1", "x", role="robot")


def test_memory_context_is_the_agents_and_the_tenants(tmp_path: Path, memory: MemoryStore,
                                                       engine: Engine) -> None:
    IdentityStore(engine).create_tenant("t2")
    memory.add("a1", "likes tea")
    memory.add("a2", "likes coffee")
    memory.add("a1", "tenant two's secret", context=RequestContext(tenant_id="t2"))
    mgr = PromptManager(_folder(tmp_path), store=memory)
    text = mgr.render("a1", "welcome.txt", name="B")
    assert "likes tea" in text and "coffee" not in text and "secret" not in text
    recalled = mgr.render("a1", "welcome.txt", name="B", query="tea")
    assert "likes tea" in recalled


def test_stored_versions_win_over_files_and_labels_pick(tmp_path: Path,
                                                        templates: TemplateStore) -> None:
    mgr = PromptManager(_folder(tmp_path), templates=templates)
    assert mgr.render("a1", "greet.j2", name="Bob") == "Hi Bob"
    templates.add("greet.j2", "Stored hi {{ name }}")
    templates.add("greet.j2", "Staged hi {{ name }}", labels=["staging"])
    assert mgr.render("a1", "greet.j2", name="Bob") == "Stored hi Bob"  # production: v1
    assert mgr.render("a1", "greet.j2", name="Bob", label="staging") == "Staged hi Bob"
    assert mgr.render("a1", "greet.j2", name="Bob", version=2) == "Staged hi Bob"
    with pytest.raises(NotFound):
        mgr.render("a1", "greet.j2", name="Bob", version=9)
    with pytest.raises(NotFound):
        mgr.render("a1", "welcome.txt", label="staging", name="B")  # a file has no labels


def test_pipeline_with_a_model_and_reserved_names(tmp_path: Path) -> None:
    mgr = PromptManager(_folder(tmp_path), model=lambda prompt: prompt.upper())
    final, trace = mgr.run_pipeline("a1", ["intro.txt", "summary.txt"], name="Bob",
                                    debug=True)
    assert trace[0].output == "INTRODUCE BOB TO AGENT A1."
    assert final == "SUMMARY OF (INTRODUCE BOB TO AGENT A1.) FOR BOB."
    with pytest.raises(InvalidInput) as caught:
        mgr.render("a1", "intro.txt", name="Bob", history="forged")
    assert caught.value.field == "history"
    with pytest.raises(InvalidInput):
        mgr.run_pipeline("a1", "intro.txt", name="Bob")
    with pytest.raises(InvalidInput):
        mgr.render("a1", "intro.txt", name="Bob", mood="x" * 65)
