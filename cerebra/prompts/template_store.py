"""TemplateStore: a tenant's prompt templates in the database — versions and labels.

A version is never changed or deleted: adding a template's text again makes version n + 1
(a rewrite does the same), so every version that ever served stays available. A label
(production, staging or any name) points at one version and moves when set again. Every
call acts for the tenant of its `context`; another tenant's template is simply not found.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cerebra.context import RequestContext, tenant_of
from cerebra.db.schema import prompt_labels, prompt_templates
from cerebra.errors import Conflict, InvalidInput, NotFound
from cerebra.prompts.sandbox import check_source

PRODUCTION = "production"
STAGING = "staging"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$"
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)
_LABEL = re.compile(LABEL_PATTERN)


@dataclass(frozen=True)
class TemplateVersion:
    """One stored version of a template."""

    name: str
    version: int
    source: str
    variables: tuple[str, ...]
    origin: str = "user"  # user | rewrite:<rule> | model:<name>
    parent_version: int | None = None
    note: str = ""
    created_at: float = 0.0
    labels: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "source": self.source,
                "variables": list(self.variables), "origin": self.origin,
                "parent_version": self.parent_version, "note": self.note,
                "created_at": self.created_at, "labels": list(self.labels)}


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput("a template name is 1-200 letters, digits, '_', '.' or '-'",
                           field="name")
    return name


def check_label(label: Any) -> str:
    if not isinstance(label, str) or not _LABEL.match(label):
        raise InvalidInput("a label is 1-64 letters, digits, '_', '.' or '-'", field="label")
    return label


def _version_number(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput("a version is a whole number from 1", field="version")
    return version


class TemplateStore:
    """Versions and labels of prompt templates, per tenant, on one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writes -----------------------------------------------------------------------
    def add(
        self,
        name: str,
        source: str,
        *,
        labels: Iterable[str] = (),
        origin: str = "user",
        parent_version: int | None = None,
        note: str = "",
        context: RequestContext | None = None,
    ) -> TemplateVersion:
        """Store `source` as the next version of `name` (checked in the sandbox first) and
        point `labels` at it. The first version of a template is labelled production."""
        check_name(name)
        variables = tuple(sorted(check_source(source, name)))
        wanted = [check_label(label) for label in labels]
        if len(note) > 2000:
            raise InvalidInput("a note may have at most 2000 characters", field="note")
        tenant = tenant_of(context)
        for _attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    latest = conn.execute(
                        select(func.max(prompt_templates.c.version)).where(
                            prompt_templates.c.tenant_id == tenant,
                            prompt_templates.c.name == name)).scalar()
                    version = (latest or 0) + 1
                    if parent_version is not None and not 1 <= parent_version <= version - 1:
                        raise NotFound(f"template {name!r} has no version {parent_version}",
                                       field="parent_version")
                    now = time.time()
                    conn.execute(insert(prompt_templates).values(
                        tenant_id=tenant, name=name, version=version, source=source,
                        variables=list(variables), origin=origin[:200],
                        parent_version=parent_version, note=note, created_at=now))
                    if latest is None and PRODUCTION not in wanted:
                        wanted.append(PRODUCTION)
                    for label in wanted:
                        self._point(conn, tenant, name, label, version, now)
                break
            except IntegrityError:
                continue  # another writer took this version number: take the next
        else:
            raise Conflict(f"template {name!r} is being changed by others; try again",
                           field="name")
        return self.get(name, version=version, context=context)

    def set_label(self, name: str, label: str, version: int, *,
                  context: RequestContext | None = None) -> TemplateVersion:
        """Point `label` of `name` at `version` (404 for an unknown template or version)."""
        check_name(name)
        check_label(label)
        _version_number(version)
        tenant = tenant_of(context)
        self.get(name, version=version, context=context)  # 404s
        with self.engine.begin() as conn:
            self._point(conn, tenant, name, label, version, time.time())
        return self.get(name, version=version, context=context)

    def remove_label(self, name: str, label: str, *,
                     context: RequestContext | None = None) -> None:
        check_name(name)
        check_label(label)
        with self.engine.begin() as conn:
            gone = conn.execute(prompt_labels.delete().where(
                prompt_labels.c.tenant_id == tenant_of(context),
                prompt_labels.c.name == name, prompt_labels.c.label == label)).rowcount
        if not gone:
            raise NotFound(f"template {name!r} has no label {label!r}", field="label")

    @staticmethod
    def _point(conn: Any, tenant: str, name: str, label: str, version: int,
               now: float) -> None:
        where = and_(prompt_labels.c.tenant_id == tenant, prompt_labels.c.name == name,
                     prompt_labels.c.label == label)
        moved = conn.execute(update(prompt_labels).where(where).values(
            version=version, updated_at=now)).rowcount
        if not moved:
            conn.execute(insert(prompt_labels).values(
                tenant_id=tenant, name=name, label=label, version=version, updated_at=now))

    # -- reads ------------------------------------------------------------------------
    def labels(self, name: str, *, context: RequestContext | None = None) -> dict[str, int]:
        """label → version for `name` (empty for an unknown template)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(prompt_labels.c.label, prompt_labels.c.version).where(
                prompt_labels.c.tenant_id == tenant_of(context),
                prompt_labels.c.name == name).order_by(prompt_labels.c.label)).all()
        return {row.label: row.version for row in rows}

    def exists(self, name: str, *, context: RequestContext | None = None) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(prompt_templates.c.version).where(
                prompt_templates.c.tenant_id == tenant_of(context),
                prompt_templates.c.name == name).limit(1)).first() is not None

    def get(
        self,
        name: str,
        *,
        version: int | None = None,
        label: str | None = None,
        context: RequestContext | None = None,
    ) -> TemplateVersion:
        """One version: by number, by label (both: the version, which must carry the label),
        or else the production label's (the newest version when nothing is labelled
        production). 404 names what is unknown."""
        check_name(name)
        labels = self.labels(name, context=context)
        if label is not None:
            check_label(label)
            if label not in labels or (version is not None and labels[label] != version):
                if not self.exists(name, context=context):
                    raise NotFound(f"unknown template {name!r}", field="name")
                raise NotFound(f"template {name!r} has no label {label!r}"
                               + ("" if version is None else f" on version {version}"),
                               field="label")
            version = labels[label]
        elif version is None:
            version = labels.get(PRODUCTION)
        where = [prompt_templates.c.tenant_id == tenant_of(context),
                 prompt_templates.c.name == name]
        if version is not None:
            where.append(prompt_templates.c.version == _version_number(version))
        with self.engine.connect() as conn:
            row = conn.execute(select(prompt_templates).where(*where).order_by(
                prompt_templates.c.version.desc()).limit(1)).first()
        if row is None:
            if version is not None and self.exists(name, context=context):
                raise NotFound(f"template {name!r} has no version {version}", field="version")
            raise NotFound(f"unknown template {name!r}", field="name")
        return _version(row._mapping, labels)

    def versions(self, name: str, *,
                 context: RequestContext | None = None) -> list[TemplateVersion]:
        """Every version of `name`, oldest first (404 for an unknown template)."""
        check_name(name)
        labels = self.labels(name, context=context)
        with self.engine.connect() as conn:
            rows = conn.execute(select(prompt_templates).where(
                prompt_templates.c.tenant_id == tenant_of(context),
                prompt_templates.c.name == name).order_by(prompt_templates.c.version)).all()
        if not rows:
            raise NotFound(f"unknown template {name!r}", field="name")
        return [_version(row._mapping, labels) for row in rows]

    def list(self, *, context: RequestContext | None = None) -> list[dict[str, Any]]:
        """Each template of the tenant: name, newest version, count and labels."""
        tenant = tenant_of(context)
        with self.engine.connect() as conn:
            rows = conn.execute(select(
                prompt_templates.c.name, func.max(prompt_templates.c.version).label("latest"),
                func.count().label("versions")).where(
                prompt_templates.c.tenant_id == tenant).group_by(
                prompt_templates.c.name).order_by(prompt_templates.c.name)).all()
            label_rows = conn.execute(select(
                prompt_labels.c.name, prompt_labels.c.label, prompt_labels.c.version).where(
                prompt_labels.c.tenant_id == tenant)).all()
        labels: dict[str, dict[str, int]] = {}
        for lrow in label_rows:
            labels.setdefault(lrow.name, {})[lrow.label] = lrow.version
        return [{"name": row.name, "latest": row.latest, "versions": row.versions,
                 "labels": dict(sorted(labels.get(row.name, {}).items()))} for row in rows]


def _version(row: Any, labels: Mapping[str, int]) -> TemplateVersion:
    return TemplateVersion(
        name=row["name"], version=row["version"], source=row["source"],
        variables=tuple(row["variables"]), origin=row["origin"],
        parent_version=row["parent_version"], note=row["note"], created_at=row["created_at"],
        labels=tuple(sorted(k for k, v in labels.items() if v == row["version"])))
