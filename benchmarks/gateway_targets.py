"""The servers the gateway benchmark measures, each started as its own process against one
mock upstream: the bare FastAPI forwarder (the floor), Cerebra with its security off or on
(an API key, rate limits and budgets, a constitution, the audit log), Cerebra with memory,
an older checkout of Cerebra (--baseline) and LiteLLM's proxy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
LITELLM_VENV = ROOT / ".bench" / "litellm-venv"
LITELLM_KEY = "sk-bench-0123456789abcdef0123456789abcdef"
CITIES = ["Lisbon", "Oslo", "Nairobi", "Lima", "Osaka", "Tucson", "Ghent"]
BODY = {"model": "mock", "messages": [{"role": "user", "content": "Say something short."}]}

# Enforced on input and output of every secured request; nothing in BODY or the mock's
# answer trips it, so every request is checked and passes (the price of the check, not of a
# refusal).
CONSTITUTION = """\
name: gateway-benchmark
version: 1
denied_patterns:
  - id: no-system-override
    pattern: "(?i)ignore (all|previous) instructions"
    reason: prompt injection
  - id: no-private-keys
    pattern: "-----BEGIN [A-Z ]*PRIVATE KEY-----"
denied_topics:
  - id: weapons
    keywords: [nerve agent, bioweapon]
pii:
  email: redact
  phone: redact
  card: refuse
  iban: redact
  secret: refuse
max_tokens: 4096
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Target:
    name: str
    url: str  # the chat completions URL
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=lambda: dict(BODY))
    process: subprocess.Popen[bytes] | None = None
    latencies_ms: list[float] = field(default_factory=list)
    overhead_header_ms: list[float] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    errors: int = 0
    last_error: str = ""
    notes: dict[str, Any] = field(default_factory=dict)
    fresh: bool = False  # every request a prompt never sent before (memory-on stores each)
    sent: int = 0

    def request_body(self) -> dict[str, Any]:
        """The next request's body: `body` itself, or with `fresh` a new prompt each time,
        so a memory-on target recalls for and stores every exchange (no duplicate to skip)."""
        if not self.fresh:
            return self.body
        self.sent += 1
        n = self.sent
        prompt = (f"Remember that order {n} for {CITIES[n % len(CITIES)]} ships on day "
                  f"{n % 28 + 1}; what should I check first?")
        return {**self.body, "messages": [{"role": "user", "content": prompt}]}


def spawn(
    cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    out = log.open("wb") if log else subprocess.DEVNULL
    return subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=out, stderr=out,
                            cwd=cwd)


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"{url} did not become ready")


def upstream(work: Path) -> tuple[Target, str]:
    port = free_port()
    proc = spawn(
        [sys.executable, str(ROOT / "benchmarks" / "mock_upstream.py"), "--port", str(port)],
        log=work / "upstream.log",
    )
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
    base = f"http://127.0.0.1:{port}/v1"
    return Target("direct", f"{base}/chat/completions", process=proc), base


def floor(work: Path, base_up: str) -> Target:
    port = free_port()
    proc = spawn(
        [sys.executable, str(ROOT / "benchmarks" / "forwarder.py"), "--port", str(port),
         "--upstream", base_up],
        log=work / "floor.log",
    )
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
    return Target("floor_fastapi_aiohttp", f"http://127.0.0.1:{port}/v1/chat/completions",
                  process=proc)


def cerebra_env(base_up: str) -> dict[str, str]:
    catalog = {"models": [{"name": "mock", "kind": "openai", "base_url": base_up,
                           "model": "mock", "api_key": "unused"}]}
    return {
        "CEREBRA_EMBEDDED_MODEL": "false",
        "CEREBRA_MODELS": json.dumps(catalog),
        "CEREBRA_LOG_LEVEL": "WARNING",
        "CEREBRA_HEALTH_INTERVAL_S": "0",
    }


def security_groups() -> dict[str, bool]:
    """Which of the security settings groups this checkout has."""
    from cerebra.config import GROUPS

    return {name: name in GROUPS for name in ("auth", "limits", "policy", "audit")}


def open_env() -> dict[str, str]:
    """Every security feature this checkout has, switched off (the pure proxy)."""
    return {
        "CEREBRA_AUTH__MODE": "off",  # accepted on a loopback bind only
        "CEREBRA_LIMITS__ENABLED": "false",
        "CEREBRA_AUDIT__ENABLED": "false",
    }


def secured_env(work: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """Security on: auth (the default), limits and budgets high enough never to refuse, a
    constitution and the audit log (checkpoints every 100 entries, the default)."""
    have = security_groups()
    env: dict[str, str] = {}
    if have["limits"]:
        env |= {
            "CEREBRA_LIMITS__ENABLED": "true",
            "CEREBRA_LIMITS__KEY_REQUESTS_PER_MIN": "100000000",
            "CEREBRA_LIMITS__KEY_TOKENS_PER_MIN": "1000000000",
            "CEREBRA_LIMITS__KEY_DAILY_BUDGET": "1000000",
            "CEREBRA_LIMITS__TENANT_REQUESTS_PER_MIN": "100000000",
            "CEREBRA_LIMITS__TENANT_MONTHLY_BUDGET": "1000000",
        }
    if have["policy"]:
        path = work / "constitution.yaml"
        path.write_text(CONSTITUTION)
        env["CEREBRA_POLICY__CONSTITUTION"] = str(path)
    if have["audit"]:
        env["CEREBRA_AUDIT__ENABLED"] = "true"
    return env, {"security": have}


def create_key(home: Path, env: dict[str, str]) -> str | None:
    """An API key for the secured server, made on its database before it starts: `cerebra
    keys create --json`, or through IdentityStore where the command is missing; None when
    this checkout has no API keys."""
    full = {**os.environ, **env, "CEREBRA_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "cerebra.cli.main", "keys", "create", "--json"],
        env=full, capture_output=True, text=True,
    )
    if done.returncode == 0:
        return str(json.loads(done.stdout)["key"])
    try:
        from cerebra.auth.identity import IdentityStore
        from cerebra.config import Settings
        from cerebra.context import DEFAULT_TENANT
        from cerebra.db.engine import make_engine
        from cerebra.db.migrate import upgrade
    except ImportError:
        return None
    engine = make_engine(Settings(home=home).db_url)
    try:
        upgrade(engine)
        secret, _ = IdentityStore(engine).create_key(DEFAULT_TENANT, name="gateway-bench")
        return secret
    finally:
        engine.dispose()


def cerebra(name: str, work: Path, base_up: str, env: dict[str, str], *,
            headers: dict[str, str] | None = None, body: dict[str, Any] | None = None,
            checkout: Path | None = None) -> Target:
    """`cerebra serve` from this checkout (or `checkout`, via PYTHONPATH)."""
    port = free_port()
    full = {**cerebra_env(base_up), "CEREBRA_HOME": str(work / name), **env}
    if checkout is not None:
        full["PYTHONPATH"] = os.pathsep.join(
            p for p in (env.get("PYTHONPATH", ""), str(checkout)) if p)
    proc = spawn(
        [sys.executable, "-m", "cerebra.cli.main", "serve", "--port", str(port),
         "--no-engine-check"],
        full, work / f"{name}.log",
        # `python -m` puts the working directory first on sys.path: run in the checkout, so
        # that its package is the one imported (not this one's, nor the installed one)
        cwd=checkout,
    )
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
    return Target(name, f"http://127.0.0.1:{port}/v1/chat/completions",
                  headers={"X-Cerebra-Memory": "off", **(headers or {})},
                  body=body or dict(BODY), process=proc)


def ensure_litellm() -> Path:
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.exists():
        print("installing litellm[proxy] into", LITELLM_VENV, file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run(
            [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True
        )
    return exe


def litellm(work: Path, base_up: str) -> Target:
    """LiteLLM's proxy with its master key, one worker, the same upstream; no network
    (the model cost map comes from the package, telemetry off)."""
    exe = ensure_litellm()
    config = work / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: mock\n    litellm_params:\n"
        f"      model: openai/mock\n      api_base: {base_up}\n      api_key: unused\n"
        "litellm_settings:\n  telemetry: false\n"
    )
    port = free_port()
    proc = spawn(
        [str(exe), "--config", str(config), "--port", str(port), "--host", "127.0.0.1",
         "--num_workers", "1"],
        {
            "LITELLM_TELEMETRY": "False",
            "LITELLM_LOG": "ERROR",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_MASTER_KEY": LITELLM_KEY,
            "NO_DOCS": "True",
            "DISABLE_ADMIN_UI": "True",
        },
        work / "litellm.log",
    )
    wait_ready(f"http://127.0.0.1:{port}/health/liveliness", proc, timeout=600)
    return Target("litellm", f"http://127.0.0.1:{port}/v1/chat/completions",
                  headers={"Authorization": f"Bearer {LITELLM_KEY}"}, process=proc)


def without_fast_http(work: Path) -> str:
    """A folder that, first on PYTHONPATH, hides uvloop and httptools (uvicorn falls back
    to asyncio and h11): how a checkout from before those dependencies served."""
    folder = work / "no-fast-http"
    folder.mkdir(exist_ok=True)
    for module in ("uvloop", "httptools"):
        (folder / f"{module}.py").write_text(f"raise ImportError('{module} hidden')\n")
    return str(folder)
