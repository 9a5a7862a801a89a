"""Where `cerebra ask` and `cerebra chat` get answers: a running server, else this process.

A server that answers GET /healthz on the configured address within a fraction of a second
is used through its API (POST /api/llm/query, server-sent events when streaming), so the
model is not loaded again for every command; otherwise a Brain is built in-process. Both
sides give the same shapes: an answer is the server's JSON (`Answer.to_dict()`), and a
stream yields text pieces, then that JSON. Errors either side are CerebraErrors.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import httpx

from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.errors import CerebraError, InvalidInput

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.models.base import Message

PROBE_TIMEOUT_S = 0.3  # a server on this machine answers /healthz in milliseconds
EXPLICIT_PROBE_TIMEOUT_S = 3.0  # --server may name another machine
TIMEOUT = httpx.Timeout(600.0, connect=5.0)  # generation may take minutes on a small CPU

# Text pieces, then the answer as JSON; close() stops it (generation or the connection).
Stream = Generator[str | dict[str, Any], None, None]


class Answerer(Protocol):
    """What ask and chat need: one answer, or a stream of pieces and then the answer."""

    via: str  # "server" or "in-process"
    url: str | None  # the server's base URL when via == "server"

    def ask(self, prompt: str, **options: Any) -> dict[str, Any]: ...

    def stream(self, prompt: str, **options: Any) -> Stream: ...

    def model_names(self) -> list[str]: ...

    def close(self) -> None: ...


def configured_url(settings: Settings) -> str:
    """The URL of the server these settings would serve on (a wildcard bind → loopback)."""
    host = settings.server.host.strip("[]")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.server.port}"


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_answers(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when a Cerebra server answers GET {url}/healthz with {"status": "ok"}."""
    try:
        response = httpx.get(f"{url}/healthz", timeout=timeout, trust_env=not _is_loopback(url))
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return False
    return response.status_code == 200 and isinstance(body, dict) and body.get("status") == "ok"


def open_answerer(
    settings: Settings,
    *,
    local: bool = False,
    server: str | None = None,
    notice: Callable[[str], None] | None = None,
) -> Answerer:
    """The server at `server` (which must answer), else the configured one if it answers,
    else (or with `local`) a Brain loaded here; `notice` hears why the model loads here."""
    if local and server:
        raise InvalidInput("--local and --server exclude each other", field="server")
    if server:
        url = server.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"--server must be an http(s) URL, not {server!r}", field="server")
        if not server_answers(url, EXPLICIT_PROBE_TIMEOUT_S):
            raise CerebraError(f"no Cerebra server answers at {url}/healthz", field="server")
        return RemoteAnswerer(url, api_key=_key(settings))
    if not local:
        url = configured_url(settings)
        if server_answers(url):
            return RemoteAnswerer(url, api_key=_key(settings))
        if notice is not None:
            notice(
                f"no server answers at {url}: loading the model in this process "
                "(`cerebra serve` in another terminal makes this instant)"
            )
    from cerebra.brain import Brain

    return LocalAnswerer(Brain.from_settings(settings))


class LocalAnswerer:
    """A Brain in this process (the model is loaded here)."""

    via = "in-process"
    url: str | None = None

    def __init__(self, brain: Brain) -> None:
        self.brain = brain

    def ask(self, prompt: str, **options: Any) -> dict[str, Any]:
        return self.brain.ask(prompt, endpoint="cli", context=_local(), **options).to_dict()

    def stream(self, prompt: str, **options: Any) -> Stream:
        from cerebra.exchange import Answer

        events = self.brain.stream(prompt, endpoint="cli", context=_local(), **options)
        try:
            for item in events:
                yield item.to_dict() if isinstance(item, Answer) else item
        finally:
            close = getattr(events, "close", None)
            if close is not None:  # stops generation now, not when garbage collected
                close()

    def model_names(self) -> list[str]:
        """The models this Brain serves."""
        return list(self.brain.models.names())

    def close(self) -> None:
        self.brain.close()


class RemoteAnswerer:
    """A running Cerebra server, through POST /api/llm/query."""

    via = "server"

    def __init__(self, url: str, *, api_key: str | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url: str | None = url
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._client = httpx.Client(
            base_url=url, timeout=TIMEOUT, trust_env=not _is_loopback(url), transport=transport,
            headers=headers,
        )

    def ask(self, prompt: str, **options: Any) -> dict[str, Any]:
        try:
            response = self._client.post("/api/llm/query", json=_body(prompt, options))
        except httpx.HTTPError as exc:
            raise self._lost(exc) from exc
        if response.status_code >= 400:
            raise _server_error(response)
        data: dict[str, Any] = response.json()
        return data

    def stream(self, prompt: str, **options: Any) -> Stream:
        """Text pieces, then the answer. Closing this generator closes the connection, and the
        server stops generating."""
        body = {**_body(prompt, options), "stream": True}
        try:
            with self._client.stream("POST", "/api/llm/query", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _server_error(response)
                for event, data in _sse_events(response.iter_lines()):
                    if event == "answer":
                        yield data
                        return
                    if event == "error":
                        raise _error_from_body(data, "the server failed while answering")
                    text = data.get("text")
                    if isinstance(text, str) and text:
                        yield text
        except httpx.HTTPError as exc:
            raise self._lost(exc) from exc
        raise CerebraError(f"the server at {self.url} ended the answer before it was complete")

    def model_names(self) -> list[str]:
        """The models the server offers (GET /v1/models); none when it will not say."""
        try:
            response = self._client.get("/v1/models")
            data = response.json().get("data", []) if response.status_code == 200 else []
        except (httpx.HTTPError, ValueError, AttributeError):
            return []
        return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]

    def _lost(self, exc: httpx.HTTPError) -> CerebraError:
        return CerebraError(f"lost the server at {self.url}: {str(exc) or type(exc).__name__}")

    def close(self) -> None:
        self._client.close()


def _body(prompt: str, options: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a query from Brain.ask-style keyword options (None: server default)."""
    history: Sequence[Message] = options.pop("history", None) or ()
    body: dict[str, Any] = {"prompt": prompt}
    body.update({k: v for k, v in options.items() if v is not None})
    if history:
        body["history"] = [{"role": m.role, "content": m.content} for m in history]
    return body


def _sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) for each server-sent event; the default name is "message"."""
    event = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                try:
                    parsed = json.loads("\n".join(data))
                except ValueError as exc:
                    raise CerebraError("the server sent an event that is not JSON") from exc
                yield event, parsed if isinstance(parsed, dict) else {"value": parsed}
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


def _local() -> RequestContext:
    """The CLI's own principal: the holder of the database, an admin of the default tenant
    (so limits, policy and the audit log attribute its requests to "local")."""
    from cerebra.auth.principal import local_admin

    return RequestContext(principal=local_admin())


def _key(settings: Settings) -> str | None:
    key = settings.server.api_key
    return key.get_secret_value() if key is not None else None


def _server_error(response: httpx.Response) -> CerebraError:
    try:
        body = response.json()
    except ValueError:
        body = None
    fallback = f"the server answered {response.status_code}: {response.text[:200].strip()}"
    error = _error_from_body(body, fallback)
    if response.status_code == 401:
        error.message += (" — set CEREBRA_API_KEY to an API key of that server (`serve` "
                          "printed one at its first start; `cerebra keys create` makes more)")
    return error


def _error_from_body(body: Any, fallback: str) -> CerebraError:
    """The server's {"error": {"type", "message", "field"}} as the CerebraError it came from."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return CerebraError(fallback)
    field = error.get("field")
    return CerebraError(error["message"], field=field if isinstance(field, str) else None)
