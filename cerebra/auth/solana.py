"""Token gating of wallet sign-ins: a wallet's balance of one SPL token mint, asked of a
Solana JSON-RPC node (`getTokenAccountsByOwner` filtered by mint, jsonParsed), decides
whether its sign-in gets the gated scopes.

The balance is the sum over the owner's token accounts of that mint of `amount` (an integer
string in base units) divided by 10**`decimals` — exact, where `uiAmount` is a float that
large balances round. Anything that is not a well-formed answer (the node unreachable, an
RPC error, a malformed body) fails closed: the gated scopes are withheld.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from cerebra.auth.principal import Scope, parse_scopes

log = logging.getLogger("cerebra.auth")

METHOD = "getTokenAccountsByOwner"
_IDS = itertools.count(1)


class GateUnavailable(Exception):
    """The balance could not be read (transport, RPC error, malformed answer)."""


def _balance_of(result: Any, mint: str) -> Decimal:
    try:
        accounts = result["value"]
        total = Decimal(0)
        for entry in accounts:
            info = entry["account"]["data"]["parsed"]["info"]
            if info.get("mint", mint) != mint:
                continue
            amount = info["tokenAmount"]
            total += Decimal(str(amount["amount"])).scaleb(-int(amount["decimals"]))
        return total
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise GateUnavailable(f"malformed {METHOD} result ({type(exc).__name__})") from None


@dataclass(frozen=True)
class TokenGate:
    """Holding `min_balance` of `mint` grants the `scopes` to a wallet sign-in."""

    rpc_url: str
    mint: str
    min_balance: Decimal
    scopes: frozenset[Scope]
    timeout_s: float = 5.0

    @classmethod
    def create(cls, rpc_url: str, mint: str, min_balance: float,
               scopes: Iterable[str], *, timeout_s: float = 5.0) -> TokenGate:
        return cls(rpc_url, mint, Decimal(str(min_balance)), parse_scopes(scopes), timeout_s)

    async def balance(self, owner: str) -> Decimal:
        """The owner's balance of the mint in UI units; GateUnavailable if unknown."""
        request_id = next(_IDS)
        body = {
            "jsonrpc": "2.0", "id": request_id, "method": METHOD,
            "params": [owner, {"mint": self.mint}, {"encoding": "jsonParsed"}],
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                reply = await client.post(self.rpc_url, json=body)
            reply.raise_for_status()
            answer = reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise GateUnavailable(f"the Solana RPC failed ({type(exc).__name__})") from None
        if not isinstance(answer, dict) or answer.get("id") != request_id:
            raise GateUnavailable("the Solana RPC answered another request")
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) else {}
            raise GateUnavailable(f"the Solana RPC refused: {error.get('code')} "
                                  f"{str(error.get('message', ''))[:200]}")
        return _balance_of(answer.get("result"), self.mint)

    async def withheld(self, owner: str) -> frozenset[Scope]:
        """The gated scopes this wallet may not have now (all of them when unknown)."""
        try:
            held = await self.balance(owner)
        except GateUnavailable as exc:
            log.warning("token gate: %s; withholding %s from %s", exc,
                        ", ".join(sorted(self.scopes)), owner)
            return self.scopes
        return frozenset() if held >= self.min_balance else self.scopes


def gate_of(settings: Any) -> TokenGate | None:
    """The gate the settings configure (auth.gate_mint), or None."""
    auth = settings.auth
    if not auth.gate_mint:
        return None
    return TokenGate.create(auth.solana_rpc_url, auth.gate_mint, auth.gate_min_balance,
                            auth.gated_scopes)
