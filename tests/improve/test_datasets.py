"""DatasetStore on SQLite and PostgreSQL: versions numbered per name with a content hash
over the rows, lineage, immutable versions, JSONL import refusing bad files whole, export,
and another tenant's datasets out of reach."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from cerebra.context import RequestContext
from cerebra.db.improve_tables import dataset_rows
from cerebra.errors import Conflict, InvalidInput, NotFound
from cerebra.improve.datasets import DatasetStore
from cerebra.improve.formats import parse_jsonl
from cerebra.improve.rows import PrefPair, SftRow

ACME = RequestContext(tenant_id="acme")
GLOBEX = RequestContext(tenant_id="globex")
ROWS = [SftRow("2+2?", "4", "kit", "a" * 32, "math"), SftRow("3+3?", "6", "user", "b" * 32)]


def test_versions_hashes_and_lineage(sql_engine: Engine) -> None:
    store = DatasetStore(sql_engine)
    v1 = store.create_version(ACME, "math", "sft", ROWS, task="math")
    assert (v1.version, v1.rows, v1.kind, v1.task) == (1, 2, "sft", "math")
    assert v1.lineage == {"trace_ids": ["a" * 32, "b" * 32]}
    v2 = store.create_version(ACME, "math", "sft", list(ROWS), parent=v1,
                              report={"steps": []})
    assert v2.version == 2 and v2.parent_id == v1.id
    assert v2.content_hash == v1.content_hash  # identical rows, identical hash
    assert v2.lineage["versions"] == [v1.id]
    v3 = store.create_version(ACME, "math", "sft", ROWS[:1], parent=v2.id)
    assert v3.content_hash != v1.content_hash and v3.task == "math"

    assert store.get(ACME, "math") == v3
    assert store.get(ACME, "math", 1) == v1
    assert store.get(ACME, v2.id) == v2
    assert [v.version for v in store.versions(ACME, "math")] == [1, 2, 3]
    assert store.rows(ACME, v1.id) == ROWS
    assert store.rows(ACME, v3.id) == ROWS[:1]
    (listed,) = store.list(ACME)
    assert (listed["name"], listed["latest_version"], listed["rows"]) == ("math", 3, 1)


def test_preference_rows_and_kind_kept(sql_engine: Engine) -> None:
    store = DatasetStore(sql_engine)
    pairs = [PrefPair("hi", "hello", "go away", "rlaif")]
    v = store.create_version(ACME, "prefs", "dpo", pairs)
    assert store.rows(ACME, v.id) == pairs
    with pytest.raises(Conflict, match="holds dpo rows"):
        store.create_version(ACME, "prefs", "sft", ROWS)
    with pytest.raises(InvalidInput, match="row 0: a sft row in a dpo dataset"):
        store.create_version(ACME, "other", "dpo", ROWS)
    with pytest.raises(InvalidInput, match="dataset name"):
        store.create_version(ACME, "../x", "sft", ROWS)


def test_other_tenant_sees_nothing(sql_engine: Engine) -> None:
    store = DatasetStore(sql_engine)
    v = store.create_version(ACME, "math", "sft", ROWS)
    for look in (lambda: store.get(GLOBEX, "math"), lambda: store.get(GLOBEX, v.id),
                 lambda: store.rows(GLOBEX, v.id), lambda: store.versions(GLOBEX, "math"),
                 lambda: store.delete(GLOBEX, "math")):
        with pytest.raises(NotFound):
            look()
    assert store.list(GLOBEX) == []
    # the same name is another dataset in another tenant
    assert store.create_version(GLOBEX, "math", "dpo", [PrefPair("a", "b", "c")]).version == 1


def test_import_refuses_a_bad_file_whole_unless_skipping(sql_engine: Engine) -> None:
    store = DatasetStore(sql_engine)
    good = json.dumps({"messages": [{"role": "user", "content": "q"},
                                    {"role": "assistant", "content": "a"}]})
    text = f"{good}\n{{\"messages\": 1}}\n{good}\n"
    with pytest.raises(InvalidInput, match="line 2: messages must be"):
        store.import_jsonl(ACME, "up", text)
    with pytest.raises(NotFound):
        store.get(ACME, "up")
    with sql_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(dataset_rows)).scalar() == 0
    version, rejected = store.import_jsonl(ACME, "up", text, skip_invalid=True)
    assert version.rows == 2 and [e.line for e in rejected] == [2]
    assert version.report["import"]["rejected"][0]["line"] == 2


def test_export_and_delete(sql_engine: Engine, tmp_path: Path) -> None:
    store = DatasetStore(sql_engine)
    store.create_version(ACME, "math", "sft", ROWS)
    store.create_version(ACME, "math", "sft", ROWS[:1])
    trl = store.export_jsonl(ACME, "math", version=1, fmt="trl")
    assert [json.loads(line) for line in trl.splitlines()] == [
        {"prompt": "2+2?", "completion": "4"}, {"prompt": "3+3?", "completion": "6"}]
    assert parse_jsonl(store.export_jsonl(ACME, "math", fmt="openai", meta=True)).rows == \
        ROWS[:1]
    written = store.export_file(ACME, "math", tmp_path / "sub" / "rows.jsonl")
    assert written.version == 2
    assert parse_jsonl((tmp_path / "sub" / "rows.jsonl").read_text(), fmt="trl").rows == [
        SftRow("2+2?", "4")]
    assert store.delete(ACME, "math") == 2
    with pytest.raises(NotFound):
        store.get(ACME, "math")
    with sql_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(dataset_rows)).scalar() == 0
