"""DatasetStore: versioned training datasets in the database (migration 0017), per tenant.

A dataset (a name, a kind — sft or dpo — and an optional task) has versions 1, 2, …; each
version is written once, in one transaction, and never changed: its rows in order, the
sha256 of their canonical JSONL (identical rows ⇒ identical hash), the curation report that
made it and its lineage (the traces its rows came from, the versions it was derived from).
Every read and write is scoped by the RequestContext's tenant: another tenant's dataset is
as unknown as one that never existed.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, RowMapping, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cerebra.context import RequestContext
from cerebra.db.improve_tables import dataset_rows, dataset_versions, datasets
from cerebra.errors import Conflict, InvalidInput, NotFound
from cerebra.ids import new_id
from cerebra.improve.curation import CurationOptions, curate
from cerebra.improve.formats import (
    Format,
    ImportFormat,
    Kind,
    LineError,
    canonical_jsonl,
    export_jsonl,
    parse_jsonl,
    row_kind,
)
from cerebra.improve.rows import PrefPair, Row, SftRow

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$"
_NAME = re.compile(NAME_PATTERN)
_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset (`rows`: how many rows it holds)."""

    id: str
    name: str
    version: int
    kind: Kind
    content_hash: str
    rows: int
    parent_id: str | None = None
    task: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0

    @property
    def row_count(self) -> int:
        return self.rows

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "version": self.version, "kind": self.kind,
                "content_hash": self.content_hash, "rows": self.rows,
                "parent_id": self.parent_id, "task": self.task, "report": self.report,
                "lineage": self.lineage, "created_at": self.created_at}


def content_hash(rows: Sequence[Row]) -> str:
    """sha256 (hex) of the rows' canonical JSONL."""
    return hashlib.sha256(canonical_jsonl(rows).encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput("a dataset name is 1-200 letters, digits, _ . - (starting with a "
                           "letter or digit)", field="name")
    return name


def _default_lineage(rows: Sequence[Row], parent: DatasetVersion | None) -> dict[str, Any]:
    traces = sorted({r.trace_id for r in rows if r.trace_id})
    out: dict[str, Any] = {"trace_ids": traces}
    if parent is not None:
        out["versions"] = [parent.id]
    return out


def _version(r: RowMapping, task: str | None) -> DatasetVersion:
    return DatasetVersion(id=r["id"], name=r["name"], version=r["version"], kind=r["kind"],
                          content_hash=r["content_hash"], rows=r["row_count"],
                          parent_id=r["parent_id"], task=task, report=dict(r["report"] or {}),
                          lineage=dict(r["lineage"] or {}), created_at=r["created_at"])


class DatasetStore:
    """The versioned datasets of the caller's tenant."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_version(self, context: RequestContext, name: str, kind: Kind,
                       rows: Sequence[Row], parent: DatasetVersion | str | None = None,
                       lineage: dict[str, Any] | None = None,
                       report: dict[str, Any] | None = None,
                       task: str | None = None) -> DatasetVersion:
        """Write a new version of `name` (created on its first version) in one transaction.
        Every row must be of `kind`; a dataset keeps the kind it was created with (409).
        `parent`: the version it was derived from (a DatasetVersion or an id); `lineage`
        defaults to the rows' trace ids and the parent."""
        check_name(name)
        if kind not in ("sft", "dpo"):
            raise InvalidInput(f"unknown kind {kind!r}: sft or dpo", field="kind")
        for i, row in enumerate(rows):
            _check_row(i, row, kind)
        if isinstance(parent, str):
            parent = self.get(context, parent)
        if task is not None and len(task) > 200:
            raise InvalidInput("a task name is at most 200 characters", field="task")
        rows = list(rows)
        digest = content_hash(rows)
        tenant, now, vid = context.tenant_id, time.time(), new_id()
        lineage = lineage if lineage is not None else _default_lineage(rows, parent)
        d = datasets
        try:
            with self.engine.begin() as conn:
                found = conn.execute(select(d.c.kind, d.c.latest_version, d.c.task).where(
                    d.c.tenant_id == tenant, d.c.name == name)).first()
                if found is None:
                    number = 1
                    conn.execute(insert(d).values(
                        tenant_id=tenant, name=name, kind=kind, task=task, latest_version=1,
                        created_at=now, updated_at=now))
                else:
                    if found.kind != kind:
                        raise Conflict(f"dataset {name!r} holds {found.kind} rows, not {kind}",
                                       field="kind")
                    number = found.latest_version + 1
                    task = task if task is not None else found.task
                    conn.execute(update(d).where(d.c.tenant_id == tenant, d.c.name == name)
                                 .values(latest_version=number, updated_at=now, task=task))
                conn.execute(insert(dataset_versions).values(
                    tenant_id=tenant, id=vid, name=name, version=number, kind=kind,
                    parent_id=parent.id if parent is not None else None, content_hash=digest,
                    row_count=len(rows), report=report or {}, lineage=lineage,
                    created_at=now))
                if rows:
                    conn.execute(insert(dataset_rows), [_row_values(tenant, vid, i, r)
                                                        for i, r in enumerate(rows)])
        except IntegrityError:
            raise Conflict(f"dataset {name!r} got another version at the same time; try again",
                           field="name") from None
        return DatasetVersion(vid, name, number, kind, digest, len(rows),
                              parent.id if parent is not None else None, task, report or {},
                              lineage, now)

    def import_jsonl(self, context: RequestContext, name: str, text: str, *,
                     fmt: ImportFormat = "auto", kind: Kind | None = None,
                     skip_invalid: bool = False, task: str | None = None
                     ) -> tuple[DatasetVersion, list[LineError]]:
        """Parse a JSONL upload (see formats.parse_jsonl) into a new version; nothing is
        written when a line is bad unless `skip_invalid` (then the refused lines are
        returned and kept in the version's report)."""
        check_name(name)
        parsed = parse_jsonl(text, fmt=fmt, kind=kind, skip_invalid=skip_invalid)
        report = {"import": {"format": fmt, "rows": len(parsed.rows),
                             "rejected": [e.to_dict() for e in parsed.rejected[:100]],
                             "rejected_count": len(parsed.rejected)}}
        version = self.create_version(context, name, parsed.kind, parsed.rows, report=report,
                                      task=task)
        return version, parsed.rejected

    def curate(self, context: RequestContext, name: str, *, version: int | None = None,
               from_signals: bool = False, task: str | None = None, since: float | None = None,
               kind: Kind | None = None, eval_texts: Iterable[str] | None = None,
               embedder: Any = None, policy: Any = None,
               options: CurationOptions | None = None) -> DatasetVersion:
        """Curate into a new version of `name`: from one of its versions (the latest, or
        `version`), or from the tenant's signals (A1's training_examples, of `task` since
        `since`; the dataset is created when new, of `kind`, default sft). The version's
        report is what curation did; its lineage the source version or the signals' traces."""
        check_name(name)
        if from_signals:
            from cerebra.improve.signals import training_examples  # part A1
            existing = self._kind(context, name)
            if existing is not None and kind is not None and kind != existing:
                raise Conflict(f"dataset {name!r} holds {existing} rows, not {kind}",
                               field="kind")
            kind = existing or kind or "sft"
            sft, pairs = training_examples(self.engine, context, task=task, since=since)
            rows: list[Row] = list(pairs) if kind == "dpo" else list(sft)
            parent = None
            origin: dict[str, Any] = {"signals": {"task": task, "since": since,
                                                  "rows": len(rows)}}
        else:
            parent = self.get(context, name, version)
            kind, rows = parent.kind, self.rows(context, parent.id)
            origin = {"versions": [parent.id]}
        kept, report = curate(rows, eval_texts=eval_texts, embedder=embedder, policy=policy,
                              options=options)
        lineage = {**origin, "trace_ids": sorted({r.trace_id for r in kept if r.trace_id})}
        return self.create_version(context, name, kind, kept, parent=parent, lineage=lineage,
                                   report={"curation": report.to_dict()}, task=task)

    def _kind(self, context: RequestContext, name: str) -> Kind | None:
        with self.engine.connect() as conn:
            found = self._dataset(conn, context.tenant_id, name)
        return found["kind"] if found is not None else None

    def _dataset(self, conn: Any, tenant: str, name: str) -> RowMapping | None:
        d = datasets
        return conn.execute(select(d).where(d.c.tenant_id == tenant, d.c.name == name)
                            ).mappings().first()

    def get(self, context: RequestContext, name_or_id: str,
            version: int | None = None) -> DatasetVersion:
        """A version: by name (the latest, or `version`), or by its id. NotFound else."""
        tenant, v = context.tenant_id, dataset_versions
        with self.engine.connect() as conn:
            ds = self._dataset(conn, tenant, name_or_id)
            if ds is not None:
                number = version if version is not None else ds["latest_version"]
                row = conn.execute(select(v).where(v.c.tenant_id == tenant,
                                                   v.c.name == name_or_id,
                                                   v.c.version == number)).mappings().first()
                if row is None:
                    raise NotFound(f"dataset {name_or_id!r} has no version {number}",
                                   field="version")
                return _version(row, ds["task"])
            if version is None and _ID.match(name_or_id):
                row = conn.execute(select(v).where(v.c.tenant_id == tenant,
                                                   v.c.id == name_or_id)).mappings().first()
                if row is not None:
                    ds = self._dataset(conn, tenant, row["name"])
                    return _version(row, ds["task"] if ds is not None else None)
        raise NotFound(f"unknown dataset {name_or_id!r}", field="name")

    def list(self, context: RequestContext) -> list[dict[str, Any]]:
        """The tenant's datasets by name, each with its latest version's hash and size."""
        d, v = datasets, dataset_versions
        query = (select(d, v.c.id.label("latest_id"), v.c.content_hash, v.c.row_count)
                 .join(v, (v.c.tenant_id == d.c.tenant_id) & (v.c.name == d.c.name)
                       & (v.c.version == d.c.latest_version))
                 .where(d.c.tenant_id == context.tenant_id).order_by(d.c.name))
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().all()
        return [{"name": r["name"], "kind": r["kind"], "task": r["task"],
                 "latest_version": r["latest_version"], "latest_id": r["latest_id"],
                 "content_hash": r["content_hash"], "rows": r["row_count"],
                 "created_at": r["created_at"], "updated_at": r["updated_at"]} for r in found]

    def versions(self, context: RequestContext, name: str) -> builtins.list[DatasetVersion]:
        """Every version of a dataset, oldest first (NotFound for an unknown name)."""
        tenant, v = context.tenant_id, dataset_versions
        with self.engine.connect() as conn:
            ds = self._dataset(conn, tenant, name)
            if ds is None:
                raise NotFound(f"unknown dataset {name!r}", field="name")
            found = conn.execute(select(v).where(v.c.tenant_id == tenant, v.c.name == name)
                                 .order_by(v.c.version)).mappings().all()
        return [_version(r, ds["task"]) for r in found]

    def rows(self, context: RequestContext, version_id: str) -> builtins.list[Row]:
        """A version's rows, in order (NotFound for another tenant's or an unknown id)."""
        version = self.get(context, version_id) if not _ID.match(version_id) else None
        vid = version.id if version is not None else version_id
        r, v = dataset_rows, dataset_versions
        with self.engine.connect() as conn:
            kind = conn.execute(select(v.c.kind).where(v.c.tenant_id == context.tenant_id,
                                                       v.c.id == vid)).scalar()
            if kind is None:
                raise NotFound(f"unknown dataset version {version_id!r}", field="version_id")
            found = conn.execute(select(r).where(r.c.tenant_id == context.tenant_id,
                                                 r.c.version_id == vid).order_by(r.c.idx)
                                 ).mappings().all()
        if kind == "dpo":
            return [PrefPair(x["prompt"], x["chosen"] or "", x["rejected"] or "", x["source"],
                             x["trace_id"], x["task"]) for x in found]
        return [SftRow(x["prompt"], x["completion"] or "", x["source"], x["trace_id"],
                       x["task"]) for x in found]

    def export_jsonl(self, context: RequestContext, name_or_id: str, *,
                     version: int | None = None, fmt: Format = "openai",
                     conversational: bool = False, meta: bool = False) -> str:
        """A version's rows as JSONL in OpenAI's or TRL's format."""
        found = self.get(context, name_or_id, version)
        return export_jsonl(self.rows(context, found.id), fmt, conversational=conversational,
                            meta=meta)

    def export_file(self, context: RequestContext, name_or_id: str, path: str | Path, *,
                    version: int | None = None, fmt: Format = "trl") -> DatasetVersion:
        """Write a version's rows to `path` as JSONL (default TRL's standard format: what
        cerebra.training.train reads); returns the version written."""
        found = self.get(context, name_or_id, version)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(export_jsonl(self.rows(context, found.id), fmt), encoding="utf-8")
        return found

    def delete(self, context: RequestContext, name: str) -> int:
        """Forget a dataset with all its versions and rows; returns how many versions."""
        tenant = context.tenant_id
        ids = [v.id for v in self.versions(context, name)]
        with self.engine.begin() as conn:
            if ids:
                conn.execute(delete(dataset_rows).where(dataset_rows.c.tenant_id == tenant,
                                                        dataset_rows.c.version_id.in_(ids)))
            conn.execute(delete(dataset_versions).where(
                dataset_versions.c.tenant_id == tenant, dataset_versions.c.name == name))
            conn.execute(delete(datasets).where(datasets.c.tenant_id == tenant,
                                                datasets.c.name == name))
        return len(ids)


def _check_row(i: int, row: Row, kind: Kind) -> None:
    if not isinstance(row, SftRow | PrefPair):
        raise InvalidInput(f"row {i}: a {type(row).__name__}, not a training row", field="rows")
    if row_kind(row) != kind:
        raise InvalidInput(f"row {i}: a {row_kind(row)} row in a {kind} dataset", field="rows")
    for key, limit in (("source", 200), ("trace_id", 64), ("task", 200)):
        value = getattr(row, key)
        if value is not None and len(value) > limit:
            raise InvalidInput(f"row {i}: {key} is longer than {limit} characters", field="rows")


def _row_values(tenant: str, vid: str, idx: int, row: Row) -> dict[str, Any]:
    base = {"tenant_id": tenant, "version_id": vid, "idx": idx, "prompt": row.prompt,
            "source": row.source, "trace_id": row.trace_id, "task": row.task,
            "completion": None, "chosen": None, "rejected": None}
    if isinstance(row, PrefPair):
        return {**base, "chosen": row.chosen, "rejected": row.rejected}
    return {**base, "completion": row.completion}
