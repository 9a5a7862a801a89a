"""What a catalog entry sent over the API may be: one pydantic model per kind, built from the
kinds registry (catalog_kinds.KindSpec: the fields a kind needs, whether it has local
weights, the model of its options), that `Catalog.submit` validates an entry against — and
the same models as the OpenAPI schema of `POST /api/models` (a `oneOf` discriminated by
`kind`), narrowed to what a server's EntryPolicy lets through.

Per kind: `name` (the catalog's pattern), `kind`, `model`, `context_length`, `price`,
`default`, `enabled` and the kind's `options`; `path`, `lora` and their `sha256`/`signature`
pins only for kinds with local weights; `base_url` and `api_key` only for kinds that talk to
a remote host. No string holds `${`, and there is no `api_key_env` (cerebra.models
.catalog_policy). The document states the policy too: `path`/`lora` under the model
directories, `base_url` on the host allow-list (with the kind's default host, if allowed,
`base_url` is optional); a kind the policy cannot admit at all (no model directory, no host)
is left out. What no schema can say — a file that does not exist (404), a symlink out of the
model directories (403) — stays the server's answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from cerebra.errors import InvalidInput
from cerebra.models.catalog_kinds import KindSpec, ModelEntry, kind_spec, known_kinds
from cerebra.models.catalog_options import SAFE, KindOptions, SafeStr, Whole
from cerebra.models.catalog_policy import REMOTE_DEFAULT_HOSTS, EntryPolicy

_NAME = ModelEntry.model_fields["name"].metadata[0].pattern
_HEX64 = r"^[0-9a-fA-F]{64}$"
_FILE = r"^([^$\x00]|\$+[^${\x00])*\$*$"  # no `${`, no NUL
_SECRET = r"^[\x21-\x23\x25-\x7e]{1,1000}$"  # printable ASCII, no space, no `$`
_PORT = r"(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_URL_PATH = r"(?:/[A-Za-z0-9._~!&'()*+,;=:@%/-]*)?"
_SEGMENT = r"(?:[^/\x00$.][^/\x00$]*|\.[^/\x00$.][^/\x00$]*|\.\.[^/\x00$]+)"  # not . or ..
_LABEL = r"[a-z0-9-]+"
_COMPONENT = "CatalogEntry_{}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PriceIn(_Strict):
    """USD per token (`input`/`output`) or per million tokens (`*_per_mtok`)."""

    input: Annotated[float, Field(ge=0, le=1e6)] | None = None
    output: Annotated[float, Field(ge=0, le=1e6)] | None = None
    input_per_mtok: Annotated[float, Field(ge=0, le=1e6)] | None = None
    output_per_mtok: Annotated[float, Field(ge=0, le=1e6)] | None = None
    cached_input: Annotated[float, Field(ge=0, le=1e6)] | None = None
    cached_input_per_mtok: Annotated[float, Field(ge=0, le=1e6)] | None = None


class NoOptions(KindOptions):
    """A kind that declares no options takes none over the API."""


def remote(kind: str, spec: KindSpec) -> bool:
    return "base_url" in spec.needs or kind in REMOTE_DEFAULT_HOSTS


@functools.cache
def submission_model(kind: str) -> type[BaseModel]:
    """The model of an entry of `kind` sent over the API (raises KeyError: unknown kind)."""
    spec = kind_spec(kind)
    if spec is None:
        raise KeyError(kind)
    text = Annotated[str, Field(min_length=1, max_length=1000, pattern=SAFE)]
    file = Annotated[str, Field(min_length=1, max_length=4096, pattern=_FILE)]
    pin = Annotated[str, Field(pattern=_HEX64)]

    def field(kind_of: Any, name: str) -> tuple[Any, Any]:
        return (kind_of, ...) if name in spec.needs else (kind_of | None, None)

    fields: dict[str, Any] = {
        "name": (Annotated[str, Field(pattern=_NAME)], ...),
        "kind": (Literal[kind], ...),
        "model": (Annotated[str, Field(min_length=1, max_length=200, pattern=SAFE)] | None,
                  None),
        "context_length": (Annotated[int, Field(ge=16, le=10_000_000), Whole] | None, None),
        "price": (PriceIn | None, None),
        "default": (bool, False),
        "enabled": (bool, True),
        "options": (spec.options or NoOptions, Field(default_factory=spec.options or NoOptions)),
    }
    if spec.files:
        fields.update(path=field(file, "path"), lora=field(file, "lora"),
                      sha256=(pin | None, None), signature=(text | None, None),
                      lora_sha256=(pin | None, None), lora_signature=(text | None, None))
    if remote(kind, spec):
        fields.update(base_url=field(Annotated[SafeStr, Field(max_length=2000)], "base_url"),
                      api_key=(Annotated[str, Field(pattern=_SECRET)] | None, None))
    return create_model(_COMPONENT.format(kind), __base__=_Strict,
                        __doc__=f"A catalog entry of kind {kind} sent over the API.",
                        **fields)


def validate_submission(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The entry as its kind's model reads it, without unset fields (raises InvalidInput
    naming the field)."""
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind_spec(kind) is None:
        raise InvalidInput(f"unknown kind {kind!r}; known: {', '.join(known_kinds())}",
                           field="kind")
    try:
        entry = submission_model(kind).model_validate(dict(spec))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"{where}: {err['msg']}" if where else str(err["msg"]),
                           field=where or "model") from exc
    return entry.model_dump(exclude_none=True)  # options too: unset ones are the backend's


# -- the OpenAPI document ----------------------------------------------------------------

def openapi_schema(policy: EntryPolicy) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the request body's schema, its component schemas) of the entries `policy` admits."""
    components: dict[str, Any] = {}
    mapping: dict[str, str] = {}
    for kind in known_kinds():
        spec = kind_spec(kind)
        if spec is None:
            continue
        model = submission_model(kind)
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        if not _narrow(schema, kind, spec, policy):
            continue
        components[model.__name__] = schema
        mapping[kind] = f"#/components/schemas/{model.__name__}"
    body = {"oneOf": [{"$ref": ref} for ref in mapping.values()],
            "discriminator": {"propertyName": "kind", "mapping": mapping}}
    return body, components


def _narrow(schema: dict[str, Any], kind: str, spec: KindSpec, policy: EntryPolicy) -> bool:
    """State `policy` in the schema of a kind; False when it admits no entry of the kind."""
    props = schema["properties"]
    if spec.files:
        files = _files(policy)
        for name in ("path", "lora"):
            if name in spec.needs and files is None:
                return False
            _replace(schema, name, None if files is None else {
                "type": "string", "pattern": files, "maxLength": 4096})
    if "base_url" in props and kind in policy.remote_kinds:
        hosts = _hosts(policy)
        default = policy.remote_kinds[kind]
        if default is None or not policy.host_allowed(default):
            schema.setdefault("required", []).append("base_url")
            if hosts is None:
                return False
        _replace(schema, "base_url", None if hosts is None else {
            "type": "string", "pattern": hosts, "maxLength": 2000})
    return True


def _replace(schema: dict[str, Any], name: str, value: dict[str, Any] | None) -> None:
    """Give a property a new schema (None: no value but null, if optional)."""
    required = name in schema.get("required", [])
    title = schema["properties"][name].get("title")
    branches = [value] if value is not None else []
    if not required:
        branches.append({"type": "null"})
    new = branches[0] if len(branches) == 1 else {"anyOf": branches}
    schema["properties"][name] = new | ({"title": title} if title else {})


def _escape(text: str) -> str:
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def _files(policy: EntryPolicy) -> str | None:
    """A pattern of the absolute paths under a model directory (no `.` or `..`)."""
    dirs = [_escape(str(d).rstrip("/")) for d in policy.model_dirs]
    if not dirs:
        return None
    return rf"^(?:{'|'.join(dirs)})(?:/{_SEGMENT})+$"


def _hosts(policy: EntryPolicy) -> str | None:
    """A pattern of the http(s) URLs whose host is on the allow-list."""
    alternatives = []
    for allowed in policy.allowed_hosts:
        port = rf"(?::{_PORT})?"
        if allowed.startswith("["):
            name, _, rest = allowed[1:].partition("]")
            host = rf"\[{_escape(name)}\]"
            if rest.startswith(":") and rest[1:].isdigit():
                port = f":{int(rest[1:])}"
            if not re.fullmatch(r"[0-9a-f:.]+", name):
                continue
        else:
            name, _, num = allowed.partition(":") if allowed.count(":") == 1 else (allowed, "", "")
            if num.isdigit():
                port = f":{int(num)}"
            if name.startswith("*."):
                name = name[2:]
                host = rf"{_LABEL}(?:\.{_LABEL})*\.{_escape(name)}"
            else:
                host = _escape(name)
            if not re.fullmatch(r"[a-z0-9.-]+", name):
                continue
        alternatives.append(f"{host}{port}")
    if not alternatives:
        return None
    return rf"^https?://(?:{'|'.join(alternatives)}){_URL_PATH}$"


