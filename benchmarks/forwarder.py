"""The floor for gateway benchmarks: a bare FastAPI app that forwards a chat completion to
an OpenAI upstream with aiohttp (the client Cerebra's gateway uses) and returns its answer.

It parses the request's JSON, posts it, decodes the reply and encodes it again, as any proxy
that looks at what it forwards must; no auth, no metrics, no ledger. Served by uvicorn with
the same defaults as `cerebra serve` (httptools and uvloop when installed, no access log),
so what Cerebra adds over it is Cerebra's own work.

    python benchmarks/forwarder.py --port 9001 --upstream http://127.0.0.1:9000/v1
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def build(upstream: str) -> FastAPI:
    sessions: dict[str, aiohttp.ClientSession] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sessions["s"] = aiohttp.ClientSession(
            headers={"authorization": "Bearer unused"},
            connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=60),
        )
        try:
            yield
        finally:
            await sessions["s"].close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    url = upstream.rstrip("/") + "/chat/completions"

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        async with sessions["s"].post(url, json=body) as response:
            answer = await response.json()
            return JSONResponse(answer, status_code=response.status)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the upstream's /v1 base URL")
    args = parser.parse_args()
    uvicorn.run(build(args.upstream), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
