"""Tables of the agents layer (issue 10): agents and their title history, judging
(competitions, entries, comparisons), prompt templates with labels and A/B tests, missions
and their runs, ventures with roles, assignments and KPIs — on the shared metadata,
re-exported by cerebra.db.schema. Every row carries `tenant_id`.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from cerebra.db.metadata import metadata

# Agents (issue 10, item 2; see cerebra.agents): one row per agent of a tenant — persona,
# record, title, lineage, how it answers — and every title change with its reason.
agents = Table(
    "agents",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("system_prompt", Text, nullable=False),
    Column("mood", String(40), nullable=False),
    Column("tone", String(40), nullable=False),
    Column("traits", JSON, nullable=False),  # list of trait names, in order
    Column("title", String(16), nullable=False),  # novice promoted expert demoted sandboxed
    Column("n", Integer, nullable=False),  # results recorded
    Column("successes", Integer, nullable=False),  # results counted as a success (≥ 0.5)
    Column("score_sum", Float, nullable=False),  # sum of scores in [0, 1] (True = 1)
    Column("score_sq", Float, nullable=False),  # sum of squared scores
    Column("sandboxed", Boolean, nullable=False),  # runs only in competitions
    Column("mentor_id", String(64), nullable=True),
    Column("parents", JSON, nullable=False),  # the agents a combined agent came from
    Column("memory_scope", String(64), nullable=False),  # the agent id its memories use
    Column("preferred_models", JSON, nullable=False),  # model names, first preferred
    Column("template", String(200), nullable=True),  # prompt template name
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

agent_title_history = Table(
    "agent_title_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("agent_id", String(64), nullable=False),
    Column("from_title", String(16), nullable=True),  # None: the agent was created
    Column("to_title", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_agent_title_history_agent", "tenant_id", "agent_id", "id"),
)

# Judging (issue 10, item 4; see cerebra.judging.store): competitions with their verdicts,
# each contestant's entry, and the pairwise comparisons the Bradley–Terry ratings are
# fitted on (from competitions, or recorded alone), per tenant.
competitions = Table(
    "competitions",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("prompt", Text, nullable=False),
    Column("judge", String(200), nullable=False),  # the judge's name (checker, model:…, panel)
    Column("winner_id", String(200), nullable=True),  # None: a tie
    Column("rationale", Text, nullable=False),
    Column("agreement", Float, nullable=True),  # position-swap agreement in [0, 1]
    Column("category", String(100), nullable=False),
    Column("failures", JSON, nullable=False),  # why some judgements could not be made
    Column("created_at", Float, nullable=False),
    Index("ix_competitions_time", "tenant_id", "created_at"),
)

competition_entries = Table(
    "competition_entries",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("competition_id", String(64), primary_key=True),
    Column("contestant_id", String(200), primary_key=True),
    Column("kind", String(16), nullable=False),  # model | agent
    Column("model", String(200), nullable=False),
    Column("answer", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("error", Text, nullable=False),
    Column("trace_id", String(64), nullable=False),
    ForeignKeyConstraint(["tenant_id", "competition_id"],
                         ["competitions.tenant_id", "competitions.id"], ondelete="CASCADE"),
    Index("ix_competition_entries_contestant", "tenant_id", "contestant_id"),
)

comparisons = Table(
    "comparisons",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("a", String(200), nullable=False),
    Column("b", String(200), nullable=False),
    Column("outcome", String(8), nullable=False),  # a | b | tie
    Column("competition_id", String(64), nullable=True),  # None: recorded alone
    Column("category", String(100), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_comparisons_category", "tenant_id", "category", "id"),
)

# Prompts (issue 10, items 3 and 5; see cerebra.prompts.template_store and cerebra.prompts.ab):
# every version of a tenant's templates, labels pointing at versions, A/B tests between two
# versions and the outcomes each arm earned.
prompt_templates = Table(
    "prompt_templates",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("source", Text, nullable=False),
    Column("variables", JSON, nullable=False),  # the variables the template reads
    Column("origin", String(200), nullable=False),  # user | rewrite:<rule> | model:<name>
    Column("parent_version", Integer, nullable=True),
    Column("note", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

prompt_labels = Table(
    "prompt_labels",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("label", String(64), primary_key=True),  # production, staging, any name
    Column("version", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

ab_tests = Table(
    "ab_tests",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("version_a", Integer, nullable=False),
    Column("version_b", Integer, nullable=False),
    Column("split", Float, nullable=False),  # the share of keys assigned to b
    Column("created_at", Float, nullable=False),
    Index("ix_ab_tests_name", "tenant_id", "name"),
)

ab_outcomes = Table(
    "ab_outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("test_id", String(64), nullable=False),
    Column("arm", String(1), nullable=False),  # a | b
    Column("value", Float, nullable=False),
    Column("kind", String(32), nullable=False),  # feedback | judge | …
    Column("key", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id", "test_id"], ["ab_tests.tenant_id", "ab_tests.id"],
                         ondelete="CASCADE"),
    Index("ix_ab_outcomes_test", "tenant_id", "test_id", "arm"),
)

# Missions and teams (issue 10, items 7 and 8; see cerebra.agents.missions and
# cerebra.agents.teams): stored mission templates, their runs (a daily run once per day) and
# outcomes per agent and prompt; ventures with roles, who held each role, and KPI history.
missions = Table(
    "missions",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

mission_runs = Table(
    "mission_runs",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("mission", String(64), nullable=False),
    Column("trigger", String(16), nullable=False),  # daily | manual
    Column("daily_key", String(16), nullable=True),  # the day of a daily run (unique)
    Column("state", String(16), nullable=False),  # running | done | failed
    Column("summary", JSON, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Index("ux_mission_runs_daily", "tenant_id", "mission", "daily_key", unique=True),
    Index("ix_mission_runs_started", "tenant_id", "started_at"),
)

mission_outcomes = Table(
    "mission_outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("agent_id", String(64), nullable=False),
    Column("prompt_index", Integer, nullable=False),
    Column("answer", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("model", String(200), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("error", Text, nullable=False),
    Column("trace_id", String(64), nullable=False),
    Index("ix_mission_outcomes_run", "tenant_id", "run_id", "id"),
)

ventures = Table(
    "ventures",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("created_at", Float, nullable=False),
)

venture_roles = Table(
    "venture_roles",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("venture", String(64), primary_key=True),
    Column("role", String(64), primary_key=True),
    Column("kpi", String(64), nullable=False),
    Column("target", Float, nullable=False),
    Column("window", Integer, nullable=False),
    Column("agent_id", String(64), nullable=False),
    Column("specialisation", JSON, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

venture_assignments = Table(
    "venture_assignments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("venture", String(64), nullable=False),
    Column("role", String(64), nullable=False),
    Column("agent_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Index("ix_venture_assignments_role", "tenant_id", "venture", "role", "id"),
)

venture_kpis = Table(
    "venture_kpis",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("venture", String(64), nullable=False),
    Column("role", String(64), nullable=False),
    Column("agent_id", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("note", Text, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_venture_kpis_role", "tenant_id", "venture", "role", "id"),
)
