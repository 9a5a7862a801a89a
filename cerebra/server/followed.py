"""The chat route's answer: a JSON response that runs its request's followups (the settling,
ledger row and metrics Brain left for after the answer, cerebra/followups.py) once its body
is sent, or sending it failed; its body encoded by orjson."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from cerebra.followups import Followups
from cerebra.json_codec import dumps


class FollowedResponse(JSONResponse):
    """A JSON response that runs `followups` after it is sent."""

    def __init__(self, content: Any, followups: Followups, status_code: int = 200) -> None:
        self.followups = followups
        super().__init__(content, status_code=status_code)

    def render(self, content: Any) -> bytes:
        return dumps(content)  # JSONResponse's compact UTF-8, encoded in C

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.followups.run()  # no await before it: nothing else runs on the loop first
