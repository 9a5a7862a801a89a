"""Effect check of user profiles in prompts (memory.profile_share)."""

from __future__ import annotations

from cerebra.context import RequestContext
from cerebra.memory.profile_block import HEADER
from tests.effects.base import Env, effect, fake_of, text_of

ANA = RequestContext(user_id="ana")


@effect("CEREBRA_MEMORY__PROFILE_SHARE")
def _profile_share(env: Env) -> None:
    # 512 tokens of budget: 0.15 fits the header and both lines, 0.035 (17 tokens) the
    # header and one line (the newer, at equal confidence), 0 none
    for share, lines in (("0.15", ["lives in: berlin", "job: nurse"]),
                         ("0.035", ["job: nurse"]), ("0", [])):
        brain = env.brain(CEREBRA_MEMORY__PROFILE_SHARE=share,
                          CEREBRA_HOME=str(env.tmp / f"p{share}"))
        brain.memory.add(None, "I moved to Berlin", user_id="ana", created_at=1000.0)
        brain.memory.add(None, "I am a nurse", user_id="ana", created_at=2000.0)
        brain.ask("what should I cook tonight?", context=ANA)
        prompt = text_of(fake_of(brain).calls[-1])
        shown = [x for x in ("lives in: berlin", "job: nurse") if f"- {x}" in prompt]
        assert (HEADER in prompt) == bool(lines) and shown == lines, (share, prompt)
