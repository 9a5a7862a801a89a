"""AgentRegistry: a tenant's agents in the database — created with a generated persona, their
records and the titles those earn (see careers), their lineage (mentor, clone, combine) —
and answers given as an agent (through Brain, see answering).

The stable interface other parts build on (judging, missions, teams):
`ensure(id, traits)`, `get(id)`, `list()`, `record(id, outcome, reason=...)` (outcome True /
False or a score in [0, 1]), `sandbox(id, reason)`, `release(id, reason)`, `history(id)`.
Every query is scoped by the registry's context's tenant: another tenant's agent is unknown
(404), never visible.
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from cerebra.agents.careers import (
    NOVICE,
    SANDBOXED,
    TITLES,
    Thresholds,
    next_title,
    wilson,
)
from cerebra.agents.model import Agent, TitleChange, UnknownAgent
from cerebra.agents.persona import generate, merge_traits, normalise_traits
from cerebra.context import DEFAULT_CONTEXT, RequestContext
from cerebra.db.schema import agent_title_history, agents
from cerebra.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from cerebra.agents.answering import TemplateRenderer
    from cerebra.brain import Brain
    from cerebra.config import Settings
    from cerebra.exchange import Answer

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_ID = re.compile(ID_PATTERN[1:-1])
MAX_MODELS = 8
MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$"  # the catalog's names
_MODEL_NAME = re.compile(MODEL_PATTERN[1:-1])
TEMPLATE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$"  # a template's name
_TEMPLATE = re.compile(TEMPLATE_PATTERN[1:-1])


def check_id(value: object, field: str = "id") -> str:
    """An agent id: a letter or digit, then letters, digits, `_`, `.` or `-`; 64 at most."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInput(
            f"{field} must be 1-64 letters, digits, '_', '.' or '-', starting with a letter "
            "or digit", field=field)
    return value


def _models(values: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(values))
    if len(out) > MAX_MODELS or not all(isinstance(v, str) and _MODEL_NAME.fullmatch(v)
                                        for v in out):
        raise InvalidInput(f"preferred_models: at most {MAX_MODELS} model names",
                           field="preferred_models")
    return out


def _score(outcome: object) -> float:
    """True/False or a number in [0, 1]; anything else is refused."""
    if isinstance(outcome, bool):
        return 1.0 if outcome else 0.0
    if isinstance(outcome, int | float) and 0.0 <= float(outcome) <= 1.0:
        return float(outcome)
    raise InvalidInput("an outcome is true, false or a score between 0 and 1", field="outcome")


class AgentRegistry:
    """The agents of one tenant (the context's). `AgentRegistry()` uses the configured
    database (migrated on first use); pass `engine=` for another and `context=` for the
    tenant and caller."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        context: RequestContext | None = None,
        settings: Settings | None = None,
        templates: TemplateRenderer | None = None,
    ) -> None:
        if settings is None:
            from cerebra.config import get_settings

            settings = get_settings()
        if engine is None:
            from cerebra.db.migrate import run_migrations

            engine = run_migrations()
        self.engine = engine
        self.context = context or DEFAULT_CONTEXT
        self.rules = Thresholds.from_settings(settings.agents)
        self.templates = templates  # renders an agent's template (the PromptManager)

    @property
    def tenant_id(self) -> str:
        return self.context.tenant_id

    def _where(self, agent_id: str) -> Any:
        return (agents.c.tenant_id == self.tenant_id) & (agents.c.id == agent_id)

    def _agent(self, row: Row[Any]) -> Agent:
        lower, upper = wilson(row.score_sum, row.n, self.rules.z)
        return Agent(
            id=row.id, tenant_id=row.tenant_id, system_prompt=row.system_prompt,
            mood=row.mood, tone=row.tone, traits=tuple(row.traits), title=row.title,
            n=row.n, successes=row.successes, score_sum=row.score_sum,
            score_sq=row.score_sq, sandboxed=bool(row.sandboxed), mentor_id=row.mentor_id,
            parents=tuple(row.parents), memory_scope=row.memory_scope,
            preferred_models=tuple(row.preferred_models), template=row.template,
            created_at=row.created_at, updated_at=row.updated_at,
            lower_bound=lower, upper_bound=upper,
        )

    def _row(self, conn: Connection, agent_id: str) -> Row[Any]:
        row = conn.execute(select(agents).where(self._where(agent_id))).first()
        if row is None:
            raise UnknownAgent(f"unknown agent {agent_id!r}", field="agent_id")
        return row

    # -- reading --------------------------------------------------------------------------
    def get(self, agent_id: str) -> Agent:
        """The agent (UnknownAgent, a 404, when the tenant has none by that id)."""
        with self.engine.connect() as conn:
            return self._agent(self._row(conn, agent_id))

    def exists(self, agent_id: str) -> bool:
        with self.engine.connect() as conn:
            query = select(agents.c.id).where(self._where(agent_id))
            return conn.execute(query).first() is not None

    def list(self, *, title: str | None = None, limit: int = 1000) -> list[Agent]:
        """The tenant's agents by id (only those with `title`, when given)."""
        query = select(agents).where(agents.c.tenant_id == self.tenant_id)
        if title is not None:
            if title not in TITLES:
                raise InvalidInput(f"title is one of {', '.join(TITLES)}", field="title")
            query = query.where(agents.c.title == title)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(agents.c.id).limit(limit)).all()
        return [self._agent(r) for r in rows]

    def history(self, agent_id: str) -> builtins.list[TitleChange]:
        """The agent's title changes, oldest first (its creation is the first)."""
        h = agent_title_history
        with self.engine.connect() as conn:
            self._row(conn, agent_id)
            rows = conn.execute(select(h).where(
                (h.c.tenant_id == self.tenant_id) & (h.c.agent_id == agent_id)
            ).order_by(h.c.id)).all()
        return [TitleChange(r.from_title, r.to_title, r.reason, r.at) for r in rows]

    # -- creating -------------------------------------------------------------------------
    def create(
        self,
        agent_id: str,
        traits: Iterable[str] = (),
        *,
        preferred_models: Sequence[str] = (),
        template: str | None = None,
        memory_scope: str | None = None,
        mentor_id: str | None = None,
        parents: Sequence[str] = (),
        persona_of: Agent | None = None,
        reason: str = "created",
    ) -> Agent:
        """A new agent with a persona generated from `traits` (or `persona_of`'s, inherited);
        Conflict (409) when the tenant has one by that id already."""
        check_id(agent_id)
        clean = normalise_traits(traits)
        if template is not None and not _TEMPLATE.fullmatch(template):
            raise InvalidInput("template: a name of 1 to 200 letters, digits, _ . : / -",
                               field="template")
        persona = generate(agent_id, clean)
        prompt, mood, tone = persona.system_prompt, persona.mood, persona.tone
        if persona_of is not None:
            prompt, mood, tone = persona_of.system_prompt, persona_of.mood, persona_of.tone
        now = time.time()
        values = {
            "tenant_id": self.tenant_id, "id": agent_id, "system_prompt": prompt,
            "mood": mood, "tone": tone, "traits": list(clean), "title": NOVICE,
            "n": 0, "successes": 0, "score_sum": 0.0, "score_sq": 0.0, "sandboxed": False,
            "mentor_id": mentor_id, "parents": list(parents),
            "memory_scope": check_id(memory_scope or agent_id, "memory_scope"),
            "preferred_models": list(_models(preferred_models)), "template": template,
            "created_at": now, "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(agents).values(**values))
                self._log(conn, agent_id, None, NOVICE, reason, now)
                return self._agent(self._row(conn, agent_id))
        except IntegrityError:
            raise Conflict(f"agent {agent_id!r} exists already", field="id") from None

    def ensure(self, agent_id: str, traits: Iterable[str] = (), **options: Any) -> Agent:
        """The agent `agent_id`: created with a persona from `traits` when the tenant has
        none by that id, else the existing one unchanged."""
        check_id(agent_id)
        with self.engine.connect() as conn:
            row = conn.execute(select(agents).where(self._where(agent_id))).first()
        if row is not None:
            return self._agent(row)
        try:
            return self.create(agent_id, traits, **options)
        except Conflict:  # created meanwhile by someone else
            return self.get(agent_id)

    def mentor(self, mentor_id: str, mentee_id: str) -> Agent:
        """`mentor_id` mentors `mentee_id`; a mentee that does not exist yet is created with
        its mentor's traits. Returns the mentee. A mentor of itself (or of its own mentor's
        line) is refused (Conflict)."""
        mentor = self.get(mentor_id)
        if mentee_id == mentor_id:
            raise Conflict("an agent cannot mentor itself", field="mentee_id")
        line, seen = mentor.mentor_id, {mentor_id}
        while line is not None and line not in seen:  # no loops of mentors
            if line == mentee_id:
                raise Conflict(f"{mentee_id!r} is {mentor_id!r}'s own mentor", field="mentee_id")
            seen.add(line)
            with self.engine.connect() as conn:
                row = conn.execute(select(agents.c.mentor_id).where(self._where(line))).first()
            line = None if row is None else row.mentor_id
        self.ensure(mentee_id, mentor.traits, preferred_models=mentor.preferred_models,
                    template=mentor.template, reason=f"created as {mentor_id}'s mentee")
        with self.engine.begin() as conn:
            conn.execute(update(agents).where(self._where(mentee_id)).values(
                mentor_id=mentor_id, updated_at=time.time()))
            return self._agent(self._row(conn, mentee_id))

    def clone(self, source_id: str, new_id: str) -> Agent:
        """A new agent with `source_id`'s persona, traits, models and template, a record of
        its own, and `source_id` as its mentor."""
        source = self.get(source_id)
        return self.create(new_id, source.traits, preferred_models=source.preferred_models,
                           template=source.template, mentor_id=source_id,
                           persona_of=source, reason=f"cloned from {source_id}")

    def combine(self, first_id: str, second_id: str, new_id: str) -> Agent:
        """A new agent whose traits merge both parents' (and a persona generated from
        them), whose preferred models are both parents', first's first."""
        first, second = self.get(first_id), self.get(second_id)
        return self.create(
            new_id, merge_traits(first.traits, second.traits),
            preferred_models=_models([*first.preferred_models,
                                      *second.preferred_models])[:MAX_MODELS],
            template=first.template or second.template, parents=(first_id, second_id),
            reason=f"combined from {first_id} and {second_id}")

    def delete(self, agent_id: str) -> None:
        """Remove the agent and its title history (UnknownAgent when there is none)."""
        h = agent_title_history
        with self.engine.begin() as conn:
            if conn.execute(delete(agents).where(self._where(agent_id))).rowcount == 0:
                raise UnknownAgent(f"unknown agent {agent_id!r}", field="agent_id")
            conn.execute(delete(h).where(
                (h.c.tenant_id == self.tenant_id) & (h.c.agent_id == agent_id)))

    # -- careers --------------------------------------------------------------------------
    def record(self, agent_id: str, outcome: bool | float, *, reason: str | None = None) -> Agent:
        """Add one result (True/False or a score in [0, 1]) to the agent's record and move
        its title where the record now puts it (careers.next_title), noting why."""
        score = _score(outcome)
        with self.engine.begin() as conn:
            changed = conn.execute(update(agents).where(self._where(agent_id)).values(
                n=agents.c.n + 1,
                successes=agents.c.successes + (1 if score >= 0.5 else 0),
                score_sum=agents.c.score_sum + score,
                score_sq=agents.c.score_sq + score * score,
                updated_at=time.time(),
            ))
            if changed.rowcount == 0:
                raise UnknownAgent(f"unknown agent {agent_id!r}", field="agent_id")
            row = self._row(conn, agent_id)  # the update holds the row (and SQLite's lock)
            move = next_title(row.title, row.n, row.score_sum, self.rules)
            if move is None:
                return self._agent(row)
            title, why = move
            self._retitle(conn, row, title, why if reason is None else f"{why} ({reason})")
            return self._agent(self._row(conn, agent_id))

    def sandbox(self, agent_id: str, reason: str) -> Agent:
        """Put the agent in the sandbox: it runs only in competitions, never for users,
        until `release` or a record that earns a promotion."""
        with self.engine.begin() as conn:
            row = self._row(conn, agent_id)
            if row.title != SANDBOXED:
                self._retitle(conn, row, SANDBOXED, reason)
            return self._agent(self._row(conn, agent_id))

    def release(self, agent_id: str, reason: str) -> Agent:
        """Take the agent out of the sandbox, back to the title it had before it."""
        h = agent_title_history
        with self.engine.begin() as conn:
            row = self._row(conn, agent_id)
            if row.title != SANDBOXED:
                return self._agent(row)
            before = conn.execute(select(h.c.from_title).where(
                (h.c.tenant_id == self.tenant_id) & (h.c.agent_id == agent_id)
                & (h.c.to_title == SANDBOXED)).order_by(h.c.id.desc()).limit(1)).scalar()
            self._retitle(conn, row, before or NOVICE, reason)
            return self._agent(self._row(conn, agent_id))

    def _retitle(self, conn: Connection, row: Row[Any], title: str, reason: str) -> None:
        now = time.time()
        conn.execute(update(agents).where(self._where(row.id)).values(
            title=title, sandboxed=title == SANDBOXED, updated_at=now))
        self._log(conn, row.id, row.title, title, reason, now)

    def _log(self, conn: Connection, agent_id: str, before: str | None, after: str,
             reason: str, at: float) -> None:
        conn.execute(insert(agent_title_history).values(
            tenant_id=self.tenant_id, agent_id=agent_id, from_title=before, to_title=after,
            reason=reason.replace("\x00", "")[:2000], at=at))  # PostgreSQL text has no NUL

    # -- answering ------------------------------------------------------------------------
    def ask(self, agent_id: str, prompt: str, *, brain: Brain,
            context: RequestContext | None = None, competition: bool = False,
            **options: Any) -> Answer:
        """Answer `prompt` as the agent through `brain` (its persona or template, memory
        scope and preferred model); a sandboxed agent answers only with `competition=True`
        (AgentSandboxed, a 409, otherwise)."""
        from cerebra.agents.answering import answer_as

        if context is not None and context.tenant_id != self.tenant_id:
            raise UnknownAgent(f"unknown agent {agent_id!r}", field="agent_id")
        return answer_as(self.get(agent_id), prompt, brain=brain,
                         context=context or self.context, templates=self.templates,
                         competition=competition, **options)
