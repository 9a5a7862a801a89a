"""Effect checks of the working-memory settings (memory.working_*): a session's recent turns
and scratch notes, observed in the prompts the model gets, in long-term memory and in Redis."""

from __future__ import annotations

from cerebra.context import RequestContext
from cerebra.memory.working import SessionKey
from cerebra.memory.working_session import HEADER
from tests.effects.base import Env, effect, fake_of, text_of

ANA = RequestContext(user_id="ana", session_id="trip")


def _block(brain: object) -> str:
    prompt = text_of(fake_of(brain).calls[-1])  # type: ignore[arg-type]
    return prompt.split(HEADER, 1)[1] if HEADER in prompt else ""


@effect("CEREBRA_MEMORY__WORKING_TURNS")
def _working_turns(env: Env) -> None:
    for turns, expected in (("1", ["ferry"]), ("3", ["hotel", "ferry"]), ("0", [])):
        brain = env.brain(CEREBRA_MEMORY__WORKING_TURNS=turns,
                          CEREBRA_HOME=str(env.tmp / f"t{turns}"))
        brain.ask("book the hotel", context=ANA)
        brain.ask("book the ferry", context=ANA)
        brain.ask("what else?", context=ANA)
        block = _block(brain)
        assert [w for w in ("hotel", "ferry") if w in block] == expected, (turns, block)


@effect("CEREBRA_MEMORY__WORKING_NOTES")
def _working_notes(env: Env) -> None:
    brain = env.brain(CEREBRA_MEMORY__WORKING_NOTES="1")
    key = SessionKey.of(ANA)
    _, flushed = brain.working.add_note(key, "the budget is 500 euros")
    assert flushed == []
    _, flushed = brain.working.add_note(key, "prefers trains")  # the first rolls over
    assert [m.text for m in brain.memory.by_tag(None, "note", k=5)] == [
        "the budget is 500 euros"]
    assert [n.text for n in brain.working.state(key).notes] == ["prefers trains"]


@effect("CEREBRA_MEMORY__WORKING_TTL_S")
def _working_ttl(env: Env) -> None:
    import redis

    url = env.request.getfixturevalue("redis_server")
    client = redis.Redis.from_url(url)
    for ttl, expect in (("30", range(1, 30_001)), ("0", [-1])):
        brain = env.brain(CEREBRA_REDIS__URL=url, CEREBRA_MEMORY__WORKING_TTL_S=ttl,
                          CEREBRA_HOME=str(env.tmp / f"ttl{ttl}"))
        brain.ask("book the hotel", context=ANA.with_(session_id=f"s{ttl}"))
        (key,) = client.keys(f"cerebra:working:*:s{ttl}:turn")
        assert client.pttl(key) in expect, (ttl, client.pttl(key))
    client.close()


@effect("CEREBRA_MEMORY__WORKING_BACKEND")
def _working_backend(env: Env) -> None:
    import redis

    url = env.request.getfixturevalue("redis_server")
    client = redis.Redis.from_url(url)
    here = env.brain(CEREBRA_REDIS__URL=url, CEREBRA_MEMORY__WORKING_BACKEND="process")
    here.ask("book the hotel", context=ANA)
    assert client.keys("cerebra:working:*") == []  # kept in this process only
    for backend in ("redis", "auto"):  # auto: Redis, since redis.url is set
        shared = env.brain(CEREBRA_REDIS__URL=url, CEREBRA_MEMORY__WORKING_BACKEND=backend,
                           CEREBRA_HOME=str(env.tmp / backend))
        shared.ask(f"book the {backend} ferry", context=ANA)
        replica = env.brain(CEREBRA_HOME=str(env.tmp / f"{backend}-replica"))
        replica.ask("what else?", context=ANA)  # another Brain sees the session
        assert f"{backend} ferry" in _block(replica)
    client.close()


@effect("CEREBRA_MEMORY__WORKING_SHARE")
def _working_share(env: Env) -> None:
    for share, shown in (("0.5", True), ("0", False)):
        brain = env.brain(CEREBRA_MEMORY__WORKING_SHARE=share,
                          CEREBRA_HOME=str(env.tmp / f"share{share}"))
        brain.ask("book the hotel", context=ANA)
        brain.ask("what else?", context=ANA)
        assert ("book the hotel" in _block(brain)) is shown
