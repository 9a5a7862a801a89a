"""Context bundles: what an outside agent needs to answer with its own model, and its
feedback on what it was given (issue 12, item 5; the routes are a thin layer over this).

`ContextBundler.evaluate` recalls the scope's memories with each signal's share (the same
hybrid ranking Brain uses), the session's working memory, the knowledge graph's relations
about the recalled memories' entities, the HRR residual of the conversation so far
(cerebra.memory.residual), the recommended prompt (rendered by the code that renders
Brain's own prompts: cerebra.prompts.renderer, with the working-memory block of
cerebra.memory.working_session) and the governance directives in force for the caller;
the bundle is recorded (cerebra.memory.bundle_store) so its feedback can be checked and
replayed. `feedback` moves the salience of the bundle's memories — those the agent marks
helpful up, unhelpful down; with neither list, the score (0..1) moves all of them by
2·score − 1, as Brain's feedback on an answer does — and records the outcome once.

A scope the caller does not own (a confined principal naming another user or agent), and a
bundle id of another tenant or user, are not found (404).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cerebra.context import RequestContext, tenant_of
from cerebra.errors import CerebraError, Forbidden, InvalidInput, NotFound
from cerebra.governance.directives import Directives, directives_for
from cerebra.ids import new_id
from cerebra.memory.base import MemoryHit, Scope
from cerebra.memory.bundle_store import BundleRecord, BundleStore
from cerebra.memory.bundle_types import (
    BundleMemory,
    ContextBundle,
    FeedbackOutcome,
    GraphFact,
    ProfileFact,
    PromptMessage,
    RecommendedPrompt,
    Residual,
    UserProfile,
    WorkingEntry,
)
from cerebra.memory.residual import ConversationResidual, ResidualTurn, to_base64
from cerebra.memory.validation import validate_text
from cerebra.models.base import Message
from cerebra.prompts.renderer import DEFAULT_PERSONA, render_conversation

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.governance.constitution import Loaded
    from cerebra.memory.retrieval import RetrievalWeights
    from cerebra.memory.store import MemoryStore
    from cerebra.memory.working_session import Workspace

ROLES = ("user", "assistant", "system", "tool")
MAX_HISTORY = 100
MAX_K = 50
GRAPH_ENTITIES = 8  # the recalled memories' most mentioned entities
GRAPH_RELATIONS = 10  # relations read per entity


def estimate_tokens(text: str) -> int:
    """About four characters per token: the agent's tokenizer is not known here."""
    return -(-len(text) // 4)


@dataclass(frozen=True)
class BundleQuery:
    """A request for a bundle: the query, whose memories, the conversation so far."""

    query: str
    agent_id: str | None = None
    user_id: str | None = None
    session_id: str = ""
    history: tuple[Message, ...] = ()
    k: int = 8
    token_budget: int | None = None  # None: memory.token_budget
    persona: str | None = DEFAULT_PERSONA
    as_of: Any = None  # recall facts valid then (a date or UNIX time; see MemoryStore.search)


@dataclass(frozen=True)
class ResidualShape:
    dim: int = 1024
    decay: float = 0.7
    window: int = 8
    seed: int = 0


class GraphView(Protocol):
    """What a bundle reads of the knowledge graph (cerebra.memory.graph.MemoryGraph)."""

    def mentions(self, row_ids: Sequence[int]) -> dict[int, dict[str, int]]: ...

    def entity(self, scope: Scope, name: str, *, limit: int = 20) -> dict[str, Any]: ...


class ProfileView(Protocol):
    """What a bundle reads of user profiles (cerebra.memory.profile.Profiles)."""

    @property
    def available(self) -> bool: ...

    def read(self, user_id: str, *, agent_id: str | None = None,
             context: RequestContext | None = None, strict: bool = True) -> Any: ...


class ContextBundler:
    """Assembles bundles from a MemoryStore and records them in a BundleStore."""

    def __init__(
        self, memory: MemoryStore, store: BundleStore, *, constitution: Loaded | None = None,
        token_budget: int = 512, count_tokens: Callable[[str], int] = estimate_tokens,
        workspace: Workspace | None = None, graph: GraphView | None = None,
        profiles: ProfileView | None = None, profile_share: float = 0.0,
        residual: ResidualShape = ResidualShape(),
    ) -> None:
        self.memory = memory
        self.store = store
        self.constitution = constitution
        self.token_budget = token_budget
        self.count_tokens = count_tokens
        self.workspace = workspace
        self.graph = graph
        self.profiles = profiles
        self.profile_share = profile_share  # of the token budget, for the profile's lines
        self.residual = residual
        self._encoders: dict[int, ConversationResidual] = {}

    @classmethod
    def of(cls, brain: Brain) -> ContextBundler:
        """The bundler over a Brain's memory, database, working memory, graph and policy."""
        from cerebra.governance.guard import PolicyGuard

        guard = next((g for g in brain.guards if isinstance(g, PolicyGuard)), None)
        graph_of = getattr(brain.memory.backend, "memory_graph", None)
        return cls(brain.memory, BundleStore(brain.engine),
                   constitution=guard.constitution if guard else None,
                   token_budget=brain.settings.memory.token_budget,
                   workspace=getattr(brain, "working", None),
                   graph=graph_of() if callable(graph_of) else None,
                   profiles=getattr(brain, "profiles", None),
                   profile_share=float(getattr(brain.settings.memory, "profile_share", 0.0)))

    # -- evaluate ---------------------------------------------------------------------
    def evaluate(self, request: BundleQuery, *, context: RequestContext) -> ContextBundle:
        query = validate_text(request.query, field="query", max_chars=self.memory.max_chars)
        history = _checked_history(request.history, self.memory.max_chars)
        if isinstance(request.k, bool) or not isinstance(request.k, int) \
                or not 1 <= request.k <= MAX_K:
            raise InvalidInput(f"k must be an integer from 1 to {MAX_K}", field="k")
        budget = self.token_budget if request.token_budget is None else request.token_budget
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
            raise InvalidInput("token_budget must be a non-negative integer", field="token_budget")
        scope = self._owned_scope(request, context)
        hits = self.memory.search(scope.agent_id, query, k=request.k, user_id=scope.user_id,
                                  explain=True, context=context,
                                  **({} if request.as_of is None else {"as_of": request.as_of}))
        relevant = self._relevant(scope, hits)  # what Brain would inject: over the floor
        conversation = (*history, Message("user", query))
        profile, profile_text = self._profile(scope, context, budget)
        budget_left = budget - (self.count_tokens(profile_text) if profile_text else 0)
        working, hits_left, budget_left = self._working(
            request, scope, context, conversation,
            [h for h in hits if h.memory.uid in relevant], budget_left)
        rendered = render_conversation(conversation, hits_left, count_tokens=self.count_tokens,
                                       token_budget=budget_left, persona=request.persona)
        messages = rendered.messages
        if working or profile_text:
            from cerebra.memory.working_session import merge_block, render_block

            messages = merge_block(messages, render_block(working))
            messages = merge_block(messages, profile_text)  # as Brain: the profile last
        bundle = ContextBundle(
            id=new_id(), created_at=time.time(), query=query,
            user_id=scope.user_id or "", agent_id=scope.agent_id or "",
            session_id=request.session_id,
            memories=_memories(hits, relevant),
            working_memory=self._working_entries(request, scope, context),
            profile=profile,
            graph_facts=self._graph_facts(scope, hits),
            residual=self._residual(conversation),
            prompt=RecommendedPrompt(
                messages=[PromptMessage(role=m.role, content=str(m.content)) for m in messages],
                injected=[h.memory.uid for h in rendered.injected], token_budget=budget),
            directives=self._directives(scope, context),
            weights={k: float(v) for k, v in asdict(self._weights(scope)).items()
                     if isinstance(v, int | float)},
        )
        self.store.add(BundleRecord(
            id=bundle.id, tenant_id=tenant_of(context), user_id=bundle.user_id,
            agent_id=bundle.agent_id, session_id=bundle.session_id, query=query,
            memories=[{"id": m.id, "score": m.score, "signals": m.signals}
                      for m in bundle.memories],
            weights=bundle.weights, created_at=bundle.created_at))
        return bundle

    def _relevant(self, scope: Scope, hits: Sequence[MemoryHit]) -> set[str]:
        """Ids of the hits that clear the scope's relevance floor (cerebra.memory.relevance)."""
        from cerebra.memory.relevance import floor_of

        return {h.memory.uid for h in floor_of(self._weights(scope)).keep(hits)}

    def _weights(self, scope: Scope) -> RetrievalWeights:
        """The weights the scope ranks with (its learned ones where the store learns)."""
        return self.memory.weights_for(scope)

    def _owned_scope(self, request: BundleQuery, context: RequestContext) -> Scope:
        try:
            return self.memory.scope(request.agent_id, user_id=request.user_id,
                                     context=context)
        except Forbidden as exc:  # another user's or agent's scope: not this caller's to see
            raise NotFound(f"no such scope for this caller ({exc.field})",
                           field=exc.field) from None

    def _profile(self, scope: Scope, context: RequestContext, budget: int
                 ) -> tuple[UserProfile | None, str]:
        """The user's profile and its prompt block within `profile_share` of the budget
        (None, "" without profiles, a user, or a profile)."""
        if self.profiles is None or not scope.user_id or not self.profiles.available:
            return None, ""
        try:
            found = self.profiles.read(scope.user_id, agent_id=scope.agent_id, context=context,
                                       strict=False)
        except CerebraError:
            return None, ""
        from cerebra.memory.profile_block import render_profile

        text = render_profile(found, count_tokens=self.count_tokens,
                              budget=int(budget * self.profile_share))
        facts = [ProfileFact(attribute=e.attribute, value=e.value, confidence=e.confidence,
                             memory_ids=list(e.memory_ids), first_stated=e.first_stated,
                             last_stated=e.last_stated) for e in found.entries]
        return UserProfile(user_id=scope.user_id, facts=facts), text

    def _working(self, request: BundleQuery, scope: Scope, context: RequestContext,
                 conversation: Sequence[Message], hits: list[MemoryHit], budget: int
                 ) -> tuple[Sequence[Any], list[MemoryHit], int]:
        """Working-memory items to inject, the hits left for the rest, the budget left."""
        if self.workspace is None or not request.session_id:
            return (), hits, budget
        key = self.workspace.key(context, request.session_id, user_id=scope.user_id,
                                 agent_id=scope.agent_id)
        recall = self.workspace.recall(key, conversation, hits,
                                       count_tokens=self.count_tokens, token_budget=budget)
        if recall is None:
            return (), hits, budget
        return recall.items, recall.hits, recall.budget_left

    def _working_entries(self, request: BundleQuery, scope: Scope,
                         context: RequestContext) -> list[WorkingEntry] | None:
        if self.workspace is None:
            return None
        if not request.session_id:
            return []
        key = self.workspace.key(context, request.session_id, user_id=scope.user_id,
                                 agent_id=scope.agent_id)
        state = self.workspace.state(key)
        items = sorted([*state.turns, *state.notes], key=lambda i: i.created_at)
        return [WorkingEntry(id=i.id, kind=i.kind, text=i.text, created_at=i.created_at)
                for i in items]

    def _graph_facts(self, scope: Scope, hits: Sequence[MemoryHit]) -> list[GraphFact] | None:
        """Relations of the entities the recalled memories mention most (None: no graph)."""
        if self.graph is None:
            return None
        mentions = self.graph.mentions([h.memory.row_id for h in hits])
        counts = Counter(k for found in mentions.values() for k in found)
        facts: dict[tuple[str, str, str], GraphFact] = {}
        for key, _ in counts.most_common(GRAPH_ENTITIES):
            try:
                found = self.graph.entity(scope, key, limit=GRAPH_RELATIONS)
            except (NotFound, InvalidInput):
                continue
            for r in found.get("relations", []):
                fact = GraphFact(subject=str(r["subject"]), predicate=str(r["predicate"]),
                                 object=str(r["object"]), memory_id=r.get("memory_id"))
                facts.setdefault((fact.subject, fact.predicate, fact.object), fact)
        return list(facts.values())

    def _residual(self, conversation: Sequence[Message]) -> Residual:
        turns = list(conversation)[-self.residual.window:]
        vectors = self.memory.embedder.embed([str(m.content) for m in turns])
        dim = max(self.residual.dim, int(vectors.shape[1]))
        encoder = self._encoders.get(int(vectors.shape[1]))
        if encoder is None:
            shape = self.residual
            encoder = ConversationResidual(int(vectors.shape[1]), dim=dim, decay=shape.decay,
                                           window=shape.window, seed=shape.seed)
            self._encoders[int(vectors.shape[1])] = encoder
        trace = encoder.encode([ResidualTurn(m.role, v)
                                for m, v in zip(turns, vectors, strict=True)])
        return Residual(vector=to_base64(trace), dim=encoder.dim, embed_dim=encoder.embed_dim,
                        embedder=self.memory.embedder.model_id, decay=encoder.decay,
                        window=encoder.window, seed=encoder.seed, turns=len(turns))

    def _directives(self, scope: Scope, context: RequestContext) -> Directives:
        principal = context.principal
        roles = [r.value for r in principal.roles] if principal else []
        agents = {a for a in (principal.agent_id if principal else "", scope.agent_id) if a}
        return directives_for(self.constitution, roles, agents)

    # -- feedback ---------------------------------------------------------------------
    def feedback(self, bundle_id: str, *, score: float | None = None,
                 helpful: Sequence[str] = (), unhelpful: Sequence[str] = (),
                 context: RequestContext) -> FeedbackOutcome:
        """Record the agent's outcome on a bundle (once) and reinforce its memories."""
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)
                                  or not 0.0 <= float(score) <= 1.0):
            raise InvalidInput("score must be a number between 0 and 1", field="score")
        good, bad = _ids(helpful, "helpful"), _ids(unhelpful, "unhelpful")
        if score is None and not good and not bad:
            raise InvalidInput("give a score, helpful or unhelpful memory ids", field="score")
        user_pin, agent_pin = context.confinement()
        record = self.store.get(tenant_of(context), str(bundle_id), user_id=user_pin,
                                agent_id=agent_pin)
        if record is None:
            raise NotFound(f"no context bundle {bundle_id!r}", field="bundle_id")
        if set(good) & set(bad):
            raise InvalidInput("a memory cannot be both helpful and unhelpful",
                               field="unhelpful")
        given = set(record.memory_ids())
        for name, ids in (("helpful", good), ("unhelpful", bad)):
            stray = [i for i in ids if i not in given]
            if stray:
                raise InvalidInput(f"not memories of this bundle: {', '.join(stray[:5])}",
                                   field=name)
        if not self.store.set_feedback(record.tenant_id, record.id, score, good, bad):
            raise InvalidInput("this bundle has feedback already", field="bundle_id")
        owner = context
        moved = 0
        if good:
            moved += self.memory.reinforce(good, 1.0, context=owner)
        if bad:
            moved += self.memory.reinforce(bad, -1.0, context=owner)
        if not good and not bad and score is not None and given:
            moved += self.memory.reinforce(sorted(given), 2.0 * float(score) - 1.0,
                                           context=owner)
        if self.memory.learned is not None and good:  # weights that learn (item 6)
            self.memory.learned.learn_bundle(record, good, bad)
        return FeedbackOutcome(bundle_id=record.id, score=score, helpful=good, unhelpful=bad,
                               reinforced=moved)


def _ids(values: Sequence[str], field: str) -> list[str]:
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise InvalidInput(f"{field} must be a list of memory ids", field=field)
    return list(dict.fromkeys(values))


def _checked_history(history: Sequence[Message], max_chars: int) -> tuple[Message, ...]:
    if len(history) > MAX_HISTORY:
        raise InvalidInput(f"at most {MAX_HISTORY} history turns", field="history")
    out = []
    for n, m in enumerate(history):
        if m.role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}",
                               field=f"history[{n}].role")
        text = validate_text(m.content, field=f"history[{n}].content", max_chars=max_chars)
        out.append(Message(m.role, text))
    return tuple(out)


def _memories(hits: Sequence[MemoryHit], relevant: set[str]) -> list[BundleMemory]:
    total = sum(max(h.score, 0.0) for h in hits)
    out = []
    for h in hits:
        m = h.memory
        signals = {k: round(float(v), 6) for k, v in h.signals.items()}
        shares = ({k: round(float(v) / h.score, 6) for k, v in h.signals.items()}
                  if h.score > 0 else {})
        out.append(BundleMemory(
            id=m.uid, text=m.text, score=round(float(h.score), 6),
            weight=round(max(h.score, 0.0) / total, 6) if total > 0 else 0.0,
            signals=signals, shares=shares, relevant=m.uid in relevant,
            created_at=m.created_at, source=m.source,
            tags=list(m.tags), metadata=dict(m.metadata)))
    return out
