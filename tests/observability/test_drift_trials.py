"""The detector end to end, as a whole: over 100 steady streams (25 agents of one tenant, 4
seeded worlds, 80 interactions a window each) at most 5 % of scope checks raise an alert on
any of the four signals — the union of four tests at alpha 0.01 — and every stream with a
shift (other topics, latency doubled, good answers 80 % → 50 %, scores 0.7 → 0.5; 150
interactions a window) is alerted on every signal."""

from __future__ import annotations

from pathlib import Path

from cerebra.config_observe import DriftSettings
from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.observability.drift import DriftDetector
from cerebra.testing import FakeEmbedder
from tests.observability.drift_world import HOUR, Recorder, two_windows

NOW = 1_800_000_000.0
AGENTS = 25


def checks(tmp: Path, seed: int, shifted: bool, n: int = 80) -> dict[str, set[str]]:
    """Each agent scope's drifted signals, in a world of AGENTS seeded streams."""
    engine = make_engine(f"sqlite:///{tmp / f'{seed}-{shifted}.sqlite'}")
    upgrade(engine)
    try:
        for a in range(AGENTS):
            two_windows(engine, "acme", NOW, n=n, seed=seed * 1000 + 2 * a, shifted=shifted,
                        agent=f"a{a}", task=None)
        detector = DriftDetector(engine, DriftSettings(recent_s=24 * HOUR,
                                                       reference_s=24 * HOUR),
                                 embedder=FakeEmbedder(), notifier=Recorder(),
                                 clock=lambda: NOW)
        out: dict[str, set[str]] = {}
        for report in detector.check_tenant("acme", NOW):
            if report["scope"].startswith("agent:"):
                assert report["test"] != "none", report
                out.setdefault(report["scope"], set())
                if report["drifted"]:
                    out[report["scope"]].add(report["signal"])
        assert len(out) == AGENTS
        return out
    finally:
        engine.dispose()


def test_false_alarms_per_scope_check_at_most_5_percent(tmp_path: Path) -> None:
    alarms = [bool(found) for seed in range(4)
              for found in checks(tmp_path, seed, False).values()]
    rate = sum(alarms) / len(alarms)
    print(f"scope checks with a false alarm: {sum(alarms)} of {len(alarms)}")
    assert len(alarms) == 100 and rate <= 0.05


def test_every_shifted_stream_is_alerted_on_every_signal(tmp_path: Path) -> None:
    found = checks(tmp_path, 9, True, n=150)
    assert all(signals == {"embedding", "score", "latency", "feedback"}
               for signals in found.values()), found
