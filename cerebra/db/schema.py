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
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

# context bundles handed to outside agents and their feedback (cerebra/db/bundle_tables.py)
from cerebra.db import bundle_tables as _bundle_tables  # noqa: F401

# the cost ledger's rollups and budget alerts (cerebra/db/cost_tables.py)
from cerebra.db import cost_tables as _cost_tables  # noqa: F401

# drift detection's latest reports and alerts (cerebra/db/drift_tables.py)
from cerebra.db import drift_tables as _drift_tables  # noqa: F401

# facts in time: the statements of each memory and their validity (cerebra/db/fact_tables.py)
from cerebra.db import fact_tables as _fact_tables  # noqa: F401

# the memory knowledge graph's tables (cerebra/db/graph_tables.py), on the same metadata
from cerebra.db import graph_tables as _graph_tables  # noqa: F401

# the self-improvement loop's tables (cerebra/db/improve_tables.py), on the same metadata;
# the loop's modules import them from there
from cerebra.db import improve_tables as _improve_tables  # noqa: F401

# the recent log records GET /logs reads (cerebra/db/log_tables.py)
from cerebra.db import log_tables as _log_tables  # noqa: F401

# passage vectors of long memories (cerebra/db/passage_tables.py)
from cerebra.db import passage_tables as _passage_tables  # noqa: F401

# the kept traces of the prompt path and their span trees (cerebra/db/trace_tables.py)
from cerebra.db import trace_tables as _trace_tables  # noqa: F401

# learned retrieval weights, every version (cerebra/db/weight_tables.py)
from cerebra.db import weight_tables as _weight_tables  # noqa: F401

# the agents layer's tables (cerebra/db/agent_tables.py), re-exported for the code's imports
from cerebra.db.agent_tables import (  # noqa: F401
    ab_outcomes,
    ab_tests,
    agent_title_history,
    agents,
    comparisons,
    competition_entries,
    competitions,
    mission_outcomes,
    mission_runs,
    missions,
    prompt_labels,
    prompt_templates,
    venture_assignments,
    venture_kpis,
    venture_roles,
    ventures,
)
from cerebra.db.metadata import metadata

DEFAULT_TENANT = "default"

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
    # --- issue 11 part C (revision 0019): resumption, structured progress, cancel flag
    Column("attempt", Integer, nullable=False, server_default="0"),
    Column("resumable", Boolean, nullable=False, server_default="0"),
    Column("cancel_requested", Boolean, nullable=False, server_default="0"),
    Column("payload", JSON, nullable=True),  # {"target": "module:function", "args", "kwargs"}
    Column("metrics", JSON, nullable=True),  # {"step", "total", "loss", "eta_s", ...}
    # --- end part C
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

# Verification state (cerebra.governance.audit_verified, revision 0035): the prefix of each
# chain last found intact and the last whole-chain walk. Not part of the chain, so updated in
# place (no append-only triggers).
audit_verified = Table(
    "audit_verified",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),  # 0: no verified prefix
    Column("hash", String(64), nullable=False),
    Column("checkpoints", BigInteger, nullable=False),
    Column("verified_at", Float, nullable=True),
    Column("full_at", Float, nullable=True),
    Column("full_ok", Boolean, nullable=True),
    Column("full_entries", BigInteger, nullable=True),
    Column("full_problem", Text, nullable=True),
)
