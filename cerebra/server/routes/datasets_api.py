"""Datasets API (issue 11): /api/v1/datasets — upload a JSONL file (multipart, or JSON with
the text) as a new version, list the tenant's datasets, show one with its versions, export a
version in OpenAI's or TRL's format, curate a version (or the tenant's signals) into a new
version, delete a dataset. A bad line is a 422 naming it (`line` in the error body);
another tenant's dataset is a 404 like one that never existed. Logic lives in
cerebra.improve.datasets and cerebra.improve.curation.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cerebra.auth.principal import Scope
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput
from cerebra.improve.curation import CurationOptions
from cerebra.improve.datasets import NAME_PATTERN, DatasetStore
from cerebra.server.auth import requires
from cerebra.server.openapi_doc import error_response
from cerebra.server.request_schemas import WHOLE

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])

MAX_UPLOAD_CHARS = 50_000_000
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="1-200 letters, digits, _ . -")]
Task = Annotated[str, Field(min_length=1, max_length=200)]
VersionNumber = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True), WHOLE]
Count = Annotated[int, Field(ge=1, le=1_000_000, strict=True), WHOLE]
DatasetPath = Annotated[str, Path(pattern=NAME_PATTERN, description="the dataset's name")]
NOT_FOUND = error_response(404, "the caller's tenant has no such dataset (or version)")


async def get_dataset_store(request: Request) -> DatasetStore:
    store = getattr(request.app.state, "dataset_store", None)
    if not isinstance(store, DatasetStore):
        store = DatasetStore(request.app.state.brain.engine)
        request.app.state.dataset_store = store
    return store


class UploadIn(BaseModel):
    """A JSONL upload (as JSON; the multipart form has the same fields, `file` for text)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    text: str = Field(min_length=1, max_length=MAX_UPLOAD_CHARS,
                      description="the JSONL file's text, one row a line")
    kind: Literal["sft", "dpo"] | None = Field(default=None,
                                               description="default: the first row's kind")
    format: Literal["openai", "trl", "auto"] = "auto"
    task: Task | None = None
    skip_invalid: bool = Field(default=False, strict=True,
                               description="import the good rows, report the bad lines")


_FORM_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["name", "file"],
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN},
        "file": {"type": "string", "format": "binary", "description": "the JSONL file"},
        "kind": {"type": "string", "enum": ["sft", "dpo"]},
        "format": {"type": "string", "enum": ["openai", "trl", "auto"]},
        "task": {"type": "string", "minLength": 1, "maxLength": 200},
        "skip_invalid": {"type": "boolean"},
    },
}
_UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": UploadIn.model_json_schema()},
    "multipart/form-data": {"schema": _FORM_SCHEMA}}}}


class VersionOut(BaseModel):
    id: str
    name: str
    version: int
    kind: str
    content_hash: str  # sha256 of the canonical JSONL of the rows
    rows: int
    parent_id: str | None
    task: str | None
    report: dict[str, Any]  # what curation (or the import) did
    lineage: dict[str, Any]  # trace ids, source versions, signals
    created_at: float


class LineErrorOut(BaseModel):
    line: int
    problem: str


class UploadOut(BaseModel):
    version: VersionOut
    rejected: list[LineErrorOut]  # lines refused (skip_invalid)


class DatasetSummaryOut(BaseModel):
    name: str
    kind: str
    task: str | None
    latest_version: int
    latest_id: str
    content_hash: str
    rows: int
    created_at: float
    updated_at: float


class DatasetListOut(BaseModel):
    datasets: list[DatasetSummaryOut]


class DatasetOut(BaseModel):
    name: str
    kind: str
    task: str | None
    versions: list[VersionOut]


class CurateIn(BaseModel):
    """Curate a version (the latest, or `version`) — or the tenant's signals — into a new
    version. The options are curation's steps (cerebra.improve.curation)."""

    model_config = ConfigDict(extra="forbid")

    version: VersionNumber | None = None
    from_signals: bool = Field(default=False, strict=True)
    task: Task | None = None
    kind: Literal["sft", "dpo"] | None = Field(
        default=None, description="from signals: the rows to make (default sft)")
    pii: Literal["scrub", "drop", "keep"] = "scrub"
    decontaminate: bool = Field(default=True, strict=True)
    ngram: Annotated[int, Field(ge=4, le=20, strict=True), WHOLE] = 8
    near_dup_threshold: float | None = Field(default=0.95, ge=0.5, le=1.0)
    min_prompt_chars: Annotated[int, Field(ge=0, le=100_000, strict=True), WHOLE] = 1
    max_prompt_chars: Annotated[int, Field(ge=1, le=200_000, strict=True), WHOLE] = 8000
    min_answer_chars: Annotated[int, Field(ge=0, le=100_000, strict=True), WHOLE] = 1
    max_answer_chars: Annotated[int, Field(ge=1, le=200_000, strict=True), WHOLE] = 8000
    balance_by: Literal["task", "source", "label"] | None = None
    cap: Count | None = None
    max_rows: Count | None = None
    seed: Annotated[int, Field(ge=0, le=2**32 - 1, strict=True), WHOLE] = 0

    def options(self) -> CurationOptions:
        return CurationOptions(
            pii=self.pii, decontaminate=self.decontaminate, ngram=self.ngram,
            near_dup_threshold=self.near_dup_threshold,
            min_prompt_chars=self.min_prompt_chars, max_prompt_chars=self.max_prompt_chars,
            min_answer_chars=self.min_answer_chars, max_answer_chars=self.max_answer_chars,
            balance_by=self.balance_by, cap=self.cap, max_rows=self.max_rows, seed=self.seed)


class DeletedOut(BaseModel):
    name: str
    versions: int


def _invalid(exc: ValidationError) -> InvalidInput:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    return InvalidInput(f"{field or 'body'}: {first.get('msg')}", field=field)


async def _upload_body(request: Request) -> UploadIn:
    """The upload from a JSON body or a multipart form (the file's text, UTF-8)."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=16)
            fields: dict[str, Any] = {k: v for k, v in form.items() if k != "file"}
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise InvalidInput("the form has no file", field="file")
            data = await upload.read()
            try:
                fields["text"] = data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput("the file is not UTF-8 text", field="file") from None
            if "skip_invalid" in fields:
                flag = str(fields["skip_invalid"]).lower()
                if flag not in ("true", "false", "1", "0"):
                    raise InvalidInput("skip_invalid is true or false", field="skip_invalid")
                fields["skip_invalid"] = flag in ("true", "1")
            return UploadIn.model_validate(fields)
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidInput("the body is neither JSON nor a multipart form",
                               field="body") from None
        return UploadIn.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    except (ValueError, KeyError, AssertionError) as exc:  # a malformed multipart body
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(f"the form could not be read: {exc}", field="body") from None


@router.post("/upload", response_model=UploadOut, status_code=201, openapi_extra=_UPLOAD_BODY,
             responses={409: error_response(409, "the dataset holds rows of the other kind"),
                        422: error_response(422, "a row of the wrong shape (its line is "
                                                 "named) or a bad field")})
async def upload(
    request: Request,
    store: DatasetStore = Depends(get_dataset_store),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE)),
) -> dict[str, Any]:
    """Import a JSONL file (OpenAI chat or DPO, or TRL's formats) as the dataset's next
    version; nothing is written when a line is bad, unless skip_invalid."""
    body = await _upload_body(request)
    version, rejected = await asyncio.to_thread(
        store.import_jsonl, ctx, body.name, body.text, fmt=body.format, kind=body.kind,
        skip_invalid=body.skip_invalid, task=body.task)
    return {"version": version.to_dict(), "rejected": [e.to_dict() for e in rejected]}


@router.get("", response_model=DatasetListOut)
async def list_datasets(
    store: DatasetStore = Depends(get_dataset_store),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
) -> dict[str, Any]:
    """The tenant's datasets with their latest versions."""
    return {"datasets": await asyncio.to_thread(store.list, ctx)}


@router.get("/{dataset}", response_model=DatasetOut, responses={404: NOT_FOUND})
async def show_dataset(
    dataset: DatasetPath,
    store: DatasetStore = Depends(get_dataset_store),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
) -> dict[str, Any]:
    """A dataset and every version of it, oldest first."""
    versions = await asyncio.to_thread(store.versions, ctx, dataset)
    return {"name": dataset, "kind": versions[-1].kind, "task": versions[-1].task,
            "versions": [v.to_dict() for v in versions]}


@router.get("/{dataset}/export", response_class=Response, responses={
    200: {"description": "the version's rows as JSONL",
          "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
    404: NOT_FOUND})
async def export_dataset(
    dataset: DatasetPath,
    format: Literal["openai", "trl"] = Query(default="openai"),
    version: int | None = Query(default=None, ge=1, le=2**31 - 1),
    conversational: bool = Query(default=False, description="trl: messages, not strings"),
    meta: bool = Query(default=False, description="keep source, trace_id and task keys"),
    store: DatasetStore = Depends(get_dataset_store),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
) -> Response:
    """A version (the latest, or `version`) as JSONL in OpenAI's or TRL's format."""
    text = await asyncio.to_thread(store.export_jsonl, ctx, dataset, version=version,
                                   fmt=format, conversational=conversational, meta=meta)
    return Response(text, media_type="application/x-ndjson")


def _embedder(request: Request) -> Any:
    memory = getattr(request.app.state.brain, "memory", None)
    return getattr(memory, "embedder", None)


def _policy(request: Request) -> Any:
    from cerebra.improve.setup import policy_engine_of

    return policy_engine_of(request.app.state.brain)


@router.post("/{dataset}/curate", response_model=VersionOut, status_code=201,
             responses={404: NOT_FOUND,
                        409: error_response(409, "the dataset holds rows of the other kind")})
async def curate_dataset(
    body: CurateIn,
    request: Request,
    dataset: DatasetPath,
    store: DatasetStore = Depends(get_dataset_store),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE)),
) -> dict[str, Any]:
    """Curate into the dataset's next version: its report counts what each step did."""
    embedder = _embedder(request) if body.near_dup_threshold is not None else None
    version = await asyncio.to_thread(
        store.curate, ctx, dataset, version=body.version, from_signals=body.from_signals,
        task=body.task, kind=body.kind, embedder=embedder, policy=_policy(request),
        options=body.options())
    return version.to_dict()


@router.delete("/{dataset}", response_model=DeletedOut, responses={404: NOT_FOUND})
async def delete_dataset(
    dataset: DatasetPath,
    store: DatasetStore = Depends(get_dataset_store),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE)),
) -> dict[str, Any]:
    """Forget a dataset, every version and row of it."""
    return {"name": dataset, "versions": await asyncio.to_thread(store.delete, ctx, dataset)}
