"""Workflows: one training recipe in flat YAML (Axolotl / LLaMA-Factory style keys), its
schema, and the loader that names the key and the line of every mistake.

A workflow says which base model to adapt, how (LoRA hyper-parameters, stage sft | dpo),
on which datasets, how to evaluate the result (a task kit plus guard kits) and when to
promote it (the gate's rule). `load_workflow` reads YAML text or a file; `extends:` names a
template (`templates()`), a stored workflow (through `lookup`) or — for files only — a path
next to it; the child's keys override the parent's (mappings merged key by key). Environment
overrides `CEREBRA_WORKFLOW_<KEY>=value` (nested: `CEREBRA_WORKFLOW_PROMOTION__MIN_GAIN`)
apply only where the caller passes `env` (the CLI does, for local files); a document sent
over the API is taken as written — no `${VAR}` substitution anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cerebra.improve.workflow_loader import apply_env, describe_error, resolve
from cerebra.improve.workflow_schema import (
    DATASET_PATTERN,
    ENV_PREFIX,
    MAX_YAML_CHARS,
    NAME_PATTERN,
    SYNONYMS,
    TEMPLATES_DIR,
    EvalSuite,
    PromotionRule,
    Workflow,
    WorkflowError,
    template_path,
    templates,
)

__all__ = ["DATASET_PATTERN", "ENV_PREFIX", "MAX_YAML_CHARS", "NAME_PATTERN", "SYNONYMS",
           "TEMPLATES_DIR", "EvalSuite", "PromotionRule", "Workflow", "WorkflowError",
           "load_workflow", "template_path", "templates", "validate"]


def load_workflow(source: str | Path, *, env: Mapping[str, str] | None = None,
                  base_dir: str | Path | None = None,
                  lookup: Callable[[str], str | None] | None = None) -> Workflow:
    """A validated Workflow from YAML text or a file (see the module docstring).

    `env`: the environment whose CEREBRA_WORKFLOW_* variables override keys (None: none).
    `base_dir`: where `extends:` paths are resolved (a file's own folder by default; text
    without it may extend templates and stored workflows only). `lookup`: a stored
    workflow's YAML by name (the API passes the tenant's). WorkflowError names the key and
    the line of the first problem."""
    data, where = resolve(source, base_dir=base_dir, lookup=lookup)
    if isinstance(source, Path) and "name" not in data:
        data["name"] = source.stem  # a file's name names it
    if env:
        apply_env(data, where, env)
    return validate(data, where)


def validate(data: dict[str, Any], where: Mapping[tuple[str, ...], Any] | None = None
             ) -> Workflow:
    """Validate resolved keys; `where` maps a key path to where it was written (a
    cerebra.improve.workflow_loader.Where: the line, or the parent file or variable)."""
    from pydantic import ValidationError

    try:
        return Workflow.model_validate(data)
    except ValidationError as exc:
        message, field, line = describe_error(exc.errors()[0], where or {})
        extra = {} if line is None else {"line": line}
        raise WorkflowError(message, field=field, **extra) from None
