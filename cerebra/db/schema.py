"""Table definitions (SQLAlchemy Core) used by the code; migrations create them.

Every row that belongs to someone carries `tenant_id` so isolation can be enforced here.
Times are UNIX epoch seconds (float, UTC).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

DEFAULT_TENANT = "default"

metadata = MetaData()

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("limits", JSON, nullable=True),  # rate limits and budgets of the whole tenant
)

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=False),
    Column("username", String(200), nullable=False),
    Column("password_hash", Text, nullable=True),  # argon2id; none for wallet-only users
    Column("roles", JSON, nullable=False),
    Column("wallet", String(64), nullable=True),  # base58 Ed25519 public key
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),  # the first characters, to recognise it
    Column("key_hash", String(64), nullable=False, unique=True),  # SHA-256 of the secret
    Column("roles", JSON, nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("agent_id", String(200), nullable=False, default=""),
    Column("limits", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    Column("last_used_at", Float, nullable=True),
    Index("ix_api_keys_tenant", "tenant_id", "created_at"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("family_id", String(32), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("issued_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),  # rotated: a second use revokes the family
    Column("revoked_at", Float, nullable=True),
    Column("kind", String(16), nullable=False, server_default="token"),  # token | wallet
    Column("scopes", JSON, nullable=True),  # the login's grant; null: the user's roles
    Index("ix_refresh_tokens_family", "family_id"),
)

wallet_nonces = Table(
    "wallet_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("wallet", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
)

memories = Table(
    "memories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uid", String(32), nullable=False, unique=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=False),
    Column("user_id", String(200), nullable=False, default=""),
    Column("agent_id", String(200), nullable=False, default=""),
    Column("session_id", String(200), nullable=False, default=""),
    Column("text", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("source", String(32), nullable=False, default="user"),
    Column("importance", Float, nullable=False, default=0.5),
    Column("salience", Float, nullable=False, default=0.0),
    Column("content_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("embedding", LargeBinary, nullable=True),
    Column("embedding_model", String(200), nullable=True),
    Column("version", Integer, nullable=False, default=1),
)

memory_history = Table(
    "memory_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("memory_uid", String(32), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("importance", Float, nullable=False),
    Column("event", String(16), nullable=False),
    Column("valid_from", Float, nullable=False),
    Column("valid_to", Float, nullable=False),
)

memory_vec_log = Table(
    "memory_vec_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("memory_id", Integer, nullable=False),
    Column("op", String(8), nullable=False),
    Column("tenant_id", String(64), nullable=False),
)

# Per-scope full-text statistics (BM25 on the scope's own documents), kept in the write
# transaction of the rows they count.
memory_scope_stats = Table(
    "memory_scope_stats",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("agent_id", String(200), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("session_id", String(200), primary_key=True),
    Column("docs", Integer, nullable=False),
    Column("total_len", BigInteger, nullable=False),
)

memory_scope_terms = Table(
    "memory_scope_terms",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("agent_id", String(200), primary_key=True),
    Column("term", Text, primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("session_id", String(200), primary_key=True),
    Column("df", Integer, nullable=False),
)

memory_tags = Table(
    "memory_tags",
    metadata,
    Column("memory_id", Integer, ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(200), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
)

interactions = Table(
    "interactions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trace_id", String(32), nullable=False, unique=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=False),
    Column("user_id", String(200), nullable=False, default=""),
    Column("agent_id", String(200), nullable=False, default=""),
    Column("session_id", String(200), nullable=False, default=""),
    Column("endpoint", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("rendered_prompt", Text, nullable=False),
    Column("response", Text, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("memories_used", JSON, nullable=False),
    Column("stored_memory_uid", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("decision_id", String(32), nullable=True),
    Column("quality", Float, nullable=True),
    Column("feedback_at", Float, nullable=True),
    Column("feedback_comment", Text, nullable=True),
    Column("cost_usd", Float, nullable=False, server_default="0"),  # USD, the model's price
    # the principal's credential (API key id, or sign-in family): per-key and per-user spend
    Column("credential_id", String(64), nullable=False, server_default=""),
    Index("ix_interactions_credential", "tenant_id", "credential_id", "created_at"),
)

# The router's learning state and decision log (see cerebra.routing.state).
router_state = Table(
    "router_state",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),  # "policy" | "bandit"
    Column("scope", String(200), primary_key=True),  # agent id, or "*"
    Column("data", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

router_decisions = Table(
    "router_decisions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("agent_id", String(200), nullable=False),
    Column("scope", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("strategy", String(64), nullable=False),
    Column("arm", String(200), nullable=False),
    Column("served_by", String(200), nullable=True),
    Column("reason", Text, nullable=False),
    Column("features", JSON, nullable=False),
    Column("candidates", JSON, nullable=False),
    Column("attempts", JSON, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("error", Text, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("quality", Float, nullable=True),
    Column("reward", Float, nullable=True),
    Index("ix_router_decisions_tenant_time", "tenant_id", "created_at"),
)

# Background jobs (see cerebra.jobs): one row per submitted job, one per periodic schedule
# (its last run), never one per periodic run.
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(200), nullable=False),
    Column("state", String(16), nullable=False),  # queued running succeeded failed cancelled
    Column("progress", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("owner", String(200), nullable=False),  # host:pid:runner of the process running it
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("heartbeat_at", Float, nullable=False),
    Index("ix_jobs_tenant_time", "tenant_id", "created_at"),
    Index("ix_jobs_state", "state"),
)

job_schedules = Table(
    "job_schedules",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("every_s", Float, nullable=False),
    Column("owner", String(200), nullable=False),
    Column("runs", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("last_started_at", Float, nullable=True),
    Column("last_finished_at", Float, nullable=True),
    Column("last_ok_at", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_result", JSON, nullable=True),
    Column("updated_at", Float, nullable=False),
)

# The audit log (see cerebra.governance.audit): a hash chain per tenant; the database refuses
# UPDATE and DELETE on the entries and checkpoints (triggers, migration 0008).
audit_log = Table(
    "audit_log",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("time", Float, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", Text, nullable=False),
    Column("outcome", String(100), nullable=False),
    Column("details", Text, nullable=False),  # canonical JSON, exactly as hashed
    Column("constitution_hash", String(200), nullable=False),
    Column("trace_id", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
)

audit_heads = Table(  # each chain's last entry; appends lock this row
    "audit_heads",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("updated_at", Float, nullable=False),
)

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
