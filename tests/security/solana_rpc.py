"""A local stand-in for a Solana JSON-RPC node answering `getTokenAccountsByOwner`, for tests.

It speaks the real wire format: a JSON-RPC 2.0 request `{"jsonrpc": "2.0", "id", "method":
"getTokenAccountsByOwner", "params": [owner, {"mint": …}, {"encoding": "jsonParsed"}]}`
is answered `{"jsonrpc": "2.0", "id": <echoed>, "result": {"context": {"apiVersion", "slot"},
"value": [{"pubkey", "account": {"data": {"parsed": {"info": {"isNative", "mint", "owner",
"state", "tokenAmount": {"amount", "decimals", "uiAmount", "uiAmountString"}}, "type":
"account"}, "program": "spl-token", "space": 165}, "executable", "lamports", "owner",
"rentEpoch", "space"}}]}}`; an unknown method is -32601, bad params -32602 (a node's error
codes). Every request body is recorded; `down` makes it answer 503.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.helpers import http_server

TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGJPFXCWuBvf9Ss623VQ5DA"
METHOD = "getTokenAccountsByOwner"


@dataclass
class FakeSolana:
    url: str = ""
    # (owner, mint) -> the raw amounts (base units) of the owner's token accounts
    accounts: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    decimals: int = 6
    requests: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False

    def give(self, owner: str, mint: str, *amounts: int) -> None:
        self.accounts[(owner, mint)] = list(amounts)

    def _account(self, index: int, owner: str, mint: str, amount: int) -> dict[str, Any]:
        ui = Decimal(amount).scaleb(-self.decimals)
        return {
            "pubkey": f"Acct{index}{owner[:20]}",
            "account": {
                "data": {
                    "parsed": {
                        "info": {
                            "isNative": False, "mint": mint, "owner": owner,
                            "state": "initialized",
                            "tokenAmount": {"amount": str(amount), "decimals": self.decimals,
                                            "uiAmount": float(ui),
                                            "uiAmountString": format(ui.normalize(), "f")},
                        },
                        "type": "account",
                    },
                    "program": "spl-token", "space": 165,
                },
                "executable": False, "lamports": 2039280, "owner": TOKEN_PROGRAM,
                "rentEpoch": 18446744073709551615, "space": 165,
            },
        }

    def answer(self, request: Any) -> dict[str, Any]:
        rid = request.get("id") if isinstance(request, dict) else None
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0":
            return {"jsonrpc": "2.0", "id": rid,
                    "error": {"code": -32600, "message": "Invalid request"}}
        if request.get("method") != METHOD:
            return {"jsonrpc": "2.0", "id": rid,
                    "error": {"code": -32601, "message": "Method not found"}}
        params = request.get("params")
        if (not isinstance(params, list) or len(params) != 3 or not isinstance(params[0], str)
                or not isinstance(params[1], dict) or set(params[1]) != {"mint"}
                or params[2] != {"encoding": "jsonParsed"}):
            return {"jsonrpc": "2.0", "id": rid,
                    "error": {"code": -32602, "message": f"Invalid params: {params!r}"}}
        owner, mint = params[0], params[1]["mint"]
        value = [self._account(i, owner, mint, amount)
                 for i, amount in enumerate(self.accounts.get((owner, mint), []))]
        return {"jsonrpc": "2.0", "id": rid,
                "result": {"context": {"apiVersion": "2.0.15", "slot": 341197933},
                           "value": value}}


@contextmanager
def running_solana() -> Iterator[FakeSolana]:
    state = FakeSolana()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if state.down:
                self._reply(503, b'{"message": "service unavailable"}')
                return
            try:
                request = json.loads(raw)
            except ValueError:
                self._reply(200, json.dumps({"jsonrpc": "2.0", "id": None, "error": {
                    "code": -32700, "message": "Parse error"}}).encode())
                return
            state.requests.append(request)
            self._reply(200, json.dumps(state.answer(request)).encode())

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with http_server(Handler) as url:
        state.url = url
        yield state
