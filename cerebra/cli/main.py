"""The `cerebra` command: serve, ask, chat, memory, models, config, db, doctor, bench.

Commands parse arguments, call Brain / MemoryStore and format; errors the user can fix
print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from cerebra.cli import (
    agents_cmd,
    audit_cmd,
    bench_cmd,
    constitution_cmd,
    datasets_cmd,
    deploy_cmd,
    identity_cmd,
    improve_cmd,
    jobs_cmd,
    kits_cmd,
    memory_cmd,
    missions_cmd,
    ops_cmd,
    plugins_cmd,
    profile_cmd,
    prompts_cmd,
    ratings_cmd,
    router_cmd,
    signals_cmd,
    top_cmd,
    train_cmd,
    working_cmd,
)
from cerebra.config import get_settings
from cerebra.errors import CerebraError

if TYPE_CHECKING:
    from cerebra.cli.remote import Answerer
    from cerebra.models.base import Message

app = typer.Typer(
    name="cerebra",
    help="Cerebra: a self-hosted, self-improving LLM runtime.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(memory_cmd.app, name="memory")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(router_cmd.app, name="router")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(constitution_cmd.app, name="constitution")
app.add_typer(agents_cmd.app, name="agents")
app.add_typer(prompts_cmd.app, name="prompts")
app.add_typer(plugins_cmd.app, name="plugins")
app.add_typer(datasets_cmd.app, name="datasets")  # issue 11 (A2)
app.add_typer(improve_cmd.app, name="improve")  # issue 11 (H): cycles and triggers
app.add_typer(signals_cmd.app, name="signals")  # issue 11 (A1): list, examples, rlaif
app.add_typer(working_cmd.app, name="working")  # issue 12 (3): session notes, turns
app.add_typer(profile_cmd.app, name="profile")  # issue 12 (4): show, set, unset, forget
ops_cmd.register(app)
deploy_cmd.register(ops_cmd.models_app)  # issue 11 (E): models promote|rollback|versions
identity_cmd.register(app)
ratings_cmd.register(app)
missions_cmd.register(app)  # missions, teams
jobs_cmd.register(app)  # jobs list | show | cancel | follow | worker (issue 11, C)
kits_cmd.register(app)  # kits list | show | install | run (issue 11, F)
train_cmd.register(app)  # train run | status | cancel | logs | validate (issue 11, B)
top_cmd.register(app)  # top: a live view of requests, latency, spend, models, jobs (13, 6)

out = Console()


@app.command()
def serve(
    host: str = typer.Option(None, help="interface to bind (default from settings)"),
    port: int = typer.Option(None, min=1, max=65535, help="port (default 8800)"),
    engine_check: bool = typer.Option(
        True, "--engine-check/--no-engine-check",
        help="generate a few tokens in a child process first (a native crash is a clear error)",
    ),
) -> None:
    """Start the HTTP server (OpenAI-compatible API, Cerebra API, /metrics)."""
    import uvicorn

    from cerebra.brain import Brain
    from cerebra.cli.access import announce_access, check_auth_mode
    from cerebra.cli.preflight import bind_socket, check_engine, check_signature, tls_options
    from cerebra.observability.logging import configure_logging
    from cerebra.server.app import create_app
    from cerebra.server.heap import freeze_startup_heap

    settings = get_settings()
    host = host or settings.server.host
    port = port or settings.server.port
    check_signature(settings)  # CEREBRA_CONFIG_SIGNATURE, when set, must match
    tls = tls_options(settings)  # CEREBRA_TLS_CERTFILE / _KEYFILE, when set, must load
    # Before anything loads: the port must be free (bound now, handed to uvicorn below) and
    # the engine must run here (a trial generation in a child process).
    sock = bind_socket(host, port)
    try:
        check_auth_mode(settings, host)  # CEREBRA_AUTH=off only on a loopback address
        if engine_check:
            summary = check_engine(settings)
            if summary:
                print(f"engine ok: {summary}", flush=True)
        configure_logging(settings.server.log_level, json_lines=settings.server.log_json)
        # Load (and verify) models before serving, so a bad model file is a one-line error.
        brain = Brain.from_settings(settings)
        try:
            application = create_app(settings, brain=brain)
            scheme = "https" if tls else "http"
            print(f"Cerebra serving on {scheme}://{host}:{port}", flush=True)
            print(f"data directory: {settings.home.resolve()}", flush=True)
            announce_access(settings, brain, f"{scheme}://{host}:{port}")
            config = uvicorn.Config(
                application, host=host, port=port, log_config=None, access_log=False, **tls
            )
            freeze_startup_heap()  # what start-up loaded is never walked by the GC again
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            brain.close()
    finally:
        sock.close()


@app.command()
def ask(
    prompt: str = typer.Argument(..., help="what to ask"),
    as_json: bool = typer.Option(False, "--json", help="print the full result as JSON"),
    agent: str = typer.Option("", "--agent", help="agent id (memory scope)"),
    user: str = typer.Option("", "--user", help="user id (memory scope)"),
    session: str = typer.Option("", "--session", help="session id"),
    model: str = typer.Option(None, "--model", help="model name"),
    max_tokens: int = typer.Option(None, "--max-tokens", min=1),
    temperature: float = typer.Option(None, "--temperature", min=0.0, max=2.0),
    no_memory: bool = typer.Option(False, "--no-memory", help="neither recall nor remember"),
    local: bool = typer.Option(False, "--local", help="load the model here, even if a server runs"),
    server: str = typer.Option(None, "--server", help="ask the server at this URL"),
) -> None:
    """Ask once, with memory: recall, generate, remember.

    Asks the running server (settings host/port) when one answers; loads the model in this
    process otherwise."""
    from cerebra.cli.remote import open_answerer

    answerer = open_answerer(get_settings(), local=local, server=server)
    try:
        answer = answerer.ask(
            prompt,
            user_id=user,
            agent_id=agent,
            session_id=session,
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            memory=not no_memory,
        )
    finally:
        answerer.close()
    answer = {**answer, "via": answerer.via, "server": answerer.url}
    if as_json:
        print(json.dumps(answer, indent=2))
        return
    via = f"server {answerer.url}" if answerer.url else "in-process"
    text = answer["answer"].strip()
    if text:
        out.print(text, markup=False, highlight=False)
    else:
        out.print("[dim](empty answer)[/dim]")
    out.print(
        f"[dim]{answer['model']} · {answer['usage']['completion_tokens']} tokens · "
        f"{answer['latency_ms']:.0f} ms · {len(answer['memories'])} memories · "
        f"trace {answer['trace_id']} · {via}[/dim]",
        highlight=False,
        soft_wrap=True,  # a trace id stays on one line, to copy
    )


@app.command()
def chat(
    agent: str = typer.Option("", "--agent"),
    user: str = typer.Option("", "--user"),
    session: str = typer.Option("", "--session"),
    model: str = typer.Option(None, "--model"),
    local: bool = typer.Option(False, "--local", help="load the model here, even if a server runs"),
    server: str = typer.Option(None, "--server", help="chat with the server at this URL"),
) -> None:
    """Interactive chat with streaming answers. Ctrl-C stops an answer; /exit, Ctrl-D or
    Ctrl-C at the prompt leave.

    Talks to the running server (settings host/port) when one answers; loads the model in
    this process otherwise."""
    from cerebra.cli.remote import open_answerer
    from cerebra.models.base import Message

    def notice(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    answerer = open_answerer(get_settings(), local=local, server=server, notice=notice)
    if model is None:  # the instruction-tuned SmolLM2 when served (cerebra.models.instruct)
        from cerebra.models.instruct import chat_model

        model = chat_model(answerer.model_names())
    history: list[Message] = []
    via = f"server {answerer.url}" if answerer.url else "model loaded in this process"
    with_model = f"{model}, " if model else ""
    out.print(f"[bold]Cerebra chat[/bold] ({with_model}{via}) — /exit to leave", highlight=False)
    try:
        while True:
            try:
                line = input("you> ")
            except (EOFError, KeyboardInterrupt):
                sys.stdout.write("\n")
                break
            if line.strip() in {"/exit", "/quit"}:
                break
            if not line.strip():
                continue
            answer_text = _chat_turn(answerer, line, history[-8:], agent, user, session, model)
            if answer_text is not None:
                history += [Message("user", line), Message("assistant", answer_text.strip())]
    finally:
        answerer.close()


def _chat_turn(
    answerer: Answerer,
    line: str,
    history: list[Message],
    agent: str,
    user: str,
    session: str,
    model: str | None,
) -> str | None:
    """Stream one answer to stdout; its text, or None when it failed or was cancelled."""
    sys.stdout.write("cerebra> ")
    sys.stdout.flush()
    answer_text: str | None = None
    events = answerer.stream(
        line, history=history, user_id=user, agent_id=agent, session_id=session, model=model
    )
    try:
        for item in events:
            if isinstance(item, dict):
                answer_text = str(item.get("answer", ""))
            else:
                sys.stdout.write(item)
                sys.stdout.flush()
    except KeyboardInterrupt:  # stop this answer (closing `events` below), keep the chat
        print("\n[answer cancelled: Ctrl-C again at the prompt to leave]", flush=True)
        return None
    except CerebraError as exc:
        sys.stdout.write("\n")
        print(f"error: {exc.message}", file=sys.stderr, flush=True)
        return None
    finally:
        events.close()  # in-process: generation stops; server: the connection closes
    sys.stdout.write("\n")
    return answer_text


@app.command()
def feedback(
    trace_id: str = typer.Argument(..., help="the trace id of an answer"),
    quality: float = typer.Argument(..., min=0.0, max=1.0, help="0 = useless … 1 = perfect"),
    comment: str = typer.Option(None, "--comment"),
) -> None:
    """Rate an answer: its memories' salience and (when routed) the router learn from it."""
    from cerebra.brain import Brain

    brain = Brain.for_feedback(get_settings())
    try:
        result = brain.feedback(trace_id, quality, comment)
    finally:
        brain.close()
    print(json.dumps(result))


def _click_exceptions() -> ModuleType:
    """Typer >= 0.26 vendors click as typer._click; older versions use click itself."""
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("click exceptions not found")


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors with exit code 2 for misuse and bad input."""
    # llama.cpp and torch both run OpenMP pools; spinning idle workers of one steal the
    # cores of the other (and of everything else on a small machine). Set before either
    # library loads; an explicit OMP_WAIT_POLICY in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    exc_mod = _click_exceptions()
    try:
        result: Any = app(args=argv, standalone_mode=False)
    except exc_mod.NoArgsIsHelpError as exc:
        print(exc.format_message() if hasattr(exc, "format_message") else exc)
        raise SystemExit(0) from None
    except exc_mod.UsageError as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        message = exc.format_message().replace("\n", " ")
        print(f"error: {message}{hint}", file=sys.stderr)
        raise SystemExit(2) from None
    except exc_mod.ClickException as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except CerebraError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    except ValidationError as exc:  # settings from the environment that do not parse
        from cerebra.config_doc import env_name_for

        first = exc.errors()[0]
        message = first.get("msg")
        if first.get("type") == "extra_forbidden":
            message = "no such setting (see `cerebra config show --markdown`)"
        print(
            f"error: invalid setting {env_name_for(tuple(first.get('loc', ())))}: {message}",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    except SettingsError as exc:  # e.g. a list setting that is not JSON
        print(f"error: invalid setting: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        raise SystemExit(130) from None
    if isinstance(result, int) and result:
        raise SystemExit(result)


if __name__ == "__main__":
    main()
