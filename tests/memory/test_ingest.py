"""Log ingestion: JSON lines and plain text become tagged memories; bad lines are counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cerebra.errors import InvalidInput
from cerebra.memory import MemoryStore, SQLiteBackend, ingest_logs
from cerebra.memory.ingest import parse_line, parse_time
from cerebra.testing import FakeEmbedder


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return MemoryStore(SQLiteBackend(str(tmp_path / "m.db")), FakeEmbedder(), max_chars=500)


def test_json_and_plain_lines(store: MemoryStore, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    lines = [
        json.dumps(
            {
                "timestamp": "2024-05-01T10:00:00Z",
                "level": "ERROR",
                "logger": "app.db",
                "message": "connection pool exhausted",
                "pool": 20,
            }
        ),
        json.dumps({"event": "user_login_failed", "level": "warning", "user": "ana"}),
        "2024-05-01 10:00:03,250 INFO app.web: GET /health 200",
        "[CRITICAL] disk full on /var",
        "ERROR:payments:card declined",
        "just a line with no structure",
        "",
        json.dumps({"level": "error", "logger": "app.db", "message": "connection pool exhausted"}),
    ]
    log.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe broken line\n" + b"y" * 600)
    report = ingest_logs(store, log, agent_id="ops", batch_size=3)
    assert (report.lines, report.stored, report.duplicates, report.rejected) == (10, 6, 1, 2)
    assert any("UTF-8" in e for e in report.errors)
    errors = store.by_tag("ops", "level:error")
    assert {m.text for m in errors} == {"connection pool exhausted", "card declined"}
    memory = store.by_tag("ops", "logger:app.db")[0]
    assert set(memory.tags) == {"level:error", "logger:app.db"}
    assert memory.metadata["pool"] == 20 and memory.metadata["file"] == "app.log"
    assert memory.created_at == parse_time("2024-05-01T10:00:00Z") and memory.importance == 0.8
    assert [m.text for m in store.by_tag("ops", "event:user_login_failed")] == ["user_login_failed"]
    assert [m.text for m in store.by_tag("ops", "logger:app.web")] == ["GET /health 200"]
    assert [m.text for m in store.by_tag("ops", "level:critical")] == ["disk full on /var"]
    assert [m.text for m in store.by_tag("ops", "logger:payments")] == ["card declined"]
    assert store.search("ops", "pool exhausted")[0].memory.uid == memory.uid
    again = ingest_logs(store, log, agent_id="ops")
    assert again.stored == 0 and again.duplicates == 7


def test_parse_helpers() -> None:
    assert parse_line("   ") is None
    assert parse_time(1714557600000) == 1714557600.0
    assert parse_time("not a date") is None
    parsed = parse_line('{"msg": "x", "lvl": "debug", "nested": {"a": 1}}')
    assert parsed is not None and parsed["tags"] == ["level:debug"] and parsed["metadata"] == {}


def test_missing_file_is_invalid_input(store: MemoryStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        ingest_logs(store, tmp_path / "nope.log")
    assert err.value.field == "path"
