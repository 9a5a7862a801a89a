"""Effect checks of the audit settings: on/off, checkpoint spacing, the JSON-lines copy, the
signing key (a setting or a key file) and the public key verification insists on."""

from __future__ import annotations

from cerebra.brain import Brain
from cerebra.governance.audit import Signer
from cerebra.governance.audit_jsonl import JsonlChainSource
from cerebra.governance.audit_setup import trusted_keys
from cerebra.governance.audit_sinks import DatabaseAuditSink
from cerebra.governance.audit_verify import verify_source
from tests.effects.base import Env, effect
from tests.helpers import run_cli

SEED = "11" * 32


def _asked(brain: Brain, n: int) -> DatabaseAuditSink:
    for i in range(n):
        brain.ask(f"question {i}", memory=False)
    assert brain.audit is not None and brain.audit.flush()
    return DatabaseAuditSink(brain.engine)


@effect("CEREBRA_AUDIT__ENABLED")
def _enabled(env: Env) -> None:
    db = _asked(env.brain(CEREBRA_AUDIT__ENABLED="true"), 1)
    assert [e.event.action for e in db.entries("default")] == ["request"]
    off = env.brain(CEREBRA_AUDIT__ENABLED="false", CEREBRA_HOME=str(env.tmp / "off"))
    assert off.audit is None
    off.ask("question", memory=False)
    assert list(DatabaseAuditSink(off.engine).entries("default")) == []


@effect("CEREBRA_AUDIT__CHECKPOINT_EVERY")
def _checkpoint_every(env: Env) -> None:
    db = _asked(env.brain(CEREBRA_AUDIT__CHECKPOINT_EVERY="2"), 5)
    assert [c.seq for c in db.checkpoints("default")] == [2, 4]


@effect("CEREBRA_AUDIT__LINGER_S")
def _linger_s(env: Env) -> None:
    brain = env.brain(CEREBRA_AUDIT__LINGER_S="60")
    brain.ask("question", memory=False)
    db = DatabaseAuditSink(brain.engine)
    assert list(db.entries("default")) == []  # gathered, journalled, not stored yet
    assert brain.audit is not None and brain.audit.flush()
    assert [e.event.action for e in db.entries("default")] == ["request"]


@effect("CEREBRA_AUDIT__JSONL_PATH")
def _jsonl_path(env: Env) -> None:
    path = env.tmp / "copy" / "audit.jsonl"
    _asked(env.brain(CEREBRA_AUDIT__JSONL_PATH=str(path)), 3)
    (report,) = verify_source(JsonlChainSource(path))
    assert report.ok and report.entries == 3


@effect("CEREBRA_AUDIT__SIGNING_KEY")
def _signing_key(env: Env) -> None:
    db = _asked(env.brain(CEREBRA_AUDIT__SIGNING_KEY=SEED, CEREBRA_AUDIT__CHECKPOINT_EVERY="1"),
                1)
    (checkpoint,) = db.checkpoints("default")
    assert checkpoint.public_key == Signer.from_hex(SEED).public_key
    assert not (env.tmp / "home" / "audit" / "signing.key").exists()


@effect("CEREBRA_AUDIT__SIGNING_KEY_PATH")
def _signing_key_path(env: Env) -> None:
    path = env.tmp / "keys" / "audit.key"
    db = _asked(env.brain(CEREBRA_AUDIT__SIGNING_KEY_PATH=str(path),
                          CEREBRA_AUDIT__CHECKPOINT_EVERY="1"), 1)
    assert path.stat().st_mode & 0o777 == 0o600
    (checkpoint,) = db.checkpoints("default")
    assert checkpoint.public_key == Signer.from_file(path).public_key
    assert (path.parent / "audit.key.pub").read_text().strip() == checkpoint.public_key


@effect("CEREBRA_AUDIT__PUBLIC_KEY")
def _public_key(env: Env) -> None:
    _asked(env.brain(CEREBRA_AUDIT__CHECKPOINT_EVERY="1"), 1)
    other = Signer(bytes(32)).public_key
    assert trusted_keys(env.set(CEREBRA_AUDIT__PUBLIC_KEY=other)) == [other]
    done = run_cli("audit", "verify")
    assert done.returncode == 1 and "bad checkpoint signature" in done.stdout
    env.unset("CEREBRA_AUDIT__PUBLIC_KEY")
    assert run_cli("audit", "verify").returncode == 0


@effect("CEREBRA_AUDIT__VERIFY_INTERVAL_S")
def _verify_interval_s(env: Env) -> None:
    def schedules(**values: str) -> dict[str, float]:
        brain = env.brain(**values)
        assert brain.jobs is not None
        return {s.name: s.every_s for s in brain.jobs.schedules()}

    assert "audit-verify" not in schedules(CEREBRA_AUDIT__VERIFY_INTERVAL_S="0")
    found = schedules(CEREBRA_AUDIT__VERIFY_INTERVAL_S="600", CEREBRA_HOME=str(env.tmp / "v"))
    assert found["audit-verify"] == 600
