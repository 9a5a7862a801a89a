"""Tables of the self-improvement loop (issue 11): signals, datasets and their versions,
workflows and training runs, model versions with promotions, gate reports and triggers — on
the shared metadata, re-exported by cerebra.db.schema. Every row carries `tenant_id`.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, String, Table, Text

from cerebra.db.metadata import metadata

# --- Part A1: signals (revision 0016) ---
# Signals on traces (see cerebra.improve.signals): a user's score, thumbs, correction or label,
# a judge's verdict, a checker's result, an RLAIF preference — one row each, many per trace.
# `value` is a score in [0, 1], higher is better (thumbs up 1, down 0); `trust` in [0, 1]
# weighs the source (user and checker 1.0, judge 0.7, rlaif 0.6 by default).
signals = Table(
    "signals",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(32), primary_key=True),
    Column("trace_id", String(64), nullable=False),  # the interaction's trace id
    Column("kind", String(16), nullable=False),  # score|thumbs|correction|label|judge|…
    Column("value", Float, nullable=True),
    Column("text", Text, nullable=True),  # a correction, a label, a judge's reason
    Column("task", String(200), nullable=True),
    Column("source", String(200), nullable=False),  # user:<id>, judge:<name>, …
    Column("trust", Float, nullable=False),
    Column("payload", JSON, nullable=False),  # e.g. an RLAIF pair, a verdict's contestants
    Column("created_at", Float, nullable=False),
    Index("ix_signals_trace", "tenant_id", "trace_id"),
    Index("ix_signals_task", "tenant_id", "task", "created_at"),
)

# --- Part A2: datasets (revision 0017) ---
# Versioned datasets (see cerebra.improve.datasets): a dataset names its latest version;
# each version is immutable (its rows written in one transaction), with the sha256 of its
# canonical JSONL, what curation did (report) and where its rows came from (lineage).
datasets = Table(
    "datasets",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("kind", String(8), nullable=False),  # sft | dpo
    Column("task", String(200), nullable=True),
    Column("latest_version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),  # 1, 2, … per name
    Column("kind", String(8), nullable=False),
    Column("parent_id", String(64), nullable=True),
    Column("content_hash", String(64), nullable=False),  # sha256 hex of the canonical JSONL
    Column("row_count", Integer, nullable=False),
    Column("report", JSON, nullable=False),
    Column("lineage", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ux_dataset_versions_name", "tenant_id", "name", "version", unique=True),
)

dataset_rows = Table(
    "dataset_rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("version_id", String(64), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("prompt", Text, nullable=False),
    Column("completion", Text, nullable=True),  # sft rows
    Column("chosen", Text, nullable=True),  # dpo rows
    Column("rejected", Text, nullable=True),
    Column("source", String(200), nullable=False),
    Column("trace_id", String(64), nullable=True),
    Column("task", String(200), nullable=True),
    Index("ux_dataset_rows_version", "tenant_id", "version_id", "idx", unique=True),
)

# --- Part B: workflows and training runs (revision 0018) ---
# Workflows (see cerebra.improve.training_runs): a tenant's stored training recipes, the YAML
# as written and the validated keys. Training runs: one row per run of a workflow (the job
# that runs it, the dataset versions it read, where its adapter is written, its state and
# figures: steps, final loss, seconds, device).
workflows = Table(
    "workflows",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("yaml", Text, nullable=False),
    Column("spec", JSON, nullable=False),  # the validated workflow (Workflow.model_dump)
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

training_runs = Table(
    "training_runs",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("workflow", String(100), nullable=False),
    Column("spec", JSON, nullable=False),  # the workflow as it was when the run started
    Column("job_id", String(64), nullable=True),
    Column("datasets", JSON, nullable=False),  # [{name, version, id, kind, rows}]
    Column("out_dir", Text, nullable=False),  # stable: a re-run resumes from its checkpoint
    Column("adapter_dir", Text, nullable=True),
    Column("gguf_path", Text, nullable=True),
    Column("state", String(16), nullable=False),  # queued running succeeded failed cancelled
    Column("metrics", JSON, nullable=False),  # steps, final_loss, seconds, device
    Column("error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Index("ix_training_runs_time", "tenant_id", "created_at"),
    Index("ix_training_runs_job", "tenant_id", "job_id"),
)


# --- Part C: jobs (revision 0019) ---

# --- Part E: model versions (revision 0020) ---
# Model versions (see cerebra.improve.registry): one row per LoRA adapter version of a served
# name "base:adapter", with its lineage (dataset version, workflow, job, gate report); state
# candidate | serving | retired | refused (one serving row per tenant and name at most).
# `model_promotions` is the history of promote / deploy / rollback actions: who, when, from
# which version to which (None: the plain base), why, and whether a refusal was overridden.
model_versions = Table(
    "model_versions",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),  # the served name "base:adapter"
    Column("base", String(160), nullable=False),
    Column("adapter", String(64), nullable=False),
    Column("path", Text, nullable=False),  # the adapter.gguf
    Column("sha256", String(64), nullable=False),  # of the file when it was added
    Column("dataset_version_id", String(64), nullable=True),
    Column("workflow", JSON, nullable=True),
    Column("job_id", String(64), nullable=True),
    Column("gate_report_id", String(64), nullable=True),
    Column("state", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("promoted_at", Float, nullable=True),
    Column("retired_at", Float, nullable=True),
    Column("notes", Text, nullable=False),
    Index("ix_model_versions_name", "tenant_id", "name", "created_at"),
    Index("ix_model_versions_state", "state", "name"),
)

model_promotions = Table(
    "model_promotions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("action", String(16), nullable=False),  # promote | deploy | rollback
    Column("from_version", String(32), nullable=True),  # None: the plain base
    Column("to_version", String(32), nullable=True),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("report_id", String(64), nullable=True),
    Column("forced", Boolean, nullable=False),  # a refused gate overridden
    Column("at", Float, nullable=False),
    Index("ix_model_promotions_name", "tenant_id", "name", "id"),
)

# --- Part G: gate reports (revision 0021) ---
# Every gate decision with its report (cerebra.improve.gate.GateReport.to_dict(): the rule,
# task metrics, guards, perplexity, bounded per-item outcomes, timings).
gate_reports = Table(
    "gate_reports",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(32), primary_key=True),
    Column("task", String(200), nullable=False),  # the task kit's name
    Column("candidate", String(200), nullable=False),  # model version or "base:adapter"
    Column("baseline", String(200), nullable=False),
    Column("decision", String(16), nullable=False),  # promote | refuse
    Column("p_value", Float, nullable=False),  # one-sided, candidate better
    Column("gain", Float, nullable=False),  # points
    Column("report", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_gate_reports_created", "tenant_id", "created_at"),
    Index("ix_gate_reports_task", "tenant_id", "task", "created_at"),
)

# --- Part H: triggers (revision 0022) ---
# One retraining policy per (tenant, task) and its state (cerebra.improve.triggers): the
# cursor (signals after it are new), the job it started, the outcome of its last check.
improve_triggers = Table(
    "improve_triggers",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("task", String(100), primary_key=True),
    Column("workflow", String(200), nullable=False),
    Column("min_new_examples", Integer, nullable=False),
    Column("drift_margin", Float, nullable=True),
    Column("baseline_score", Float, nullable=True),
    Column("window", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("cursor_at", Float, nullable=False),
    Column("checked_at", Float, nullable=True),
    Column("fired_at", Float, nullable=True),
    Column("fired", Integer, nullable=False),
    Column("active_job_id", String(64), nullable=True),
    Column("last_event", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
