"""`cerebra working …`: a session's working memory (recent turns, scratch notes) from the
command line — note, show, clear, drop.

Working memory lives in the serving process (or in Redis), so the commands go to the running
server's API (/api/working, with CEREBRA_API_KEY) when one answers, or `--server URL`; with
no server they act here only when working memory is shared through Redis (a process-local
one would vanish with this command), and otherwise say so (exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.table import Table

from cerebra.config import Settings, get_settings
from cerebra.errors import CerebraError, InvalidInput, NotFound

app = typer.Typer(help="Working memory: a session's recent turns and scratch notes.",
                  no_args_is_help=True)
out = Console()

SESSION = typer.Option(..., "--session", help="session id")
USER = typer.Option("", "--user", help="user id (default: yours)")
AGENT = typer.Option("", "--agent", help="agent id")
SERVER = typer.Option(None, "--server", help="a Cerebra server's URL (default: the configured "
                      "one when it answers)")
JSON_OUT = typer.Option(False, "--json", help="print JSON")


class Sessions(Protocol):
    """Where the commands act: the running server, or this process over Redis. Each
    answers what the matching route answers."""

    def note(self, who: dict[str, str], text: str) -> dict[str, Any]: ...

    def show(self, who: dict[str, str]) -> dict[str, Any]: ...

    def clear(self, who: dict[str, str], kind: str, flush: bool) -> dict[str, Any]: ...

    def drop(self, who: dict[str, str], note_id: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


class _Server:
    """The running server's /api/working routes."""

    def __init__(self, url: str, api_key: str | None) -> None:
        from cerebra.cli.remote import TIMEOUT

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._client = httpx.Client(base_url=url, timeout=TIMEOUT, headers=headers,
                                    trust_env=False)

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
        from cerebra.cli.remote import _server_error

        try:
            response = self._client.request(method, "/api/working" + path, params=params,
                                            json=body)
        except httpx.HTTPError as exc:
            raise CerebraError(f"lost the server: {exc}") from None
        if response.status_code >= 400:
            raise _server_error(response)
        data: dict[str, Any] = response.json()
        return data

    @staticmethod
    def _params(who: dict[str, str]) -> dict[str, str]:
        return {"user_id": who["user_id"], "agent_id": who["agent_id"]}

    def note(self, who: dict[str, str], text: str) -> dict[str, Any]:
        return self._call("POST", "/notes", body={**who, "text": text})

    def show(self, who: dict[str, str]) -> dict[str, Any]:
        return self._call("GET", f"/{quote(who['session_id'], safe='')}",
                          params=self._params(who))

    def clear(self, who: dict[str, str], kind: str, flush: bool) -> dict[str, Any]:
        return self._call("DELETE", f"/{quote(who['session_id'], safe='')}", params={
            **self._params(who), "kind": kind, "flush": "true" if flush else "false"})

    def drop(self, who: dict[str, str], note_id: str) -> dict[str, Any]:
        path = f"/{quote(who['session_id'], safe='')}/notes/{quote(note_id, safe='')}"
        return self._call("DELETE", path, params=self._params(who))

    def close(self) -> None:
        self._client.close()


class _Here:
    """The same work in this process, over the working memory shared through Redis."""

    def __init__(self, settings: Settings) -> None:
        from cerebra.cli.remote import _local
        from cerebra.memory.working_session import build_workspace
        from cerebra.runtime import build_memory_store

        self.store = build_memory_store(settings)
        self.workspace = build_workspace(settings, self.store)
        self.context = _local()

    def _key(self, who: dict[str, str]) -> Any:
        return self.workspace.key(self.context, who["session_id"], user_id=who["user_id"],
                                  agent_id=who["agent_id"])

    def note(self, who: dict[str, str], text: str) -> dict[str, Any]:
        item, flushed = self.workspace.add_note(self._key(who), text)
        return {"note": item.to_dict(), "flushed": flushed}

    def show(self, who: dict[str, str]) -> dict[str, Any]:
        state = self.workspace.state(self._key(who))
        if not state:
            raise NotFound(f"no working memory for session {who['session_id']}")
        return {"session_id": who["session_id"], "turns": [t.to_dict() for t in state.turns],
                "notes": [n.to_dict() for n in state.notes]}

    def clear(self, who: dict[str, str], kind: str, flush: bool) -> dict[str, Any]:
        from cerebra.memory.working_session import KIND_NAMES

        cleared, flushed = self.workspace.clear(self._key(who), KIND_NAMES[kind], flush=flush)
        if not cleared:
            raise NotFound(f"no working memory ({kind}) for session {who['session_id']}")
        return {"cleared": len(cleared), "flushed": flushed}

    def drop(self, who: dict[str, str], note_id: str) -> dict[str, Any]:
        if self.workspace.remove_note(self._key(who), note_id) is None:
            raise NotFound(f"note {note_id} not found in session {who['session_id']}")
        return {"deleted": note_id}

    def close(self) -> None:
        self.workspace.close()
        self.store.backend.close()


def _sessions(server: str | None) -> Sessions:
    from cerebra.cli.remote import EXPLICIT_PROBE_TIMEOUT_S, _key, configured_url, server_answers

    settings = get_settings()
    if server:
        url = server.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"--server must be an http(s) URL, not {server!r}", field="server")
        if not server_answers(url, EXPLICIT_PROBE_TIMEOUT_S):
            raise CerebraError(f"no Cerebra server answers at {url}/healthz", field="server")
        return _Server(url, _key(settings))
    url = configured_url(settings)
    if server_answers(url):
        return _Server(url, _key(settings))
    backend = settings.memory.working_backend
    if backend == "redis" or (backend == "auto" and settings.redis.url):
        return _Here(settings)
    raise CerebraError(f"working memory lives in the serving process and no server answers at "
                       f"{url}: start `cerebra serve` (or name one with --server), or share it "
                       "through Redis (CEREBRA_REDIS__URL)")


def _run(server: str | None, act: Callable[[Sessions], dict[str, Any]]) -> dict[str, Any]:
    sessions = _sessions(server)
    try:
        return act(sessions)
    finally:
        sessions.close()


def _who(session: str, user: str, agent: str) -> dict[str, str]:
    return {"session_id": session, "user_id": user, "agent_id": agent}


@app.command("note")
def note(text: str = typer.Argument(..., help="the note"), session: str = SESSION,
         user: str = USER, agent: str = AGENT, server: str | None = SERVER,
         as_json: bool = JSON_OUT) -> None:
    """Add a scratch note to a session (one that rolls over is kept as a long-term memory)."""
    data = _run(server, lambda s: s.note(_who(session, user, agent), text))
    if as_json:
        print(json.dumps(data, indent=2))
        return
    out.print(f"noted {data['note']['id']}" + (
        f" ({len(data['flushed'])} older note(s) moved to long-term memory)"
        if data["flushed"] else ""))


@app.command("show")
def show(session: str = SESSION, user: str = USER, agent: str = AGENT,
         server: str | None = SERVER, as_json: bool = JSON_OUT) -> None:
    """A session's notes and recent turns, oldest first."""
    data = _run(server, lambda s: s.show(_who(session, user, agent)))
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = Table("kind", "id", "text")
    for item in [*data["notes"], *data["turns"]]:
        table.add_row(item["kind"], item["id"], " ".join(item["text"].split())[:100])
    out.print(table)


@app.command("clear")
def clear(session: str = SESSION,
          kind: str = typer.Option("all", "--kind", help="all, turns or notes"),
          flush: bool = typer.Option(False, "--flush", help="keep cleared notes as long-term "
                                     "memories"),
          user: str = USER, agent: str = AGENT, server: str | None = SERVER) -> None:
    """Empty a session's working memory (or only its turns or notes)."""
    if kind not in ("all", "turns", "notes"):
        raise InvalidInput(f"--kind must be all, turns or notes, not {kind!r}", field="kind")
    data = _run(server, lambda s: s.clear(_who(session, user, agent), kind, flush))
    out.print(f"cleared {data['cleared']} item(s); {len(data['flushed'])} kept in long-term "
              "memory")


@app.command("drop")
def drop(note_id: str = typer.Argument(..., help="the note's id"), session: str = SESSION,
         user: str = USER, agent: str = AGENT, server: str | None = SERVER) -> None:
    """Delete one note (it is not kept)."""
    _run(server, lambda s: s.drop(_who(session, user, agent), note_id))
    out.print(f"dropped {note_id}")
