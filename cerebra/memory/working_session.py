"""Workspace: working memory as the Brain, the HTTP API and the CLI use it — whose session a
call acts on, scratch notes, flushing what rolls over into long-term memory, and the block
of recent turns and notes put into the prompt.

Flushing. Brain stores every exchange as a long-term memory the moment it is answered (its
id travels on the turn as `memory_id`), so a turn that rolls over is already remembered:
storing it again would duplicate it, and flushing it stores nothing. A turn without a
long-term copy (pushed through `record_turn` with no `memory_id`) is stored as an exchange
when it rolls over. Scratch notes exist only here: a note that rolls over is stored as a
long-term memory (source "working", tag "note", the session's scope), so nothing an agent
noted is lost to the ring's bound. `clear` discards unless asked to flush; a session that
expires (its TTL) is discarded — scratch is scratch.

Injection. Of the memory token budget, working memory takes at most `share` (notes first,
then the newest turns the conversation does not already carry, shown oldest first; an item
too long for the room left is cut to its first words);
long-term memories get the rest, plus whatever working memory left unused, and a recalled
memory that is one of the injected turns is not repeated. `WorkingRecall.fit` then drops
turns (oldest first), then notes, until the whole prompt plus the answer's max_tokens fits
the model's context: working memory never pushes a prompt past it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cerebra.context import RequestContext
from cerebra.errors import InvalidInput
from cerebra.ids import new_id
from cerebra.memory.base import MemoryHit
from cerebra.memory.validation import metadata_value, validate_text
from cerebra.memory.working import (
    KINDS,
    InProcessWorkingMemory,
    Kind,
    SessionKey,
    SessionState,
    WorkingItem,
    WorkingMemory,
    WorkingMemoryUnavailable,
)
from cerebra.models.base import Message
from cerebra.models.prompt_format import render_transcript
from cerebra.prompts.renderer import render_conversation

if TYPE_CHECKING:
    from cerebra.config import Settings
    from cerebra.exchange import Query
    from cerebra.memory.store import MemoryStore
    from cerebra.models.base import ModelBackend

log = logging.getLogger("cerebra.memory.working")

KIND_NAMES: dict[str, tuple[Kind, ...]] = {"all": KINDS, "turns": ("turn",), "notes": ("note",)}
MIN_CLIP_TOKENS = 24  # a turn too long for the room left is cut to its head, if this fits
HEADER = "Working memory of this session (most recent last):"
NOTE_TAG = "note"


def _line(item: WorkingItem) -> str:
    text = " ".join(item.text.split())
    return f"- note: {text}" if item.kind == "note" else f"- turn: {text}"


def _clip(item: WorkingItem, room: int, count_tokens: Callable[[str], int]
          ) -> WorkingItem | None:
    """`item` cut to its first words so that its line costs at most `room` tokens; None
    when fewer than MIN_CLIP_TOKENS are left (a stub says nothing)."""
    if room < MIN_CLIP_TOKENS:
        return None
    words = item.text.split()
    keep = len(words) * room // max(1, count_tokens(_line(item)))
    while keep > 0:
        cut = replace(item, text=" ".join(words[:keep]) + " …")
        if count_tokens(_line(cut)) <= room:
            return cut
        keep = min(keep - 1, keep * 9 // 10)
    return None


def render_block(items: Sequence[WorkingItem]) -> str:
    """The working-memory block: notes, then turns, each group oldest first."""
    if not items:
        return ""
    ordered = sorted(items, key=lambda i: (i.kind != "note", i.created_at))
    return "\n".join([HEADER, *(_line(i) for i in ordered)])


def merge_block(messages: Sequence[Message], block: str) -> tuple[Message, ...]:
    """`block` joins the first system message (or a new one in front)."""
    turns = list(messages)
    if not block:
        return tuple(turns)
    if turns and turns[0].role == "system" and isinstance(turns[0].content, str):
        turns[0] = Message("system", f"{turns[0].content}\n\n{block}".strip())
    else:
        turns.insert(0, Message("system", block))
    return tuple(turns)


@dataclass(frozen=True)
class WorkingRecall:
    """What working memory puts into one prompt: its items, the long-term hits left after
    removing the injected turns' copies, and the budget left for those hits."""

    items: tuple[WorkingItem, ...]
    hits: list[MemoryHit]
    budget_left: int

    def fit(self, messages: Sequence[Message], *, count_tokens: Callable[[str], int],
            max_context: int, max_tokens: int
            ) -> tuple[tuple[Message, ...], tuple[WorkingItem, ...]]:
        """`messages` with the block merged in, dropping items until prompt + max_tokens fit
        `max_context`; (messages, items injected)."""
        kept = sorted(self.items, key=lambda i: (i.kind == "note", i.created_at))  # drop order
        while kept:
            merged = merge_block(messages, render_block(kept))
            if count_tokens(render_transcript(merged)) + max_tokens <= max_context:
                return merged, tuple(kept)
            kept.pop(0)
        return tuple(messages), ()


class Workspace:
    """Working memory over a `WorkingMemory` store, flushing into a MemoryStore."""

    def __init__(self, memory: WorkingMemory, store: MemoryStore, *, share: float = 0.5) -> None:
        self.memory = memory
        self.store = store
        self.share = share

    # -- whose session ----------------------------------------------------------------------
    @staticmethod
    def key(context: RequestContext, session_id: str | None = None, *,
            user_id: str | None = None, agent_id: str | None = None) -> SessionKey:
        """The session a call acts on: the context's, refined by explicit ids (a confined
        principal naming another user or agent is refused by the context itself)."""
        changes = {k: v for k, v in (("session_id", session_id), ("user_id", user_id),
                                     ("agent_id", agent_id)) if v is not None}
        for name, value in changes.items():
            if len(value) > 200:
                raise InvalidInput(f"{name} must be at most 200 characters", field=name)
        return SessionKey.of(context.with_(**changes) if changes else context)

    # -- writes -----------------------------------------------------------------------------
    def remember(self, context: RequestContext, prompt: str, answer: str, *,
                 memory_id: str | None, trace_id: str | None = None) -> None:
        """Brain's write after an answer: the exchange joins its session's turns (a store
        that cannot be reached is logged, never fails the answered request)."""
        try:
            self.record_turn(SessionKey.of(context), prompt, answer, memory_id=memory_id,
                             trace_id=trace_id)
        except WorkingMemoryUnavailable as exc:
            log.warning("turn not kept in working memory: %s", exc.message)

    def record_turn(self, key: SessionKey, prompt: str, answer: str, *,
                    memory_id: str | None, trace_id: str | None = None) -> list[WorkingItem]:
        """Push one exchange; returns the turns that fell off (flushed already)."""
        if not key.session_id:
            return []
        item = WorkingItem(
            id=new_id(), kind="turn", text=f"User: {prompt.strip()}\nAssistant: {answer.strip()}",
            created_at=time.time(), memory_id=memory_id, prompt=prompt.strip(),
            metadata={"trace_id": trace_id} if trace_id else {})
        fallen = self.memory.push(key, item)
        self.flush(key, fallen)
        return fallen

    def add_note(self, key: SessionKey, text: Any, *,
                 metadata: dict[str, Any] | None = None) -> tuple[WorkingItem, list[str]]:
        """Add a scratch note; returns it and the ids of long-term memories that notes
        rolling over became."""
        if not key.session_id:
            raise InvalidInput("a note needs a session id", field="session_id")
        clean = validate_text(text, field="text", max_chars=self.store.max_chars)
        item = WorkingItem(id=new_id(), kind="note", text=clean, created_at=time.time(),
                           metadata=metadata_value(metadata))
        return item, self.flush(key, self.memory.push(key, item))

    def remove_note(self, key: SessionKey, note_id: str) -> WorkingItem | None:
        """Delete one note (it is not flushed); None when the session has no such note."""
        return self.memory.remove(key, "note", note_id)

    def clear(self, key: SessionKey, kinds: tuple[Kind, ...] = KINDS, *,
              flush: bool = False) -> tuple[list[WorkingItem], list[str]]:
        """Empty the session's rings of `kinds`; with `flush`, what they held goes to
        long-term memory first (as on rollover). Returns (cleared items, stored ids)."""
        cleared = self.memory.clear(key, kinds)
        return cleared, self.flush(key, cleared) if flush else []

    def flush(self, key: SessionKey, items: Sequence[WorkingItem]) -> list[str]:
        """Store what leaves working memory and is not in long-term memory yet (notes, and
        turns without a `memory_id`); returns the stored memories' ids."""
        owner = RequestContext(tenant_id=key.tenant_id)  # the scope is named explicitly
        stored: list[str] = []
        for item in items:
            if item.kind == "turn" and item.memory_id:
                continue  # Brain stored the exchange when it was answered
            note = item.kind == "note"
            stored.append(self.store.add(
                key.agent_id, item.text, user_id=key.user_id, session_id=key.session_id,
                tags=[NOTE_TAG] if note else ["exchange"],
                source="working" if note else "exchange", created_at=item.created_at,
                metadata={"session": key.session_id, "working_id": item.id, **item.metadata},
                context=owner))
        return stored

    # -- reads ------------------------------------------------------------------------------
    def state(self, key: SessionKey) -> SessionState:
        return self.memory.state(key)

    def recall(self, key: SessionKey, conversation: Sequence[Message], hits: Sequence[MemoryHit],
               *, count_tokens: Callable[[str], int], token_budget: int) -> WorkingRecall | None:
        """The items to inject for this session within `share` of `token_budget`; None when
        the request has no session or it holds nothing."""
        if not key.session_id or token_budget <= 0:
            return None
        try:
            state = self.memory.state(key)
        except WorkingMemoryUnavailable as exc:  # answer without it rather than fail
            log.warning("working memory skipped: %s", exc.message)
            return None
        if not state:
            return None
        said = {m.content.strip() for m in conversation
                if m.role == "user" and isinstance(m.content, str)}
        cap = int(token_budget * self.share)
        used = count_tokens(HEADER)
        chosen: list[WorkingItem] = []
        candidates = [*reversed(state.notes),
                      *(t for t in reversed(state.turns) if (t.prompt or "") not in said)]
        clipped: set[str] = set()
        for item in candidates:  # notes newest first, then turns newest first
            cost = count_tokens(_line(item))
            if used + cost > cap:  # too long for what is left: its head, if that says enough
                cut = _clip(item, cap - used, count_tokens)
                if cut is None:
                    continue
                item, cost = cut, count_tokens(_line(cut))
                clipped.add(item.id)
            chosen.append(item)
            used += cost
        if not chosen:
            return None
        # a turn shown whole need not be recalled again; a clipped one may (all of it)
        copies = {i.memory_id for i in chosen if i.memory_id and i.id not in clipped}
        return WorkingRecall(tuple(chosen), [h for h in hits if h.memory.uid not in copies],
                             max(0, token_budget - used))

    def render(self, query: Query, conversation: Sequence[Message], hits: Sequence[MemoryHit],
               backend: ModelBackend, *, token_budget: int, max_tokens: int
               ) -> tuple[tuple[Message, ...], tuple[MemoryHit, ...]]:
        """Brain's prompt: the system block (persona, the long-term memories that fit) with
        the session's working memory, within the budget and the model's context; returns
        the messages and the long-term hits injected."""
        working = None
        if query.memory and not query.raw:
            working = self.recall(SessionKey.of(query.context), conversation, hits,
                                  count_tokens=backend.count_tokens, token_budget=token_budget)
        if query.raw or (query.persona is None and not hits and working is None):
            return tuple(conversation), ()  # pure pass-through
        if working is not None:
            hits, token_budget = working.hits, working.budget_left
        rendered = render_conversation(conversation, hits, count_tokens=backend.count_tokens,
                                       token_budget=token_budget, persona=query.persona)
        if working is None:
            return rendered.messages, rendered.injected
        messages, _ = working.fit(rendered.messages, count_tokens=backend.count_tokens,
                                  max_context=backend.capabilities.max_context,
                                  max_tokens=max_tokens)
        return messages, rendered.injected

    def close(self) -> None:
        self.memory.close()


def build_workspace(settings: Settings, store: MemoryStore) -> Workspace:
    """The configured working memory: Redis when `memory.working_backend` is redis (or auto
    with `redis.url` set), else in this process."""
    m = settings.memory
    backend = m.working_backend
    if backend == "auto":
        backend = "redis" if settings.redis.url else "process"
    memory: WorkingMemory
    if backend == "redis":
        if not settings.redis.url:
            raise ValueError("CEREBRA_MEMORY__WORKING_BACKEND=redis needs CEREBRA_REDIS__URL")
        from cerebra.memory.working_redis import RedisWorkingMemory

        memory = RedisWorkingMemory(settings.redis.url, turns=m.working_turns,
                                    notes=m.working_notes, ttl_s=m.working_ttl_s)
    else:
        memory = InProcessWorkingMemory(turns=m.working_turns, notes=m.working_notes,
                                        ttl_s=m.working_ttl_s)
    return Workspace(memory, store, share=m.working_share)
