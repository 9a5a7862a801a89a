"""PromptManager: render a named template for an agent with its history, memories, mood and
tone — from a folder of templates or the tenant's stored versions — and run pipelines.

```python
store = MemoryStore(...)              # the memory store: memory context per agent
store.add("a1", "prior event")
mgr = PromptManager("templates", store=store)
mgr.add_history("a1", "hello there")
text = mgr.render("a1", "welcome.txt", mood="cheerful", tone="formal", name="Bob")
for chunk in mgr.render_stream("a1", "welcome.txt", name="Bob"): ...
final, trace = mgr.run_pipeline("a1", ["intro.txt", "summary.txt"], name="Bob", debug=True)
```

Every template renders in the sandbox (cerebra.prompts.sandbox) and sees, besides the
caller's variables: `agent`, `history` (the agent's — or the session's — recent turns, each
`{role, text}`), `memories` (texts recalled for the agent) and `memory` (them as lines),
`mood`, `tone` and `modifiers` (one sentence asking for that mood and tone), and in a
pipeline `previous` (the last step's output) and `steps`. A stored template (TemplateStore)
wins over a file of the same name; `version=` or `label=` pick a stored version.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import jinja2

from cerebra.context import RequestContext, tenant_of
from cerebra.errors import InvalidInput, NotFound
from cerebra.prompts.sandbox import MAX_SOURCE_CHARS, compile_source, stream
from cerebra.prompts.template_store import TemplateStore, TemplateVersion

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.memory.store import MemoryStore

TextModel = Callable[[str], str]  # a prompt in, the model's reply out

MOODS = {
    "cheerful": "upbeat and warm", "calm": "calm and steady", "serious": "serious and focused",
    "curious": "curious and inquisitive", "playful": "light and playful",
    "empathetic": "understanding and kind", "neutral": "neutral",
}
TONES = {
    "formal": "formal and precise", "casual": "casual and friendly",
    "concise": "short and to the point", "technical": "technical and exact",
    "friendly": "friendly", "neutral": "neutral",
}
RESERVED = frozenset({"agent", "history", "memories", "memory", "modifiers", "previous",
                      "steps", "mood", "tone"})


def modifiers(mood: str | None, tone: str | None) -> str:
    """One sentence asking for `mood` and `tone` (known names get a fuller wording)."""
    parts = []
    if mood:
        parts.append(f"in a {MOODS.get(mood, mood)} mood")
    if tone:
        parts.append(f"with a {TONES.get(tone, tone)} tone")
    return f"Respond {' and '.join(parts)}." if parts else ""


def _word(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidInput(f"{field} must be text of at most 64 characters", field=field)
    return value.strip() or None


@dataclass(frozen=True)
class PipelineStep:
    """One step of a pipeline: the template, what it rendered and what came out."""

    template: str
    version: int | None  # None: a file template
    prompt: str  # the rendered template
    output: str  # the model's reply to it (the rendered text itself without a model)
    elapsed_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {"template": self.template, "version": self.version, "prompt": self.prompt,
                "output": self.output, "elapsed_ms": round(self.elapsed_ms, 3)}


@dataclass(frozen=True)
class Resolved:
    name: str
    template: jinja2.Template
    version: TemplateVersion | None  # None: from the folder


def brain_model(brain: Brain, *, context: RequestContext | None = None,
                model: str | None = None, max_tokens: int | None = None) -> TextModel:
    """A TextModel answering through `brain` (routing, guards, ledger) without memory or a
    persona: the rendered template is the whole instruction."""
    from cerebra.exchange import Query

    def generate(prompt: str) -> str:
        query = Query(prompt, context=context or RequestContext(), model=model,
                      max_tokens=max_tokens, memory=False, persona=None,
                      endpoint="prompts")
        return brain.run(query).answer

    return generate


class PromptManager:
    """Templates from `folder` (`*.j2`, or any file named) and from `templates` (the
    database), rendered in the sandbox with history, memory context, mood and tone."""

    def __init__(
        self,
        folder: str | Path | None = None,
        *,
        store: MemoryStore | None = None,
        templates: TemplateStore | None = None,
        model: TextModel | None = None,
        context: RequestContext | None = None,
        history_turns: int = 20,
        memory_k: int = 5,
    ) -> None:
        self.folder = None if folder is None else Path(folder)
        self.store = store
        self.templates = templates
        self.model = model
        self.context = context
        self.history_turns = history_turns
        self.memory_k = memory_k
        self._history: dict[tuple[str, str, str], deque[dict[str, str]]] = {}
        self._lock = threading.Lock()
        self._compiled: dict[tuple[str, float], jinja2.Template] = {}

    # -- history ----------------------------------------------------------------------
    def add_history(self, agent_id: str, text: str, *, role: str = "user",
                    session_id: str | None = None) -> None:
        """Thread a turn into the agent's history (and its session's, when named)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("a history turn needs some text", field="text")
        if role not in ("user", "assistant", "system"):
            raise InvalidInput("role is user, assistant or system", field="role")
        turn = {"role": role, "text": text}
        tenant = tenant_of(self.context)
        with self._lock:
            keys = [(tenant, agent_id, "")] + ([(tenant, agent_id, session_id)]
                                               if session_id else [])
            for key in keys:
                self._history.setdefault(key, deque(maxlen=self.history_turns)).append(turn)

    def history(self, agent_id: str, *, session_id: str | None = None) -> list[dict[str, str]]:
        """The agent's recent turns, oldest first (only the session's when one is named)."""
        with self._lock:
            turns = self._history.get((tenant_of(self.context), agent_id, session_id or ""))
            return list(turns or ())

    def clear_history(self, agent_id: str, *, session_id: str | None = None) -> None:
        with self._lock:
            self._history.pop((tenant_of(self.context), agent_id, session_id or ""), None)

    # -- templates --------------------------------------------------------------------
    def names(self) -> list[str]:
        """Template names: the folder's `*.j2` files and the tenant's stored templates."""
        found: set[str] = set()
        if self.folder is not None and self.folder.is_dir():
            found.update(p.relative_to(self.folder).as_posix()
                         for p in self.folder.rglob("*.j2") if p.is_file())
        if self.templates is not None:
            found.update(t["name"] for t in self.templates.list(context=self.context))
        return sorted(found)

    def _file(self, name: str) -> Path | None:
        if self.folder is None:
            return None
        root = self.folder.resolve()
        for candidate in (name, f"{name}.j2"):
            path = (root / candidate).resolve()
            if path.is_relative_to(root) and path.is_file():
                return path
        return None

    def resolve(self, name: str, *, version: int | None = None,
                label: str | None = None) -> Resolved:
        """The template `name`: a stored version (by number, label, or production) or the
        folder's file. 404 when neither has it (or the version or label is unknown)."""
        if not isinstance(name, str) or not name:
            raise InvalidInput("a template name is needed", field="template")
        stored = self.templates is not None and self.templates.exists(name, context=self.context)
        if stored or version is not None or label is not None:
            if self.templates is None:
                raise NotFound(f"unknown template {name!r} (no template store)", field="name")
            found = self.templates.get(name, version=version, label=label, context=self.context)
            key = (f"{tenant_of(self.context)}\0{name}\0{found.version}", found.created_at)
            return Resolved(name, self._compile(key, found.source, name), found)
        path = self._file(name)
        if path is None:
            raise NotFound(f"unknown template {name!r}", field="name")
        stat = path.stat()
        if stat.st_size > MAX_SOURCE_CHARS * 4:
            raise InvalidInput(f"template {name!r} is too large", field="template")
        return Resolved(name, self._compile((str(path), stat.st_mtime), None, name, path), None)

    def _compile(self, key: tuple[str, float], source: str | None, name: str,
                 path: Path | None = None) -> jinja2.Template:
        with self._lock:
            cached = self._compiled.get(key)
        if cached is not None:
            return cached
        if source is None and path is not None:
            source = path.read_text(encoding="utf-8")
        compiled = compile_source(source or "", name)
        with self._lock:
            if len(self._compiled) > 256:
                self._compiled.clear()
            self._compiled[key] = compiled
        return compiled

    # -- rendering --------------------------------------------------------------------
    def variables(self, agent_id: str, *, mood: str | None = None, tone: str | None = None,
                  session_id: str | None = None, query: str | None = None,
                  variables: Mapping[str, Any] | None = None,
                  **more: Any) -> dict[str, Any]:
        """What a template sees for `agent_id`: the caller's variables (`variables` and
        keyword arguments) and the context the manager adds."""
        given = {**(variables or {}), **more}
        clash = sorted(RESERVED & set(given) - {"mood", "tone"})
        if clash:
            raise InvalidInput(f"{clash[0]!r} is set by the prompt manager", field=clash[0])
        if "mood" in given or "tone" in given:
            raise InvalidInput("mood and tone are options of their own, not variables",
                               field="mood" if "mood" in given else "tone")
        mood, tone = _word(mood, "mood"), _word(tone, "tone")
        memories = self._memories(agent_id, query)
        return {
            **given,
            "agent": agent_id,
            "history": self.history(agent_id, session_id=session_id),
            "memories": memories,
            "memory": "\n".join(f"- {m}" for m in memories),
            "mood": mood or "",
            "tone": tone or "",
            "modifiers": modifiers(mood, tone),
            "previous": "",  # a pipeline's last output (none outside a pipeline)
            "steps": [],
        }

    def _memories(self, agent_id: str, query: str | None) -> list[str]:
        if self.store is None or self.memory_k <= 0:
            return []
        if query:
            hits = self.store.search(agent_id, query, k=self.memory_k, context=self.context)
            return [hit.memory.text for hit in hits]
        return [m.text for m in self.store.recent(agent_id, k=self.memory_k,
                                                  context=self.context)]

    def render_stream(self, agent_id: str, template: str, *, version: int | None = None,
                      label: str | None = None, **options: Any) -> Iterator[str]:
        """The rendered template, chunk by chunk as the sandbox produces it."""
        resolved = self.resolve(template, version=version, label=label)
        values = self.variables(agent_id, **options)
        yield from stream(resolved.template, template, values)

    def render(self, agent_id: str, template: str, *, version: int | None = None,
               label: str | None = None, **options: Any) -> str:
        """The rendered template for `agent_id` (422 naming a missing variable or what the
        sandbox refused; 404 for an unknown template, version or label)."""
        return "".join(self.render_stream(agent_id, template, version=version, label=label,
                                          **options)).strip()

    @overload
    def run_pipeline(self, agent_id: str, templates: Sequence[str], *,
                     debug: Literal[False] = ..., model: TextModel | None = ...,
                     **options: Any) -> str: ...

    @overload
    def run_pipeline(self, agent_id: str, templates: Sequence[str], *,
                     debug: Literal[True], model: TextModel | None = ...,
                     **options: Any) -> tuple[str, list[PipelineStep]]: ...

    def run_pipeline(self, agent_id: str, templates: Sequence[str], *, debug: bool = False,
                     model: TextModel | None = None,
                     **options: Any) -> str | tuple[str, list[PipelineStep]]:
        """Render each template in turn, each seeing the last one's output as `previous`;
        with a model each rendered prompt is answered and the answer passes on. Returns the
        final text, and with `debug=True` also the trace of every step."""
        if isinstance(templates, str) or not templates:
            raise InvalidInput("a pipeline needs a list of template names", field="templates")
        generate = model or self.model
        previous = ""
        trace: list[PipelineStep] = []
        for name in templates:
            started = time.perf_counter()
            resolved = self.resolve(name)
            values = self.variables(agent_id, **options)
            values.update(previous=previous, steps=[s.output for s in trace])
            prompt = "".join(stream(resolved.template, name, values)).strip()
            output = generate(prompt) if generate is not None else prompt
            trace.append(PipelineStep(
                name, None if resolved.version is None else resolved.version.version,
                prompt, output, (time.perf_counter() - started) * 1000))
            previous = output
        return (previous, trace) if debug else previous

    def render_many(self, agent_id: str, template: str, inputs: Sequence[Mapping[str, Any]],
                    *, version: int | None = None) -> list[str]:
        """`template` rendered once per input's variables (the rewriter's evaluation set)."""
        return [self.render(agent_id, template, version=version, variables=values)
                for values in inputs]


class AgentTemplates:
    """The PromptManager as the agents' template renderer (cerebra.agents' TemplateRenderer:
    `render(name, **variables)`): the agent is the `name` variable, its mood and tone the
    manager's modifiers, so an agent's template sees its history and memories too."""

    def __init__(self, manager: PromptManager) -> None:
        self.manager = manager

    def render(self, name: str, /, **variables: Any) -> str:
        agent_id = str(variables.get("name") or "agent")
        mood, tone = variables.pop("mood", None), variables.pop("tone", None)
        return self.manager.render(agent_id, name, mood=mood or None, tone=tone or None,
                                   **variables)
