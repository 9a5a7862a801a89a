"""Settings documented: every setting's environment names, type, default and description,
the README's settings table (`cerebra config show --markdown`), and the environment name of
a setting that failed validation (for the CLI's one-line error)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from cerebra.config import DELIMITER, GROUPS, PREFIX, Settings, env_alias


class SettingSpec(BaseModel):
    """One setting as documented: `group` is "" for the top-level ones."""

    group: str
    name: str
    env: str
    alias: str | None
    type: str
    default: str
    description: str


def specs() -> list[SettingSpec]:
    """Every setting, top-level first, then group by group, in declaration order."""
    out: list[SettingSpec] = []
    for name, info in Settings.model_fields.items():
        if name not in GROUPS:
            out.append(_spec("", name, info, f"{PREFIX}{name.upper()}"))
    for group, model in GROUPS.items():
        for name, info in model.model_fields.items():
            env = f"{PREFIX}{group.upper()}{DELIMITER}{name.upper()}"
            out.append(_spec(group, name, info, env))
    return out


def _spec(group: str, name: str, info: FieldInfo, env: str) -> SettingSpec:
    return SettingSpec(
        group=group,
        name=name,
        env=env,
        alias=env_alias(info),
        type=_type_name(info),
        default=_default_text(name, info),
        description=info.description or "",
    )


def _type_name(info: FieldInfo) -> str:
    annotation = info.annotation
    args = [a for a in get_args(annotation) if a is not type(None)]
    optional = len(args) < len(get_args(annotation))
    if optional and len(args) == 1:
        annotation = args[0]
    if get_origin(annotation) is Literal:
        text = "one of " + ", ".join(str(a) for a in get_args(annotation))
    elif get_origin(annotation) is list:
        text = f"JSON list of {_TYPE_NAMES.get(get_args(annotation)[0], 'values')}"
    else:
        text = _TYPE_NAMES.get(annotation, str(annotation))
    bounds = [
        f"{sign} {getattr(meta, attr)}"
        for meta in info.metadata
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))
        if getattr(meta, attr, None) is not None
    ]
    return ", ".join([text, *bounds]) + (" or unset" if optional else "")


_TYPE_NAMES: dict[Any, str] = {
    str: "text", int: "integer", float: "number", bool: "true/false", Path: "path",
    SecretStr: "secret text",
}


def _default_text(name: str, info: FieldInfo) -> str:
    if name == "home":
        return "per-user data folder"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):  # an empty one is "unset", not a value to keep secret
        return "(development value)" if value.get_secret_value() else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, list) else str(value)


def markdown_table() -> str:
    """The settings table of the README (generated: `cerebra config show --markdown`)."""
    lines = [
        "| setting | also read as | type | default | what it does |",
        "|---|---|---|---|---|",
    ]
    current = None
    for spec in specs():
        if spec.group != current:
            current = spec.group
            if spec.group:
                doc = (GROUPS[spec.group].__doc__ or "").strip()
                lines.append(f"| **{spec.group}** | | | | {_cell(doc)} |")
        alias = f"`{spec.alias}`" if spec.alias else ""
        lines.append(
            f"| `{spec.env}` | {alias} | {_cell(spec.type)} | {_cell(spec.default)} "
            f"| {_cell(spec.description)} |"
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def env_name_for(loc: tuple[str | int, ...], environ: Mapping[str, str] | None = None) -> str:
    """The environment name of the setting at a validation error's location: the one set in
    the environment (grouped or alias), else the grouped name."""
    environ = os.environ if environ is None else environ
    parts = [str(p) for p in loc]
    if not parts:
        return PREFIX.rstrip("_")
    if parts[0] in GROUPS and len(parts) > 1:
        names = [f"{PREFIX}{parts[0].upper()}{DELIMITER}{parts[1].upper()}"]
        info = GROUPS[parts[0]].model_fields.get(parts[1])
        if info is not None and (alias := env_alias(info)):
            names.append(alias)
    else:
        names = [f"{PREFIX}{parts[0].upper()}"]
    upper = {key.upper() for key in environ}
    for env in names:
        if env in upper:
            return env
    return names[0]


def env_values(settings: Settings) -> list[tuple[str, Any]]:
    """(environment name, masked value) of every setting, in table order."""
    shown = settings.masked()
    return [
        (spec.env, shown[spec.group][spec.name] if spec.group else shown[spec.name])
        for spec in specs()
    ]
