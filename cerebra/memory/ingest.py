"""Log ingestion: JSON-lines or plain-text log files become memories, tagged from their fields.

Each non-empty line is one memory. A JSON object line gives its message (`message`, `msg`,
`event`, `text` or `log`), its level (`level`, `levelname`, `severity`), logger (`logger`,
`logger_name`, `name`) and event (`event`, `event_type`) as tags `level:error`,
`logger:app.db`, `event:login_failed` (not for an event that is a sentence), its
time (`timestamp`, `time`, `ts`, `@timestamp`,
`asctime`) as the memory's date, and its other scalar fields as metadata. Plain lines are
matched against common layouts (`2024-05-01 12:00:00,123 ERROR app.db: msg`,
`[WARNING] msg`, Python's `ERROR:app.db:msg`). Importance follows the level. Lines that
are not valid UTF-8 or are too long are counted as rejected, not fatal. Batches are
written atomically; exact duplicates are stored once (near-duplicate merging follows the
store's setting, off by default).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cerebra.errors import InvalidInput

if TYPE_CHECKING:
    from cerebra.memory.store import MemoryStore

LEVELS = {
    "trace": 0.1,
    "debug": 0.2,
    "info": 0.4,
    "notice": 0.45,
    "warn": 0.6,
    "warning": 0.6,
    "error": 0.8,
    "err": 0.8,
    "critical": 0.9,
    "fatal": 0.9,
    "crit": 0.9,
    "alert": 0.9,
    "emerg": 0.95,
    "panic": 0.95,
}
_MESSAGE_KEYS = ("message", "msg", "text", "log", "event")
_LEVEL_KEYS = ("level", "levelname", "severity", "lvl")
_LOGGER_KEYS = ("logger", "logger_name", "name", "component")
_EVENT_KEYS = ("event", "event_type", "event_name")
_TIME_KEYS = ("timestamp", "time", "ts", "@timestamp", "asctime", "datetime")
_LEVEL_RE = "|".join(sorted(LEVELS, key=len, reverse=True))
_PLAIN = [
    re.compile(
        r"^(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+"
        rf"\[?(?P<level>{_LEVEL_RE})\]?\s+(?:(?P<logger>[\w.\-]+):\s+)?(?P<msg>.+)$",
        re.IGNORECASE,
    ),
    re.compile(rf"^\[(?P<level>{_LEVEL_RE})\]\s*(?:(?P<logger>[\w.\-]+):\s+)?(?P<msg>.+)$", re.I),
    re.compile(rf"^(?P<level>{_LEVEL_RE}):(?P<logger>[\w.\-]+):(?P<msg>.+)$", re.IGNORECASE),
]


@dataclass
class IngestReport:
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": self.errors[:20],
        }


def parse_time(value: Any) -> float | None:
    """UNIX seconds from an epoch number (s or ms) or an ISO-8601-like string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str):
        raw = value.strip().replace(",", ".")
        if raw.endswith("Z"):
            raw = raw[:-1] + "+00:00"
        try:
            stamp = datetime.fromisoformat(raw)
        except ValueError:
            return None
        return stamp.timestamp()
    return None


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = record.get(key)
        if value not in (None, ""):
            return value
    return None


def parse_line(line: str) -> dict[str, Any] | None:
    """One log line → {text, tags, metadata, importance, created_at}; None if blank."""
    stripped = line.strip()
    if not stripped:
        return None
    record: dict[str, Any] | None = None
    if stripped.startswith("{"):
        try:
            loaded = json.loads(stripped)
            record = loaded if isinstance(loaded, dict) else None
        except json.JSONDecodeError:
            record = None
    if record is None:
        for pattern in _PLAIN:
            match = pattern.match(stripped)
            if match:
                record = {k: v for k, v in match.groupdict().items() if v}
                break
        else:
            record = {"msg": stripped}
    message = _first(record, _MESSAGE_KEYS)
    text = message if isinstance(message, str) else json.dumps(record, sort_keys=True)
    level = _first(record, _LEVEL_KEYS)
    logger = _first(record, _LOGGER_KEYS)
    event = _first(record, _EVENT_KEYS)
    tags: list[str] = []
    if isinstance(level, str | int):
        level = str(level).lower()
        tags.append(f"level:{level}")
    if isinstance(logger, str):
        tags.append(f"logger:{logger[:180]}")
    if isinstance(event, str) and len(event) <= 120 and (event != message or " " not in event):
        tags.append(f"event:{event}")
    used = {*_MESSAGE_KEYS, *_LEVEL_KEYS, *_LOGGER_KEYS, *_EVENT_KEYS, *_TIME_KEYS, "ts", "msg"}
    metadata = {
        k: v
        for k, v in record.items()
        if k not in used and isinstance(v, str | int | float | bool) and len(str(v)) <= 500
    }
    return {
        "text": text,
        "tags": tags,
        "metadata": metadata,
        "importance": LEVELS.get(str(level), 0.4) if level else 0.4,
        "created_at": parse_time(_first(record, _TIME_KEYS)),
    }


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as handle:
        yield from enumerate(handle, start=1)


def ingest_logs(
    store: MemoryStore,
    path: str | Path,
    *,
    agent_id: str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    batch_size: int = 256,
) -> IngestReport:
    """Read a log file and store each line as a memory; returns what happened to each line."""
    source = Path(path)
    if not source.is_file():
        raise InvalidInput(f"no such log file: {source}", field="path")
    if batch_size < 1:
        raise InvalidInput("batch_size must be >= 1", field="batch_size")
    report = IngestReport()
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        if not batch:
            return
        before = store.count(agent_id, user_id=user_id, session_id=session_id)
        ids = store.add_many(agent_id, batch, user_id=user_id, session_id=session_id, source="log")
        stored = store.count(agent_id, user_id=user_id, session_id=session_id) - before
        report.stored += stored
        report.duplicates += len(ids) - stored
        report.ids.extend(dict.fromkeys(ids))
        batch.clear()

    for number, raw in _lines(source):
        report.lines += 1
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            report.rejected += 1
            report.errors.append(f"line {number}: not valid UTF-8")
            continue
        parsed = parse_line(line)
        if parsed is None:
            continue
        if len(parsed["text"]) > store.max_chars:
            report.rejected += 1
            report.errors.append(f"line {number}: longer than {store.max_chars} characters")
            continue
        parsed["metadata"] = {**parsed["metadata"], "file": source.name, "line": number}
        if parsed["created_at"] is None:
            del parsed["created_at"]
        batch.append(parsed)
        if len(batch) >= batch_size:
            flush()
    flush()
    return report
