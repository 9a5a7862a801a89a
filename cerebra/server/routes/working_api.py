"""Working memory over HTTP, under /api/working: a session's recent turns and scratch notes.

A session is the caller's own: its tenant, and the user and agent it names (a confined
credential acts as its own user and agent, like the memory API), so another tenant's or
another user's session is simply not found (404). Notes are added with the session in the
body (a new session starts with its first note or turn); reads and deletions name it in the
path. A note that rolls over is stored as a long-term memory; its id comes back in
`flushed`. Redis unreachable (working memory in Redis): 503.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.errors import NotFound
from cerebra.memory.working import SessionKey, WorkingItem
from cerebra.memory.working_session import KIND_NAMES
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.openapi_doc import error_response

router = APIRouter(prefix="/api/working", tags=["working memory"])

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: error_response(503, "the working-memory store (Redis) cannot be reached")}
SessionId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
Name = Annotated[str, Field(max_length=200)]
USER = Query(default="", max_length=200, description="whose session (default: the caller's)")
AGENT = Query(default="", max_length=200, description="the agent of the session")
SESSION = Path(max_length=200, description="the session id")


class NoteIn(BaseModel):
    session_id: SessionId
    text: str = Field(min_length=1, max_length=20_000, pattern=r"\S",
                      description="not blank; at most memory.max_chars (20,000)")
    user_id: Name = ""
    agent_id: Name = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


def _item(item: WorkingItem) -> dict[str, Any]:
    out = item.to_dict()
    out.pop("prompt", None)  # the turn's text already holds it
    return out


def _key(brain: Brain, ctx: RequestContext, session_id: str, user_id: str,
         agent_id: str) -> SessionKey:
    return brain.working.key(ctx, session_id, user_id=user_id, agent_id=agent_id)


def _missing(session_id: str) -> NotFound:
    return NotFound(f"no working memory for session {session_id}", field="session_id")


@router.post("/notes", status_code=201, responses=UNAVAILABLE)
async def add_note(
    body: NoteIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    """Add a scratch note to a session; `flushed`: ids of long-term memories that notes
    rolling over the ring became."""
    key = _key(brain, ctx, body.session_id, body.user_id, body.agent_id)
    note, flushed = await asyncio.to_thread(
        brain.working.add_note, key, body.text, metadata=body.metadata)
    return {"note": _item(note), "flushed": flushed}


@router.get("/{session_id}", responses=UNAVAILABLE)
async def show_session(
    session_id: str = SESSION,
    user_id: str = USER,
    agent_id: str = AGENT,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_READ)),
) -> dict[str, Any]:
    """The session's turns and notes, oldest first."""
    key = _key(brain, ctx, session_id, user_id, agent_id)
    state = await asyncio.to_thread(brain.working.state, key)
    if not state:
        raise _missing(session_id)
    return {"session_id": session_id, "turns": [_item(t) for t in state.turns],
            "notes": [_item(n) for n in state.notes]}


@router.delete("/{session_id}", responses=UNAVAILABLE)
async def clear_session(
    session_id: str = SESSION,
    kind: Literal["all", "turns", "notes"] = Query(default="all"),
    flush: bool = Query(default=False, description="store what is cleared in long-term "
                        "memory first (notes; turns are there already)"),
    user_id: str = USER,
    agent_id: str = AGENT,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    """Empty the session's turns, notes or both."""
    key = _key(brain, ctx, session_id, user_id, agent_id)
    cleared, flushed = await asyncio.to_thread(
        brain.working.clear, key, KIND_NAMES[kind], flush=flush)
    if not cleared:
        raise NotFound(f"no working memory ({kind}) for session {session_id}",
                       field="session_id")
    return {"cleared": len(cleared), "flushed": flushed}


@router.delete("/{session_id}/notes/{note_id}", responses=UNAVAILABLE)
async def delete_note(
    session_id: str = SESSION,
    note_id: str = Path(max_length=64),
    user_id: str = USER,
    agent_id: str = AGENT,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    key = _key(brain, ctx, session_id, user_id, agent_id)
    removed = await asyncio.to_thread(brain.working.remove_note, key, note_id)
    if removed is None:
        raise NotFound(f"note {note_id} not found in session {session_id}", field="note_id")
    return {"deleted": note_id}
