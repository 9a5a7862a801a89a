"""Router replicas sharing learning state, cooldowns and policies through a real redis-server:
propagation between replicas, late joiners, restarts, Redis outages, and learning
speed of two replicas splitting traffic against one router."""

from __future__ import annotations

import importlib.util
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import redis

from cerebra.context import RequestContext
from cerebra.db import make_engine, upgrade
from cerebra.errors import InvalidInput
from cerebra.models.base import GenerationRequest
from cerebra.routing import CooldownPolicy, RoutePolicy, Router, RouterStore
from cerebra.routing.linucb import LinUCB
from cerebra.routing.shared import RedisSharedState
from cerebra.testing import FakeModel
from tests.routing.doubles import Failing

REQ = GenerationRequest(prompt="Write a python function",
                        context=RequestContext(tenant_id="acme"))
POLICIES = {"thompson": RoutePolicy("thompson", {"discount": 0.99}),
            "linucb": RoutePolicy("linucb", {"alpha": 0.2, "discount": 0.995})}


class RedisServer:
    """A redis-server on a fixed loopback port that a test can stop and start again."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
        self.binary, self.folder = binary, folder
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def replicas(server: RedisServer, tmp_path: Path) -> Iterator[Callable[..., Router]]:
    """Makes Router replicas on the same Redis, each with its own SQLite file by default."""
    made: list[Router] = []

    def make(policy: RoutePolicy = POLICIES["thompson"], db: str | None = None,
             backends: list[Any] | None = None, interval_s: float = 0.05,
             **kwargs: Any) -> Router:
        engine = make_engine(f"sqlite:///{tmp_path / (db or f'replica{len(made)}.db')}")
        upgrade(engine)
        router = Router(backends or [FakeModel("good", name="p"), FakeModel("meh", name="q")],
                        policy=policy, store=RouterStore(engine, flush_interval_s=0.01),
                        shared=RedisSharedState(server.url, interval_s=interval_s,
                                                snapshot_interval_s=0.2),
                        seed=len(made), **kwargs)
        made.append(router)
        return router

    yield make
    for router in made:
        router.close()


def _teach(router: Router, n: int, good: str = "p") -> None:
    """n requests with feedback: `good` is rated 0.95, any other backend 0.05."""
    for _ in range(n):
        d = router.route(REQ).decision
        router.feedback(d.id, 0.95 if d.served_by == good else 0.05)


def _pulls(router: Router) -> int:
    return sum(a["pulls"] for a in router.arm_stats("acme")["arms"])


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Polls until `condition()` holds; the timeout only keeps a broken test from hanging
    (how fast state propagates is measured by benchmarks, not asserted here)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g} s"
        time.sleep(0.01)


def _same_linucb_models(one: Router, other: Router, rtol: float = 1e-9) -> None:
    """The two replicas' LinUCB A and b, decayed to the current step, agree."""
    first, second = (r._bandit("acme", "*", r.resolve("acme", "")[0]).strategy
                     for r in (one, other))
    assert isinstance(first, LinUCB) and isinstance(second, LinUCB)
    assert first._models.keys() == second._models.keys() and first._models
    for arm in first._models:
        a1, b1, _ = first._model(arm)
        a2, b2, _ = second._model(arm)
        assert np.allclose(a1, a2, rtol=rtol) and np.allclose(b1, b2, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("name", ["thompson", "linucb"])
def test_feedback_on_one_replica_reaches_the_other(
        replicas: Callable[..., Router], name: str) -> None:
    a, b = replicas(POLICIES[name]), replicas(POLICIES[name])
    assert _pulls(b) == 0
    _teach(a, 30)
    _wait(lambda: _pulls(b) == 30)
    stats_a = {x["arm"]: x for x in a.arm_stats("acme")["arms"]}
    for arm in b.arm_stats("acme")["arms"]:
        assert arm["pulls"] == stats_a[arm["arm"]]["pulls"]
        assert arm["mean_reward"] == pytest.approx(stats_a[arm["arm"]]["mean_reward"])
    if name == "linucb":  # A and b are rebuilt exactly from the shared events
        _same_linucb_models(a, b)
    picks = [b.route(REQ).decision.arm for _ in range(20)]
    assert picks.count("p") >= 17  # B never saw feedback itself, yet it prefers p


def test_both_replicas_learning_at_once_converge_to_the_same_counts(
        replicas: Callable[..., Router]) -> None:
    a, b = replicas(), replicas()
    _teach(a, 25)
    _teach(b, 15, good="q")
    _wait(lambda: _pulls(a) == 40 and _pulls(b) == 40)
    pulls = [{x["arm"]: x["pulls"] for x in r.arm_stats("acme")["arms"]} for r in (a, b)]
    assert pulls[0] == pulls[1]


def test_a_replica_started_later_loads_the_shared_state(replicas: Callable[..., Router]) -> None:
    a, b = replicas(POLICIES["linucb"]), replicas(POLICIES["linucb"])
    _teach(a, 20)
    _teach(b, 20)
    _wait(lambda: _pulls(a) == 40 and _pulls(b) == 40)
    a.flush()
    late = replicas(POLICIES["linucb"])  # fresh database, nothing learned locally
    assert _pulls(late) == 40  # loaded on first use, not one interval later
    _same_linucb_models(a, late, rtol=0.05)  # same events; order differs within a window


def test_database_state_seeds_an_empty_redis_after_a_restart(
        replicas: Callable[..., Router], server: RedisServer) -> None:
    a = replicas(db="shared.db")
    _teach(a, 20)
    a.close()  # saved to the database
    redis.Redis.from_url(server.url).flushall()  # Redis lost everything
    restarted = replicas(db="shared.db")
    assert _pulls(restarted) == 20  # from the database
    restarted.flush()
    assert _pulls(replicas()) == 20  # a new replica with its own database gets it via Redis


def test_a_cooldown_seen_by_one_replica_cools_the_backend_on_all(
        replicas: Callable[..., Router]) -> None:
    cooldown = CooldownPolicy(failure_threshold=1, base_s=300.0)  # outlasts any _wait
    fixed = RoutePolicy("fixed", {"arm": "p"}, fallback=("q",))
    broken_a, broken_b = (Failing("p", RuntimeError("boom")) for _ in range(2))
    a = replicas(fixed, backends=[broken_a, FakeModel(name="q")], cooldown=cooldown)
    b = replicas(fixed, backends=[broken_b, FakeModel(name="q")], cooldown=cooldown)
    assert a.route(REQ).decision.served_by == "q"
    assert broken_a.attempts == 1
    _wait(lambda: b.arm_stats("acme")["arms"][0]["health"].get("cooling", False))
    assert b.route(REQ).decision.served_by == "q"
    assert broken_b.attempts == 0  # B skipped p without trying it
    assert "another replica" in b.arm_stats("acme")["arms"][0]["health"]["last_error"]


def test_policies_set_on_one_replica_apply_on_the_others(
        replicas: Callable[..., Router]) -> None:
    a, b = replicas(), replicas()
    a.set_policy({"strategy": "fixed", "params": {"arm": "q"}}, tenant_id="acme")
    _wait(lambda: ("acme", "*") in {(p["tenant_id"], p["agent_id"]) for p in b.policies()})
    assert {b.route(REQ).decision.served_by for _ in range(10)} == {"q"}
    a.delete_policy(tenant_id="acme")
    _wait(lambda: ("acme", "*") not in {(p["tenant_id"], p["agent_id"]) for p in b.policies()})


def test_routing_survives_redis_going_away_and_sharing_resumes(
        replicas: Callable[..., Router], server: RedisServer,
        caplog: pytest.LogCaptureFixture) -> None:
    a, b = replicas(), replicas()
    _teach(a, 10)
    _wait(lambda: _pulls(b) == 10)
    server.stop()
    with caplog.at_level(logging.WARNING, logger="cerebra.routing.shared"):
        _teach(a, 20)  # no exception: local learning goes on
        _teach(b, 20)
        a.flush()
        assert _pulls(a) == 30 and _pulls(b) == 30
        assert any("unreachable" in r.getMessage() for r in caplog.records)
    late = replicas()  # starts while Redis is down: routes on its own (empty) state
    assert late.route(REQ).decision.ok
    server.start()  # back, empty
    _wait(lambda: _pulls(a) == 50 and _pulls(b) == 50)
    # `late` attached when Redis came back and missed the 10 updates Redis lost; it sees a
    # stored snapshot holding more updates than it ever catches up with, and reloads it
    _wait(lambda: _pulls(late) == 50)
    assert _pulls(replicas()) == 50
    assert any("back after" in r.getMessage() for r in caplog.records)


# -- learning speed: two replicas splitting traffic vs one router -------------------------
BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "router.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("router_benchmark_shared", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pair_regret(bench: ModuleType, world: Any, strategy: str, params: dict[str, Any],
                 seed: int, url: str | None, sync_every: int) -> float:
    """Regret of two routers that alternate requests; shared through Redis when url is set
    (exchanging every `sync_every` requests), independent when it is None."""
    routers = []
    for i in range(2):
        shared = None if url is None else RedisSharedState(url, namespace=f"pair{seed}{strategy}",
                                                           interval_s=3600)
        routers.append(Router([bench.SimBackend(n, world) for n in bench.BACKENDS],
                              policy=RoutePolicy(strategy, params, reward=world.reward),
                              seed=seed * 10 + i, shared=shared))
    prompts = {n: "x" * (4 * n) for n in set(world.tokens)}
    regret = 0.0
    for i, (task, tokens) in enumerate(zip(world.tasks, world.tokens, strict=True)):
        router = routers[i % 2]
        request = GenerationRequest(prompt=prompts[tokens], max_tokens=bench.OUTPUT_TOKENS,
                                    extra={"task_type": task, "sim_index": i})
        decision = router.route(request).decision
        arm = decision.served_by
        q, _, _ = bench.expected(arm, task, tokens, i >= world.drift_at)
        router.feedback(decision.id, min(max(q + world.noise[i], 0.0), 1.0))
        regret += max(world.rewards[i].values()) - world.rewards[i][arm]
        if url is not None and i % sync_every == sync_every - 1:
            for r in routers:
                assert r.shared is not None and r.shared.sync()
    for r in routers:
        r.close()
    return regret


@pytest.mark.parametrize("name", ["thompson", "linucb"])
def test_two_replicas_splitting_traffic_learn_as_fast_as_one(
        bench: ModuleType, server: RedisServer, name: str) -> None:
    strategy, params = bench.STRATEGIES[name]
    single = shared = alone = 0.0
    for seed in (0, 1):
        world = bench.World(seed, 1500, 750)
        single += sum(bench.run_strategy(world, strategy, params, seed)["regret"])
        shared += _pair_regret(bench, world, strategy, params, seed, server.url, 10)
        alone += _pair_regret(bench, world, strategy, params, seed, None, 10)
    print(f"{name}: single {single:.1f}, shared pair {shared:.1f}, independent pair {alone:.1f}")
    assert shared <= 1.2 * single
    assert shared < alone  # without sharing, each replica learns from half the traffic


def test_bad_settings_are_refused_with_the_field(server: RedisServer) -> None:
    with pytest.raises(InvalidInput) as bad:
        RedisSharedState(server.url, interval_s=0)
    assert bad.value.field == "interval_s"
    shared = RedisSharedState(server.url)
    Router([FakeModel(name="p")], shared=shared).close()
    with pytest.raises(InvalidInput):
        Router([FakeModel(name="p")], shared=shared)  # one per Router
