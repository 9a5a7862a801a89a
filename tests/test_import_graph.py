"""The import graph of cerebra has no cycles, and cerebra.models never imports cerebra.testing.

Every module under cerebra/ is parsed with `ast`; its imports of cerebra modules, at module
level and inside functions and classes alike (an import run on first call still ties the two
modules together), make the graph's edges. Imports under `if TYPE_CHECKING:` are left out:
they never run. `from package import name` is an edge to the submodule `package.name` when
there is one, else to the package itself. A cycle is reported as a readable chain
(a -> b -> a); cycles in KNOWN are tolerated until the refactoring that removes them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cerebra"

# Cycles tolerated until the refactoring that removes them: none are left.
KNOWN: frozenset[tuple[str, ...]] = frozenset()


def module_names() -> dict[str, Path]:
    """Dotted name -> file, for every module and package of cerebra."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import under `node`, skipping the bodies of `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _type_checking(child):
            for other in child.orelse:
                yield from _import_nodes(ast.Module(body=[other], type_ignores=[]))
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _import_nodes(child)


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The cerebra modules that module `name` imports (itself excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            targets.add(sub if sub in modules else base)
    found = set()
    for target in targets:
        while target and target not in modules:  # a name inside a module: that module
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imported(name, path, modules) for name, path in modules.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def chain(graph: dict[str, set[str]], component: list[str]) -> str:
    """One cycle through the component's first module, as 'a -> b -> a' (shortest path)."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for step in sorted(graph[node] & members):
                if step == start:
                    return " -> ".join([*paths[node], start])
                if step not in paths:
                    paths[step] = [*paths[node], step]
                    nxt.append(step)
        frontier = nxt
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def test_no_import_cycles_between_cerebra_modules() -> None:
    graph = import_graph()
    assert graph.get("cerebra.memory.sqlite"), "graph is empty"
    components = strongly_connected(graph)
    new = [c for c in components if tuple(c) not in KNOWN]
    report = "\n".join(
        f"  {chain(graph, c)}  (modules in the cycle: {', '.join(c)})" for c in new
    )
    assert not new, f"import cycles between cerebra modules:\n{report}"


def test_known_cycles_still_exist() -> None:
    """An allow-list entry goes once its cycle is gone, so it cannot hide a new one."""
    present = {tuple(c) for c in strongly_connected(import_graph())}
    assert not (KNOWN - present), f"remove from KNOWN: {sorted(KNOWN - present)}"


def test_models_never_import_testing() -> None:
    graph = import_graph()
    offenders = sorted(
        name
        for name, targets in graph.items()
        if name.startswith("cerebra.models") and "cerebra.testing" in targets
    )
    assert not offenders, f"cerebra.models imports cerebra.testing in: {offenders}"


def test_cycle_detection_reports_a_chain() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    components = strongly_connected(graph)
    assert components == [["a", "b", "c"]]
    assert chain(graph, components[0]) == "a -> b -> c -> a"


def test_type_checking_and_function_level_imports(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from cerebra.memory import base\n"
        "if TYPE_CHECKING:\n"
        "    from cerebra.brain import Brain\n"
        "else:\n"
        "    import cerebra.errors\n"
        "def f():\n"
        "    from cerebra.memory.store import MemoryStore\n"
        "    from . import text\n"
    )
    path = tmp_path / "probe.py"
    path.write_text(source)
    modules = module_names()
    found = imported("cerebra.memory.probe", path, modules)
    assert found == {
        "cerebra.memory.base",
        "cerebra.errors",
        "cerebra.memory.store",
        "cerebra.memory.text",
    }
