"""PluginManager: loads the plugins (cerebra.plugins.loader), calls their `register(manager)`
hook in priority order through pluggy, keeps what each registered, and reloads them.

What a plugin can add, from inside its `register(manager)`:

- `manager.add_tool(name, fn, description)` — a named callable;
- `manager.add_agent(agent_id, traits)` — ensured in the attached agent registry (any object
  with `ensure(agent_id, traits)`, see `attach_agents`); agents are persisted, so unloading
  the plugin stops listing the agent but keeps its record and career;
- `manager.add_judge(name, judge)` — a judge (cerebra.judging's Judge protocol);
- `manager.add_model_kind(kind, factory, needs=, files=, options=)` — a catalog kind
  (cerebra.models.catalog_kinds.register_kind); built-in kinds cannot be replaced;
- `manager.add_policy(engine)` — a policy engine (cerebra.governance.policy.PolicyEngine),
  evaluated with the others by `policy_engine()` on every request (see PluginPolicies).

Names are unique across plugins: the first to register a name keeps it, and a later plugin
that asks for it fails (so priority decides). A plugin that raises on import or in
`register` is reported with the reason and skipped: what it added before raising is removed;
the others load. `reload()` re-imports the plugins whose files changed, removes everything
every plugin registered and registers them all again in priority order, so the result is
what a fresh start would give. `watch()` runs `reload()` when the plugins folder changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pluggy

from cerebra.plugins.hookspecs import PROJECT, PluginSpec
from cerebra.plugins.loader import (
    PluginError,
    PluginMeta,
    Source,
    entry_point_sources,
    folder_sources,
    import_source,
    object_meta,
    purge,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from cerebra.governance.policy import PolicyEngine
    from cerebra.plugins.policies import PluginPolicies
    from cerebra.plugins.watch import Watcher

log = logging.getLogger("cerebra.plugins")

State = Literal["registered", "sandboxed", "failed"]
KINDS = ("tool", "agent", "judge", "model_kind", "policy")


class AgentRegistryLike(Protocol):
    """What plugins' agents are ensured in (cerebra.agents' AgentRegistry has it)."""

    def ensure(self, agent_id: str, traits: Sequence[str]) -> Any: ...


class JudgeLike(Protocol):
    """What plugins' judges are (cerebra.judging.base.JudgeProtocol has this shape)."""

    name: str

    def judge(self, prompt: str, answers: Mapping[str, str]) -> Any: ...


@dataclass(frozen=True)
class Tool:
    name: str
    fn: Callable[..., Any]
    description: str
    plugin: str | None


@dataclass
class PluginInfo:
    """One plugin as last loaded: where from, its metadata, its state and what it added."""

    name: str
    source: Literal["folder", "entry_point"]
    origin: str
    meta: PluginMeta = field(default_factory=PluginMeta)
    state: State = "registered"
    error: str | None = None  # failed: why
    stage: str | None = None  # failed: meta | import | register
    fingerprint: str = ""
    provides: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "origin": self.origin,
                "state": self.state, "sandbox": self.meta.sandbox,
                "priority": self.meta.priority, "description": self.meta.description,
                "error": self.error, "stage": self.stage,
                "provides": {k: sorted(v) for k, v in self.provides.items() if v}}


@dataclass(frozen=True)
class ReloadReport:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


class _Pluggy(pluggy.PluginManager):
    """pluggy, also taking a plain function named `register` as the hook's implementation."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name == "register" and callable(getattr(plugin, name, None)):
            return {"wrapper": False, "hookwrapper": False, "optionalhook": False,
                    "tryfirst": False, "trylast": False, "specname": None}
        return opts


class PluginManager:
    """Plugins from `folder` (cerebra_*.py, cerebra_*/) and, if `entry_points`, the
    `cerebra.plugins` entry points. Nothing is imported until `load()`."""

    def __init__(self, *, folder: Path | None = None, entry_points: bool = True,
                 agents: AgentRegistryLike | None = None) -> None:
        self.folder = folder
        self.entry_points = entry_points
        self._agent_registry = agents
        self._lock = threading.RLock()
        self._infos: dict[str, PluginInfo] = {}
        self._objects: dict[str, Any] = {}  # name -> the imported module / object
        self._pm = _Pluggy(PROJECT)
        self._pm.add_hookspecs(PluginSpec)
        self._current: str | None = None  # the plugin whose register() is running
        self.tools: dict[str, Tool] = {}
        self.agents: dict[str, tuple[tuple[str, ...], str | None]] = {}
        self.judges: dict[str, tuple[JudgeLike, str | None]] = {}
        self.model_kinds: dict[str, str | None] = {}
        self.policies: list[tuple[PolicyEngine, str | None]] = []
        self._watchers: list[Watcher] = []
        self._listeners: list[Callable[[ReloadReport], None]] = []

    # -- what plugins call ----------------------------------------------------------------
    def add_tool(self, name: str, fn: Callable[..., Any], description: str = "") -> None:
        if not callable(fn):
            raise PluginError(f"tool {name!r} is not callable", field="tool")
        with self._lock:
            self._claim(self.tools, "tool", name)
            self.tools[name] = Tool(name, fn, description, self._current)

    def add_agent(self, agent_id: str, traits: Sequence[str] = ()) -> None:
        with self._lock:
            self._claim(self.agents, "agent", agent_id)
            if self._agent_registry is not None:
                self._agent_registry.ensure(agent_id, list(traits))
            self.agents[agent_id] = (tuple(traits), self._current)

    def add_judge(self, name: str, judge: JudgeLike) -> None:
        if not callable(getattr(judge, "judge", None)):
            raise PluginError(f"judge {name!r} needs judge(prompt, answers) -> Verdict",
                              field="judge")
        with self._lock:
            self._claim(self.judges, "judge", name)
            self.judges[name] = (judge, self._current)

    def add_model_kind(self, kind: str, factory: Callable[..., Any], *, needs: tuple[str, ...] = (),
                       files: bool = False, options: type[BaseModel] | None = None) -> None:
        from cerebra.models import catalog_kinds

        with self._lock:
            self._claim(self.model_kinds, "model kind", kind)
            if kind in catalog_kinds.KINDS or kind in catalog_kinds.KIND_PROVIDERS:
                raise PluginError(f"model kind {kind!r} is built in and cannot be replaced",
                                  field="kind")
            catalog_kinds.register_kind(kind, factory, needs=needs, files=files, options=options)
            self.model_kinds[kind] = self._current

    def add_policy(self, engine: PolicyEngine) -> None:
        if not callable(getattr(engine, "evaluate", None)):
            raise PluginError("a policy needs evaluate(stage, text, context)", field="policy")
        with self._lock:
            self.policies.append((engine, self._current))

    def _claim(self, table: dict[str, Any], what: str, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"a {what} needs a non-empty name", field=what)
        if name in table:
            owner = table[name][-1] if isinstance(table[name], tuple) else (
                table[name].plugin if isinstance(table[name], Tool) else table[name])
            raise PluginError(f"{what} {name!r} is already registered by "
                              f"{owner or 'the host'}", field=what)

    # -- lookups --------------------------------------------------------------------------
    def tool(self, name: str) -> Tool:
        with self._lock:  # never a half-done reload's view
            try:
                return self.tools[name]
            except KeyError:
                raise PluginError(f"no tool {name!r}", field="tool") from None

    def judge(self, name: str) -> JudgeLike:
        with self._lock:
            try:
                return self.judges[name][0]
            except KeyError:
                raise PluginError(f"no judge {name!r}", field="judge") from None

    def current_policies(self) -> list[tuple[PolicyEngine, str | None]]:
        """The registered policies, waiting for a reload in progress to finish: a request
        never sees the moment between a plugin's unregistering and its registering again."""
        with self._lock:
            return list(self.policies)

    def plugins(self) -> list[PluginInfo]:
        with self._lock:
            return sorted(self._infos.values(), key=_order)

    def info(self, name: str) -> PluginInfo:
        with self._lock:
            return self._infos[name]

    def attach_agents(self, registry: AgentRegistryLike) -> None:
        """Ensure the agents registered so far (and later ones) in `registry`."""
        with self._lock:
            self._agent_registry = registry
            for agent_id, (traits, _) in self.agents.items():
                registry.ensure(agent_id, list(traits))

    def policy_engine(self) -> PluginPolicies:
        """One PolicyEngine evaluating every policy the plugins registered, as they are now."""
        from cerebra.plugins.policies import PluginPolicies

        return PluginPolicies(self)

    # -- loading --------------------------------------------------------------------------
    def _discover(self) -> tuple[dict[str, Source], list[PluginInfo]]:
        found: dict[str, Source] = {}
        clashes: list[PluginInfo] = []
        sources = folder_sources(self.folder) if self.folder is not None else []
        if self.entry_points:
            sources += entry_point_sources()
        for source in sources:
            if source.name in found:
                clashes.append(PluginInfo(
                    source.name, source.kind, source.origin, state="failed", stage="import",
                    error=f"the name is taken by {found[source.name].origin}"))
            else:
                found[source.name] = source
        return found, clashes

    def load(self) -> list[PluginInfo]:
        """Import and register every plugin (again: a reload of everything)."""
        with self._lock:
            self._unregister_all()
            for name in list(self._objects):
                self._forget(name)
            self._infos.clear()
        self.reload()
        return self.plugins()

    def reload(self) -> ReloadReport:
        """Re-import the plugins whose files changed (new ones too; removed ones are
        dropped), then register every plugin again in priority order."""
        with self._lock:
            sources, clashes = self._discover()
            old = dict(self._infos)
            prints = {n: s.fingerprint() for n, s in sources.items()}
            added = tuple(n for n in sources if n not in old)
            changed = tuple(n for n in sources if n in old and old[n].fingerprint != prints[n])
            removed = tuple(n for n in old if n not in sources)
            report = ReloadReport(added, changed, removed)
            if old and not report:
                return report
            self._unregister_all()
            for name in removed:
                self._forget(name)
                del self._infos[name]
            for name in (*added, *changed):
                self._forget(name)
                self._infos[name] = self._import(sources[name], prints[name])
            for info in clashes:  # two plugins of one name: the first found is kept
                log.error("plugin %s at %s skipped: %s", info.name, info.origin, info.error)
            for info in sorted(self._infos.values(), key=_order):
                if info.state != "failed" or info.stage == "register":
                    self._register(info)
            listeners = list(self._listeners)
        if report:
            log.info("plugins loaded: %s", ", ".join(
                f"{i.name} ({i.state})" for i in self.plugins()))
            for listener in listeners:
                try:
                    listener(report)
                except Exception:
                    log.exception("a plugin reload listener failed")
        return report

    def subscribe(self, listener: Callable[[ReloadReport], None]) -> None:
        """Call `listener(report)` after every reload that changed something."""
        with self._lock:
            self._listeners.append(listener)

    def _import(self, source: Source, fingerprint: str) -> PluginInfo:
        info = PluginInfo(source.name, source.kind, source.origin, fingerprint=fingerprint)
        try:
            meta = source.read_meta()
        except PluginError as exc:
            return self._fail(info, "meta", str(exc))
        try:
            obj = import_source(source)
        except (Exception, SystemExit) as exc:
            return self._fail(info, "import", f"{type(exc).__name__}: {exc}")
        if meta is None:
            try:
                meta = object_meta(obj, source.name)
            except PluginError as exc:
                return self._fail(info, "meta", str(exc))
        info.meta = meta or PluginMeta()
        info.state = "sandboxed" if info.meta.sandbox else "registered"
        self._objects[source.name] = obj
        return info

    def _fail(self, info: PluginInfo, stage: str, error: str) -> PluginInfo:
        info.state, info.stage, info.error = "failed", stage, error
        log.error("plugin %s skipped (%s): %s", info.name, stage, error)
        return info

    def _register(self, info: PluginInfo) -> None:
        info.state = "sandboxed" if info.meta.sandbox else "registered"
        info.stage = info.error = None
        info.provides = {}
        if info.meta.sandbox:
            return
        obj = self._objects[info.name]
        try:
            self._pm.register(obj, name=info.name)
            if not self._pm.get_hookcallers(obj):
                raise PluginError("it defines no register(manager) hook")
            others = [p for p in self._pm.get_plugins() if p is not obj]
            self._current = info.name
            self._pm.subset_hook_caller("register", remove_plugins=others)(manager=self)
        except Exception as exc:
            self._remove_owned(info.name)
            if self._pm.is_registered(obj):
                self._pm.unregister(obj)
            self._fail(info, "register", f"{type(exc).__name__}: {exc}")
        else:
            info.provides = self._owned(info.name)
        finally:
            self._current = None

    def _owned(self, name: str) -> dict[str, list[str]]:
        return {
            "tool": [k for k, t in self.tools.items() if t.plugin == name],
            "agent": [k for k, (_, p) in self.agents.items() if p == name],
            "judge": [k for k, (_, p) in self.judges.items() if p == name],
            "model_kind": [k for k, p in self.model_kinds.items() if p == name],
            "policy": [getattr(e, "name", type(e).__name__) for e, p in self.policies
                       if p == name],
        }

    def _remove_owned(self, name: str) -> None:
        from cerebra.models.catalog_kinds import unregister_kind

        for key in [k for k, t in self.tools.items() if t.plugin == name]:
            del self.tools[key]
        for key in [k for k, (_, p) in self.agents.items() if p == name]:
            del self.agents[key]
        for key in [k for k, (_, p) in self.judges.items() if p == name]:
            del self.judges[key]
        for key in [k for k, p in self.model_kinds.items() if p == name]:
            del self.model_kinds[key]
            unregister_kind(key)
        self.policies = [(e, p) for e, p in self.policies if p != name]

    def _unregister_all(self) -> None:
        for name, obj in self._objects.items():
            self._remove_owned(name)
            if self._pm.is_registered(obj):
                self._pm.unregister(obj)

    def _forget(self, name: str) -> None:
        self._objects.pop(name, None)
        info = self._infos.get(name)
        if info is not None and info.source == "folder":
            purge(name)

    # -- hot reload -----------------------------------------------------------------------
    def watch(self, on_reload: Callable[[ReloadReport], None] | None = None, *,
              debounce_ms: int = 200) -> Watcher:
        """Reload whenever the plugins folder changes (watchfiles, in a daemon thread);
        `on_reload` gets each non-empty report. Stop it with `.stop()` or `close()`."""
        from cerebra.plugins.watch import Watcher

        if self.folder is None or not self.folder.is_dir():
            raise PluginError(f"no plugins folder to watch: {self.folder}", field="folder")
        watcher = Watcher(self, self.folder, on_reload, debounce_ms=debounce_ms)
        with self._lock:
            self._watchers.append(watcher)
        watcher.start()
        return watcher

    @property
    def watchers(self) -> list[Watcher]:
        with self._lock:
            return list(self._watchers)

    @property
    def watching(self) -> bool:
        return any(w.running for w in self.watchers)

    def close(self) -> None:
        """Stop the watchers (registrations stay: the process may still use them)."""
        with self._lock:
            watchers, self._watchers = self._watchers, []
        for watcher in watchers:
            watcher.stop()


def _order(info: PluginInfo) -> tuple[int, str]:
    return (-info.meta.priority, info.name)
