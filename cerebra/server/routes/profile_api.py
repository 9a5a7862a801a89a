"""User profiles over HTTP: GET / PATCH / DELETE /api/users/{user_id}/profile.

A profile is what memory knows of a user (cerebra.memory.profile): the current value of
each attribute they stated, with the memories it came from, its confidence and when it was
stated. A user key reads and edits its own user's profile only (another user: 403); admins
and operators (memory:any_user) any user's of their tenant; a user the tenant does not know
(another tenant's) is 404. A backend that keeps no facts (TinyDB) has no profiles: 409.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.governance.audit_setup import record_action
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api/users", tags=["profiles"])

USER = Path(min_length=1, max_length=200, pattern=r"\S", description="whose profile")
AGENT = Query(default=None, max_length=200,
              description="as this agent knows the user (default: across their agents)")
Value = Annotated[str, Field(min_length=1, max_length=400, pattern=r"\S")]
Thing = Annotated[str, Field(min_length=1, max_length=80, pattern=r"\S")]


def _things(values: dict[str, Any]) -> WithJsonSchema:
    """The schema of a thing → value map: every key (not blank, ≤ 80) maps to `values`."""
    return WithJsonSchema({"type": "object", "maxProperties": 50, "additionalProperties": values,
                           "propertyNames": {"minLength": 1, "maxLength": 80, "pattern": r"\S"}})


_FLAG = {"anyOf": [{"type": "boolean"}, {"type": "null"}]}
Flags = Annotated[dict[Thing, bool | None], Field(max_length=50), _things(_FLAG)]
Values = Annotated[dict[Thing, Value | None], Field(max_length=50), _things(
    {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 400, "pattern": r"\S"},
               {"type": "null"}]})]


class ProfilePatch(BaseModel):
    """Attributes to set (a value) or remove (null); any other field is refused (422).
    likes / owns map a thing to true, false (does not like / no longer has) or null."""

    model_config = ConfigDict(extra="forbid")

    lives_in: Value | None = None
    employer: Value | None = None
    job: Value | None = None
    diet: Value | None = None
    relationship: Value | None = None
    age: Value | None = None
    likes: Flags | None = None
    owns: Flags | None = None
    favourite: Values | None = None

    def changes(self) -> dict[str, str | None]:
        """Flat attribute changes ("lives_in", "likes:tea", ...): None removes."""
        out: dict[str, str | None] = {}
        for name in sorted(self.model_fields_set):
            value = getattr(self, name)
            if name in ("likes", "owns"):
                for thing, flag in (value or {}).items():
                    out[f"{name}:{thing}"] = None if flag is None else ("yes" if flag else "no")
            elif name == "favourite":
                out.update({f"favourite:{thing}": v for thing, v in (value or {}).items()})
            else:
                out[name] = value
        return out


@router.get("/{user_id}/profile")
async def show_profile(
    user_id: str = USER,
    agent_id: str | None = AGENT,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_READ)),
) -> dict[str, Any]:
    """The user's profile: attributes most confident first, each with its memories."""
    profile = await asyncio.to_thread(brain.profiles.read, user_id, agent_id=agent_id,
                                      context=ctx)
    return profile.to_dict()


@router.patch("/{user_id}/profile")
async def edit_profile(
    body: ProfilePatch,
    user_id: str = USER,
    agent_id: str | None = AGENT,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    """Set or remove attributes. Each change is stored as a memory stating it (provenance
    "profile edit") that supersedes the older value; a removed attribute is hidden until
    the user states it again. A patch that changes nothing answers the profile as it is."""
    changes = body.changes()
    if not changes:
        return await show_profile(user_id, agent_id, brain, ctx)
    profile = await asyncio.to_thread(brain.profiles.patch, user_id, changes,
                                      agent_id=agent_id, context=ctx)
    return profile.to_dict()


@router.delete("/{user_id}/profile")
async def forget_profile(
    user_id: str = USER,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    """The right to be forgotten: deletes the profile AND every memory any of its facts
    came from (in every agent; superseded values and profile edits included) — text,
    vectors, full text and history. Audited as a memory deletion."""
    deleted = await asyncio.to_thread(brain.profiles.forget, user_id, context=ctx)
    record_action(brain.audit, ctx, "memory.delete", f"profile:{user_id}", details={
        "reason": "profile forgotten", "user_id": user_id, "deleted": len(deleted),
        "memory_ids": deleted})
    return {"user_id": user_id, "deleted": len(deleted), "memory_ids": deleted}
