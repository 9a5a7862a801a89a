"""Prompt templates over HTTP: /api/prompts — the caller's tenant's templates (list, add a
version, show with every version, move labels, render in the sandbox), A/B tests between two
versions (create, record outcomes, compare with a significance test) and rewrites (variants
judged against the current version, adopted only on a significant win). Another tenant's
template or test is not found (404); a missing variable or a sandbox escape is a 422 naming
it. Logic lives in cerebra.prompts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.errors import Forbidden, NotFound
from cerebra.governance.audit_setup import record_action
from cerebra.prompts.ab import KIND_PATTERN, ABTests
from cerebra.prompts.manager import RESERVED, PromptManager, brain_model
from cerebra.prompts.rewriter import RULES, Judge, PromptRewriter, RuleName
from cerebra.prompts.sandbox import MAX_SOURCE_CHARS
from cerebra.prompts.template_store import (
    LABEL_PATTERN,
    NAME_PATTERN,
    TemplateStore,
    TemplateVersion,
)
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.request_schemas import WHOLE

router = APIRouter(prefix="/api/prompts", tags=["prompts"])

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="1-200 letters, digits, _ . -")]
Label = Annotated[str, Field(pattern=LABEL_PATTERN, description="production, staging, …")]
Version = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True), WHOLE]
VARIABLE = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_VARIABLES_SCHEMA: dict[str, Any] = {
    "type": "object", "patternProperties": {VARIABLE: {}}, "additionalProperties": False,
    "maxProperties": 64,
    # the names the manager sets itself (and mood and tone, options of their own)
    "not": {"anyOf": [{"required": [name]} for name in sorted(RESERVED)]},
}
Variables = Annotated[dict[Annotated[str, Field(pattern=VARIABLE)], Any],
                      Field(max_length=64), WithJsonSchema(_VARIABLES_SCHEMA)]
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,199}$"  # a catalog name
TEST_ID = r"^[0-9a-f]{32}$"
Word = Annotated[str, Field(max_length=64)]


class TemplateIn(BaseModel):
    """A new version of a template (the first version of a name is labelled production)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    source: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS, pattern=r"\S",
                        description="Jinja2 text, rendered in a sandbox")
    labels: list[Label] = Field(default_factory=list, max_length=16)
    note: str = Field(default="", max_length=2000)


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"] = "user"
    text: str = Field(min_length=1, max_length=20_000, pattern=r"\S")


class RenderIn(BaseModel):
    """What to render with: the template's variables and the context it sees (which
    version: the query's version, label or A/B test, else production)."""

    model_config = ConfigDict(extra="forbid")

    variables: Variables = Field(
        default_factory=dict,
        description="the template's variables (agent, history, memories, memory, modifiers, "
                    "previous and steps are the manager's own; mood and tone are options)")
    agent_id: str = Field(default="api", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    session_id: str | None = Field(default=None, min_length=1, max_length=200)
    mood: Word | None = None
    tone: Word | None = None
    history: list[Turn] = Field(default_factory=list, max_length=50)
    memory: bool = Field(default=False, strict=True,
                         description="recall the agent's memories (needs memory:read)")


class ABIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version_a: Version
    version_b: Version
    split: float = Field(default=0.5, gt=0, lt=1, strict=True,
                         description="the share of keys assigned to b")


class OutcomeIn(BaseModel):
    """One outcome for an arm, named or found from the key it was assigned by."""

    model_config = ConfigDict(extra="forbid")

    value: float = Field(ge=-1e6, le=1e6, strict=True,
                         description="feedback (0/1, -1..1) or a judge's score")
    arm: Literal["a", "b"] | None = None
    key: str | None = Field(default=None, min_length=1, max_length=200)
    kind: str = Field(default="feedback", pattern=KIND_PATTERN)


class ModelJudgeIn(BaseModel):
    """A model judges each pair of answers in both orders (disagreement is a tie)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["model"]
    model: str = Field(pattern=MODEL_NAME, description="the judging model")


class RegexJudgeIn(BaseModel):
    """An answer matching `pattern` scores 1."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["regex"]
    pattern: str = Field(min_length=1, max_length=500)


class ContainsJudgeIn(BaseModel):
    """An answer holding `text` as whole words (normalised) scores 1."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["contains"]
    text: str = Field(min_length=1, max_length=500, pattern=r"\S")


JudgeIn = Annotated[ModelJudgeIn | RegexJudgeIn | ContainsJudgeIn, Field(discriminator="kind")]


class RewriteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: list[Variables] = Field(min_length=1, max_length=50,
                                    description="the variables of each evaluation case")
    judge: JudgeIn
    rules: list[RuleName] | None = Field(
        default=None, max_length=len(RULES), description="default: every rule")
    model: str | None = Field(default=None, pattern=MODEL_NAME,
                              description="a model that writes a variant too")
    answer: bool = Field(default=True, strict=True,
                         description="answer each rendered prompt (else judge the prompts)")
    answer_model: str | None = Field(default=None, pattern=MODEL_NAME)
    alpha: float = Field(default=0.05, gt=0, lt=1, strict=True)
    label: Label = "production"


def _store(brain: Brain) -> TemplateStore:
    return TemplateStore(brain.engine)


def _found(scope: Scope, *more: Scope) -> Any:
    """A dependency: the caller (holding the scopes) and the template of the path, loaded
    before the body is read, so an unknown name is a 404 whatever the body."""
    async def dependency(
        name: Annotated[str, Path(pattern=NAME_PATTERN)],
        ctx: RequestContext = Depends(requires(scope, *more)),
        brain: Brain = Depends(get_brain),
    ) -> tuple[RequestContext, TemplateVersion]:
        return ctx, await asyncio.to_thread(_store(brain).get, name, context=ctx)

    return dependency


_READ = _found(Scope.PROMPTS_READ)
_WRITE = _found(Scope.PROMPTS_WRITE)
_REWRITE = _found(Scope.PROMPTS_WRITE, Scope.QUERY)


@router.get("")
async def list_templates(
    ctx: RequestContext = Depends(requires(Scope.PROMPTS_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    return {"templates": await asyncio.to_thread(_store(brain).list, context=ctx)}


@router.post("", status_code=201)
async def add_version(
    body: TemplateIn,
    ctx: RequestContext = Depends(requires(Scope.PROMPTS_WRITE)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    added = await asyncio.to_thread(_store(brain).add, body.name, body.source,
                                    labels=body.labels, note=body.note, context=ctx)
    record_action(brain.audit, ctx, "prompt.add", f"{added.name}@{added.version}",
                  details={"labels": list(added.labels)})
    return added.to_dict()


@router.get("/{name}")
async def show_template(
    found: tuple[RequestContext, TemplateVersion] = Depends(_READ),
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    label: Annotated[str | None, Query(pattern=LABEL_PATTERN)] = None,
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, current = found
    store = _store(brain)
    if version is not None or label is not None:
        current = await asyncio.to_thread(store.get, current.name, version=version,
                                          label=label, context=ctx)
    versions = await asyncio.to_thread(store.versions, current.name, context=ctx)
    return {**current.to_dict(),
            "labels_all": await asyncio.to_thread(store.labels, current.name, context=ctx),
            "versions": [{k: v for k, v in item.to_dict().items() if k != "source"}
                         for item in versions]}


@router.put("/{name}/labels/{label}")
async def set_label(
    label: Annotated[str, Path(pattern=LABEL_PATTERN)],
    body: LabelIn,
    found: tuple[RequestContext, TemplateVersion] = Depends(_WRITE),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, current = found
    moved = await asyncio.to_thread(_store(brain).set_label, current.name, label,
                                    body.version, context=ctx)
    record_action(brain.audit, ctx, "prompt.label", f"{moved.name}@{moved.version}",
                  details={"label": label})
    return moved.to_dict()


@router.delete("/{name}/labels/{label}")
async def remove_label(
    label: Annotated[str, Path(pattern=LABEL_PATTERN)],
    found: tuple[RequestContext, TemplateVersion] = Depends(_WRITE),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, current = found
    await asyncio.to_thread(_store(brain).remove_label, current.name, label, context=ctx)
    record_action(brain.audit, ctx, "prompt.unlabel", current.name, details={"label": label})
    return {"name": current.name, "label": label, "removed": True}


@dataclass(frozen=True)
class Pick:
    """Which version to render: a number, a label (both: the version, carrying the label),
    an A/B test's arm for a key (over both), else production."""

    version: int | None = None
    label: str | None = None
    ab_test: str | None = None
    key: str | None = None


def _pick(
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    label: Annotated[str | None, Query(pattern=LABEL_PATTERN)] = None,
    ab_test: Annotated[str | None, Query(
        pattern=TEST_ID, description="render the arm `key` is assigned to")] = None,
    key: Annotated[str | None, Query(
        min_length=1, max_length=200,
        description="the A/B key: default the session, else the agent")] = None,
) -> Pick:
    return Pick(version, label, ab_test, key)


def _render(brain: Brain, ctx: RequestContext, name: str, body: RenderIn,
            pick: Pick) -> dict[str, Any]:
    if body.memory and Scope.MEMORY_READ not in ctx.scopes:
        raise Forbidden("memory context needs the scope 'memory:read'", field="memory",
                        required_scope=Scope.MEMORY_READ.value)
    store = _store(brain)
    version, label, arm = pick.version, pick.label, None
    if pick.ab_test is not None:
        tests = ABTests(brain.engine, store)
        if tests.get(pick.ab_test, context=ctx).name != name:
            raise NotFound(f"A/B test {pick.ab_test!r} is not a test of {name!r}",
                           field="ab_test")
        key = pick.key or body.session_id or body.agent_id
        arm, version = tests.assign(pick.ab_test, key, context=ctx)
        label = None
    manager = PromptManager(templates=store, store=brain.memory if body.memory else None,
                            context=ctx)
    for turn in body.history:
        manager.add_history(body.agent_id, turn.text, role=turn.role,
                            session_id=body.session_id)
    resolved = manager.resolve(name, version=version, label=label)
    text = manager.render(body.agent_id, name, version=resolved.version.version
                          if resolved.version else None, mood=body.mood, tone=body.tone,
                          session_id=body.session_id, variables=body.variables)
    return {"name": name, "version": resolved.version.version if resolved.version else None,
            "arm": arm, "text": text}


@router.post("/{name}/render")
async def render_template(
    body: RenderIn,
    found: tuple[RequestContext, TemplateVersion] = Depends(_READ),
    pick: Pick = Depends(_pick),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, current = found
    return await asyncio.to_thread(_render, brain, ctx, current.name, body, pick)


@router.post("/{name}/ab", status_code=201)
async def create_ab_test(
    body: ABIn,
    found: tuple[RequestContext, TemplateVersion] = Depends(_WRITE),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, current = found
    test = await asyncio.to_thread(ABTests(brain.engine).create, current.name, body.version_a,
                                   body.version_b, split=body.split, context=ctx)
    record_action(brain.audit, ctx, "prompt.ab.create", test.id, details=test.to_dict())
    return test.to_dict()


@router.get("/{name}/ab")
async def list_ab_tests(
    found: tuple[RequestContext, TemplateVersion] = Depends(_READ),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, current = found
    tests = await asyncio.to_thread(ABTests(brain.engine).list, current.name, context=ctx)
    return {"tests": [t.to_dict() for t in tests]}


def _test_of(brain: Brain, ctx: RequestContext, name: str, test_id: str) -> ABTests:
    tests = ABTests(brain.engine)
    if tests.get(test_id, context=ctx).name != name:
        raise NotFound(f"A/B test {test_id!r} is not a test of {name!r}", field="test_id")
    return tests


@router.post("/{name}/ab/{test_id}/outcomes", status_code=201)
async def record_outcome(
    test_id: Annotated[str, Path(pattern=TEST_ID)],
    body: OutcomeIn,
    found: tuple[RequestContext, TemplateVersion] = Depends(_WRITE),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, current = found

    def record() -> str:
        tests = _test_of(brain, ctx, current.name, test_id)
        return tests.record(test_id, body.value, arm=body.arm, key=body.key or "",
                            kind=body.kind, context=ctx)

    arm = await asyncio.to_thread(record)
    return {"test_id": test_id, "arm": arm, "value": body.value, "kind": body.kind}


@router.get("/{name}/ab/{test_id}")
async def compare_ab_test(
    test_id: Annotated[str, Path(pattern=TEST_ID)],
    kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
    found: tuple[RequestContext, TemplateVersion] = Depends(_READ),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, current = found

    def compare() -> dict[str, Any]:
        tests = _test_of(brain, ctx, current.name, test_id)
        result = tests.compare(test_id, kind=kind, alpha=alpha, context=ctx)
        return {**tests.get(test_id, context=ctx).to_dict(), "comparison": result.to_dict()}

    return await asyncio.to_thread(compare)


def _judge(brain: Brain, ctx: RequestContext,
           spec: ModelJudgeIn | RegexJudgeIn | ContainsJudgeIn) -> Judge:
    from cerebra.judging.checker import Check, CheckerJudge

    if isinstance(spec, ModelJudgeIn):
        from cerebra.judging.model_judge import ModelJudge

        return ModelJudge(spec.model, brain=brain, context=ctx)
    if isinstance(spec, RegexJudgeIn):
        return CheckerJudge(Check.regex(spec.pattern))
    return CheckerJudge(Check.normalized(spec.text, contains=True))


@router.post("/{name}/rewrite")
async def rewrite_template(
    body: RewriteIn,
    found: tuple[RequestContext, TemplateVersion] = Depends(_REWRITE),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    ctx, current = found

    def rewrite() -> dict[str, Any]:
        rewriter = PromptRewriter(
            _store(brain), judge=_judge(brain, ctx, body.judge),
            model=None if body.model is None else brain_model(brain, context=ctx,
                                                              model=body.model),
            model_name=body.model or "model",
            answer=brain_model(brain, context=ctx, model=body.answer_model)
            if body.answer else None)
        return rewriter.rewrite(current.name, body.inputs, rules=body.rules, label=body.label,
                                alpha=body.alpha, context=ctx).to_dict()

    report = await asyncio.to_thread(rewrite)
    record_action(brain.audit, ctx, "prompt.rewrite", current.name,
                  details={"adopted": report["adopted"], "label": body.label})
    return report
