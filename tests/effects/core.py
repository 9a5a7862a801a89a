"""Effect checks of the settings that came first: top level, server, database, redis, the
embedded model and generation (the catalog onwards: tests/effects/catalog.py)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import create_engine, func, select

from cerebra.brain import Brain
from cerebra.config import get_settings
from cerebra.errors import InvalidInput, ModelVerificationError, Overloaded, PromptTooLong
from cerebra.models.base import GenerationRequest, ProbeResult
from cerebra.models.cancellation import TIMEOUT
from cerebra.runtime import load_default_model
from cerebra.testing import FakeModel
from tests.effects.base import (
    WAIT,
    Env,
    catalog_json,
    effect,
    fake_of,
    text_of,
    unwrap,
)
from tests.helpers import free_port


# -- top level -----------------------------------------------------------------------------
@effect("CEREBRA_ENV")
def _env(env: Env) -> None:
    env.set(CEREBRA_ENV="prod")
    with pytest.raises(ValueError, match="CEREBRA_SECRET_KEY is the development default"):
        Brain.from_settings(get_settings())
    env.brain(CEREBRA_ENV="dev")  # the same secret is fine outside prod


@effect("CEREBRA_SECRET_KEY")
def _secret_key(env: Env) -> None:
    brain = env.brain(CEREBRA_ENV="prod", CEREBRA_SECRET_KEY="a-real-secret")
    assert brain.ask("hi").answer
    assert "a-real-secret" not in json.dumps(get_settings().masked())


@effect("CEREBRA_HOME")
def _home(env: Env) -> None:
    home = env.tmp / "elsewhere"
    brain = env.brain(CEREBRA_HOME=str(home))
    brain.ask("Remember that the sky is green.")
    assert (home / "cerebra.db").is_file() and (home / "models").is_dir()
    spill = brain.ledger.writer.spill
    assert spill is not None and spill.path.is_relative_to(home)


# -- server: `serve` in this process, uvicorn's loop replaced by a look at what it was given --
def serve(env: Env, **values: str) -> tuple[tuple[str, int], str]:
    """Run `cerebra serve`; returns the address of the socket uvicorn got, and the output
    (the log lines written while it "served" included)."""
    import uvicorn
    from typer.testing import CliRunner

    from cerebra.cli.main import app

    env.set(**values)
    seen: dict[str, Any] = {}

    def run(self: Any, sockets: Any = None) -> None:
        seen["address"] = sockets[0].getsockname()[:2]
        logging.getLogger("cerebra.effects").info("an info line")
        logging.getLogger("cerebra.effects").warning("a warning line")

    env.monkeypatch.setattr(uvicorn.Server, "run", run)
    result = CliRunner().invoke(app, ["serve", "--no-engine-check"])
    assert result.exit_code == 0, result.output
    return seen["address"], result.output


@effect("CEREBRA_SERVER__HOST")
def _host(env: Env) -> None:
    address, _ = serve(env, CEREBRA_SERVER__HOST="0.0.0.0", CEREBRA_SERVER__PORT=str(free_port()),
                       CEREBRA_AUTH__MODE="on")  # off is refused beyond loopback
    assert address[0] == "0.0.0.0"


@effect("CEREBRA_SERVER__PORT")
def _port(env: Env) -> None:
    port = free_port()
    address, output = serve(env, CEREBRA_SERVER__PORT=str(port))
    assert address == ("127.0.0.1", port)
    assert f"Cerebra serving on http://127.0.0.1:{port}" in output


@effect("CEREBRA_SERVER__LOG_LEVEL")
def _log_level(env: Env) -> None:
    port = str(free_port())
    _, output = serve(env, CEREBRA_SERVER__LOG_LEVEL="WARNING", CEREBRA_SERVER__PORT=port)
    assert "a warning line" in output and "an info line" not in output
    _, output = serve(env, CEREBRA_SERVER__LOG_LEVEL="INFO")
    assert "an info line" in output


@effect("CEREBRA_SERVER__LOG_JSON")
def _log_json(env: Env) -> None:
    _, output = serve(env, CEREBRA_SERVER__LOG_JSON="false", CEREBRA_SERVER__PORT=str(free_port()))
    assert "WARNING cerebra.effects a warning line" in output
    _, output = serve(env, CEREBRA_SERVER__LOG_JSON="true")
    line = next(x for x in output.splitlines() if "a warning line" in x)
    assert json.loads(line)["event"] == "a warning line"


# -- database and redis --------------------------------------------------------------------
@effect("CEREBRA_DATABASE__URL")
def _database_url(env: Env) -> None:
    other = env.tmp / "other.db"
    brain = env.brain(CEREBRA_DATABASE__URL=f"sqlite:///{other}")
    brain.ask("Remember that the sky is green.", user_id="u")
    from cerebra.db.schema import memories

    with create_engine(f"sqlite:///{other}").connect() as conn:
        assert conn.execute(select(func.count()).select_from(memories)).scalar_one() == 1
    assert not (get_settings().home / "cerebra.db").exists()


@effect("CEREBRA_REDIS__URL")
def _redis_url(env: Env) -> None:
    import redis

    url = env.request.getfixturevalue("redis_server")
    brain = env.brain(CEREBRA_CACHE__ENABLED="true", CEREBRA_REDIS__URL=url)
    brain.ask("same question", memory=False)
    assert len(redis.Redis.from_url(url).keys("cerebra:cache:*")) == 1  # the answer is there
    replica = env.brain(CEREBRA_HOME=str(env.tmp / "replica"))  # another Brain, same Redis
    assert replica.ask("same question", memory=False).answer == "This is a fake answer."
    assert fake_of(replica).calls == []  # answered from Redis


# -- the embedded model ----------------------------------------------------------------------
class Recorder:
    """Stands in for LlamaCppBackend: records how it was built, loads nothing."""

    built: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, path: Path, **kwargs: Any) -> None:
        self.name = kwargs["name"]
        Recorder.built.append({"path": path, **kwargs})


def recorded_llama(env: Env, **values: str) -> dict[str, Any]:
    env.monkeypatch.setattr("cerebra.models.llamacpp.LlamaCppBackend", Recorder)
    Recorder.built = []
    model = load_default_model(env.set(CEREBRA_MODEL__FAKE="false", **values))
    assert isinstance(unwrap(model, Recorder), Recorder)
    return Recorder.built[-1]


@effect("CEREBRA_MODEL__NAME")
def _model_name(env: Env) -> None:
    brain = env.brain(CEREBRA_MODEL__NAME="tiny")
    assert brain.models.names() == ["tiny"] and brain.ask("hi").model == "tiny"


@effect("CEREBRA_MODEL__PATH")
def _model_path(env: Env) -> None:
    gguf = env.tmp / "mine.gguf"
    built = recorded_llama(env, CEREBRA_MODEL__PATH=str(gguf))
    assert built["path"] == gguf and built["expected_sha256"] is None


@effect("CEREBRA_MODEL__SHA256")
def _model_sha256(env: Env) -> None:
    gguf = env.tmp / "mine.gguf"
    gguf.write_bytes(b"not the pinned weights")
    env.set(CEREBRA_MODEL__FAKE="false", CEREBRA_MODEL__PATH=str(gguf),
            CEREBRA_MODEL__SHA256="0" * 64)
    with pytest.raises(ModelVerificationError, match=r"mine\.gguf"):  # before llama.cpp loads
        load_default_model(get_settings())
    assert recorded_llama(env)["expected_sha256"] == "0" * 64


@effect("CEREBRA_MODEL__N_CTX")
def _n_ctx(env: Env) -> None:
    brain = env.brain(CEREBRA_MODEL__N_CTX="300")
    assert brain.models.get().capabilities.max_context == 300
    with pytest.raises(PromptTooLong):
        brain.ask("word " * 400, memory=False)
    assert recorded_llama(env)["n_ctx"] == 300


@effect("CEREBRA_MODEL__N_THREADS")
def _n_threads(env: Env) -> None:
    assert recorded_llama(env, CEREBRA_MODEL__N_THREADS="3")["n_threads"] == 3


def held_fake(env: Env, hook: Callable[[GenerationRequest, int], None],
              probe: Callable[[], ProbeResult] | None = None) -> None:
    """The settings' FakeModel gets `hook` before each token (and `probe`, when given)."""

    class Held(FakeModel):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, before_token=hook, **kwargs)

        def probe(self) -> ProbeResult:
            return probe() if probe is not None else super().probe()

    env.monkeypatch.setattr("cerebra.testing.FakeModel", Held)


@effect("CEREBRA_MODEL__QUEUE_SIZE")
def _queue_size(env: Env) -> None:
    entered, release = threading.Event(), threading.Event()

    def hold(request: GenerationRequest, index: int) -> None:
        if index == 0 and "hold" in text_of(request):
            entered.set()
            assert release.wait(WAIT)

    held_fake(env, hold)
    brain = env.brain(CEREBRA_MODEL__QUEUE_SIZE="0")
    first = threading.Thread(target=brain.ask, args=("hold on",), kwargs={"memory": False})
    first.start()
    try:
        assert entered.wait(WAIT)
        with pytest.raises(Overloaded) as refused:  # nobody may wait: 429
            brain.ask("next", memory=False)
        assert refused.value.status_code == 429
    finally:
        release.set()
        first.join(WAIT)


@effect("CEREBRA_MODEL__EMBEDDED")
def _embedded(env: Env) -> None:
    other = {"name": "other", "kind": "fake", "options": {"reply": "from the catalog"}}
    brain = env.brain(CEREBRA_MODEL__EMBEDDED="false", CEREBRA_CATALOG__INLINE=catalog_json(other))
    assert brain.models.names() == ["other"]
    assert brain.ask("hi").answer == "from the catalog"


@effect("CEREBRA_MODEL__FAKE")
def _fake(env: Env) -> None:
    brain = env.brain(CEREBRA_MODEL__FAKE="true")
    assert isinstance(fake_of(brain), FakeModel)
    assert brain.ask("hi").answer == "This is a fake answer."
    assert isinstance(unwrap(load_default_model(get_settings()), FakeModel), FakeModel)
    recorded_llama(env)  # off: llama.cpp (recorded here, not loaded)


# -- generation ------------------------------------------------------------------------------
@effect("CEREBRA_GENERATION__MAX_TOKENS")
def _max_tokens(env: Env) -> None:
    brain = env.brain(CEREBRA_GENERATION__MAX_TOKENS="2")
    answer = brain.ask("hi", memory=False)
    assert answer.usage.completion_tokens == 2 and answer.finish_reason == "length"
    assert fake_of(brain).calls[-1].max_tokens == 2
    assert brain.ask("hi", memory=False, max_tokens=3).usage.completion_tokens == 3


@effect("CEREBRA_GENERATION__TEMPERATURE")
def _temperature(env: Env) -> None:
    brain = env.brain(CEREBRA_GENERATION__TEMPERATURE="0.25")
    brain.ask("hi", memory=False)
    assert fake_of(brain).calls[-1].temperature == 0.25


@effect("CEREBRA_GENERATION__MAX_TOKENS_CAP")
def _max_tokens_cap(env: Env) -> None:
    brain = env.brain(CEREBRA_GENERATION__MAX_TOKENS_CAP="5")
    with pytest.raises(InvalidInput, match="the cap is 5") as refused:
        brain.ask("hi", max_tokens=6)
    assert refused.value.status_code == 422
    assert brain.ask("hi", max_tokens=5).answer


@effect("CEREBRA_GENERATION__TIMEOUT_S")
def _timeout(env: Env) -> None:
    def wait_out(request: GenerationRequest, index: int) -> None:
        if index == 1:  # after one token, until the deadline stops the generation
            assert request.cancellation is not None
            assert request.cancellation.wait(WAIT)

    held_fake(env, wait_out)
    brain = env.brain(CEREBRA_GENERATION__TIMEOUT_S="0.2")
    answer = brain.ask("hi", memory=False)
    assert (answer.answer, answer.finish_reason) == ("This", TIMEOUT)
