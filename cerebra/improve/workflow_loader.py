"""Reading workflow YAML with its line numbers: parsing (duplicate keys and aliases refused),
`extends:` chains (recursive, cycles refused), environment overrides, and turning a
validation error into `line N: key: problem`. The schema is cerebra.improve.workflow."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from cerebra.improve.workflow_schema import (
    ENV_PREFIX,
    MAX_YAML_CHARS,
    NAME_PATTERN,
    SYNONYMS,
    EvalSuite,
    PromotionRule,
    Workflow,
    WorkflowError,
    template_path,
    templates,
)

MAX_DEPTH = 16
Path_ = tuple[str, ...]


@dataclass(frozen=True)
class Where:
    """Where a key's value came from: a line of the document itself, of a parent, or an
    environment variable."""

    source: str  # "" for the document being loaded
    line: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.source
        return f"line {self.line}" if not self.source else f"{self.source} line {self.line}"


class _Loader(yaml.SafeLoader):
    """Safe YAML whose floats include `1e-4` (YAML 1.2), not only `1.0e-4`."""


_Loader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:float"]
                                   for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _walk(node: yaml.Node, path: Path_, label: str, where: dict[Path_, Where],
          seen: set[int]) -> None:
    if id(node) in seen:
        raise WorkflowError(f"{Where(label, _line(node))}: YAML anchors and aliases are not "
                            "accepted", field=".".join(path) or None, line=_line(node))
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org," \
                    "2002:merge":
                raise WorkflowError(f"{Where(label, _line(key_node))}: keys must be plain "
                                    "words", line=_line(key_node))
            key = str(key_node.value)
            if key in keys:
                raise WorkflowError(f"{Where(label, _line(key_node))}: {'.'.join((*path, key))}"
                                    ": given twice", field=key, line=_line(key_node))
            keys.add(key)
            where[(*path, key)] = Where(label, _line(key_node))
            _walk(value_node, (*path, key), label, where, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            where[(*path, str(i))] = Where(label, _line(item))
            _walk(item, (*path, str(i)), label, where, seen)


def parse(text: str, label: str = "") -> tuple[dict[str, Any], dict[Path_, Where]]:
    """A YAML mapping and the line of each key (and list item)."""
    if len(text) > MAX_YAML_CHARS:
        raise WorkflowError(f"a workflow is at most {MAX_YAML_CHARS} characters", field="yaml")
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else int(mark.line) + 1
        raise WorkflowError(f"{Where(label, line)}: not YAML: {exc.problem or exc.context}",
                            field="yaml", **({} if line is None else {"line": line})) from None
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{label or 'workflow'}: not YAML: {exc}", field="yaml") from None
    if node is None:
        return {}, {}
    if not isinstance(node, yaml.MappingNode):
        raise WorkflowError(f"{Where(label, _line(node))}: a workflow is a mapping of keys",
                            field="yaml", line=_line(node))
    where: dict[Path_, Where] = {}
    _walk(node, (), label, where, set())
    data = yaml.load(text, Loader=_Loader)
    for alias, name in SYNONYMS.items():  # one spelling, so overriding works across files
        if alias in data:
            if name in data:
                raise WorkflowError(f"{where[(alias,)]}: {alias}: the same key as {name}: "
                                    "give one", field=alias, line=where[(alias,)].line)
            data[name] = data.pop(alias)
            _move(where, (alias,), (name,))
    return data, where


def _move(where: dict[Path_, Where], old: Path_, new: Path_) -> None:
    for path in [p for p in where if p[:len(old)] == old]:
        where[new + path[len(old):]] = where.pop(path)


def _merge(parent: dict[str, Any], parent_where: dict[Path_, Where], child: dict[str, Any],
           child_where: dict[Path_, Where], path: Path_ = ()) -> dict[str, Any]:
    merged = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], parent_where, value, child_where, (*path, key))
            parent_where[(*path, key)] = child_where[(*path, key)]
        else:
            for p in [p for p in parent_where if p[:len(path) + 1] == (*path, key)]:
                del parent_where[p]
            merged[key] = value
            parent_where.update({p: w for p, w in child_where.items()
                                 if p[:len(path) + 1] == (*path, key)})
    return merged


def resolve(source: str | Path, *, base_dir: str | Path | None = None,
            lookup: Callable[[str], str | None] | None = None,
            _chain: tuple[str, ...] = (), _label: str = "") -> tuple[dict[str, Any],
                                                                      dict[Path_, Where]]:
    """The document's keys with every `extends:` ancestor merged under them."""
    if isinstance(source, Path):
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise WorkflowError(f"cannot read {source}: {exc.strerror}", field="path") from None
        base_dir = source.parent if base_dir is None else base_dir
    else:
        text = source
    data, where = parse(text, _label)
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return data, where
    line = where[("extends",)]
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise WorkflowError(f"{line}: extends: must name a template, a stored workflow or a "
                            "file", field="extends", line=line.line)
    identity, parent_source, parent_dir = _locate(parent_ref, line, base_dir, lookup)
    chain = (*_chain, identity)
    if identity in _chain:
        raise WorkflowError(f"{line}: extends: a cycle ({' → '.join(chain)})",
                            field="extends", line=line.line)
    if len(chain) > MAX_DEPTH:
        raise WorkflowError(f"{line}: extends: more than {MAX_DEPTH} levels", field="extends",
                            line=line.line)
    parent, parent_where = resolve(parent_source, base_dir=parent_dir, lookup=lookup,
                                   _chain=chain, _label=identity)
    parent.pop("name", None)  # a name is never inherited
    for p in [p for p in parent_where if p[:1] == ("name",)]:
        del parent_where[p]
    for p in [p for p in where if p[:1] == ("extends",)]:
        del where[p]
    merged = _merge(parent, parent_where, data, where)
    return merged, parent_where


def _locate(ref: str, line: Where, base_dir: str | Path | None,
            lookup: Callable[[str], str | None] | None) -> tuple[str, str | Path, Path | None]:
    """(identity, source, its base dir) of an `extends:` reference."""
    looks_like_path = "/" in ref or ref.endswith((".yaml", ".yml"))
    if looks_like_path:
        if base_dir is None:
            raise WorkflowError(f"{line}: extends: {ref!r}: a file may be extended only from "
                                "a local file (here: a template or a stored workflow)",
                                field="extends", line=line.line)
        path = (Path(base_dir) / ref).resolve()
        if not path.is_file():
            raise WorkflowError(f"{line}: extends: no file {str(path)!r}", field="extends",
                                line=line.line)
        return path.name, path, path.parent
    if re.match(NAME_PATTERN, ref) and ref in templates():
        return f"{ref}.yaml", template_path(ref), None
    stored = lookup(ref) if lookup is not None and re.match(NAME_PATTERN, ref) else None
    if stored is not None:
        return f"workflow {ref}", stored, None
    raise WorkflowError(f"{line}: extends: no template or stored workflow {ref!r} "
                        f"(templates: {', '.join(templates())})", field="extends",
                        line=line.line)


_NESTED: dict[str, type[BaseModel]] = {"eval": EvalSuite, "promotion": PromotionRule}


def apply_env(data: MutableMapping[str, Any], where: dict[Path_, Where],
              env: Mapping[str, str]) -> None:
    """Override keys from CEREBRA_WORKFLOW_<KEY>[__<SUBKEY>] variables, typed as YAML."""
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in var[len(ENV_PREFIX):].split("__")]
        parts[0] = SYNONYMS.get(parts[0], parts[0])
        model: type[BaseModel] = _NESTED.get(parts[0], Workflow) if len(parts) > 1 else Workflow
        if len(parts) > 2 or parts[-1] not in model.model_fields or (
                len(parts) == 2 and parts[0] not in _NESTED):
            raise WorkflowError(f"{var}: no workflow key {'.'.join(parts)!r}", field=var)
        try:
            value = yaml.load(env[var], Loader=_Loader)
        except yaml.YAMLError:
            value = env[var]
        annotation = str(model.model_fields[parts[-1]].annotation)
        if "list" in annotation and isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        target: MutableMapping[str, Any] = data
        if len(parts) == 2:
            target = data.setdefault(parts[0], {})
            if not isinstance(target, dict):
                raise WorkflowError(f"{var}: {parts[0]} is not a mapping", field=var)
        target[parts[-1]] = value
        where[tuple(parts)] = Where(var)


def _problem(error: Mapping[str, Any], path: Path_) -> str:
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _NESTED.get(path[0], Workflow) if len(path) > 1 else Workflow
        known = list(model.model_fields) + (list(SYNONYMS) if model is Workflow else [])
        close = difflib.get_close_matches(path[-1], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown key{hint}"
    bounds = {"greater_than_equal": "≥ {ge}", "less_than_equal": "≤ {le}",
              "greater_than": "> {gt}", "less_than": "< {lt}"}
    if kind in bounds:
        return "must be " + bounds[kind].format(**ctx)
    plain = {"int_type": "must be a whole number", "int_from_float": "must be a whole number",
             "float_type": "must be a number", "bool_type": "must be true or false",
             "string_type": "must be text", "list_type": "must be a list",
             "model_type": "must be a mapping of keys", "dict_type": "must be a mapping of keys",
             "missing": "required"}
    if kind in plain:
        return plain[kind]
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        return "not a valid name (letters, digits, _ . -; a dataset may add @version)"
    if kind in ("too_short", "too_long"):
        return str(error.get("msg", "")).replace("List", "the list").lower()
    return str(error.get("msg", "invalid"))


def describe_error(error: Mapping[str, Any], where: Mapping[Path_, Where]
                   ) -> tuple[str, str | None, int | None]:
    """(`line N: key: problem`, the key, N) for the first pydantic error."""
    loc: Path_ = tuple(str(p) for p in error.get("loc", ()))
    key = ".".join(loc) or None
    found: Where | None = None
    for n in range(len(loc), 0, -1):
        if loc[:n] in where:
            found = where[loc[:n]]
            break
    problem = _problem(error, loc)
    if key is None:
        return f"workflow: {problem}", None, None
    prefix = f"{found}: " if found is not None else ""
    return f"{prefix}{key}: {problem}", key, None if found is None or found.source else found.line
