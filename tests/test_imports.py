"""The house rules on imports: no cycles among pisight's modules, device never reaches convert."""

from __future__ import annotations

import ast

from tests.helpers import module_path, project_modules

MODULES = set(project_modules("device") + project_modules("convert"))


def imported_modules(module: str) -> set[str]:
    """pisight modules `module` imports anywhere in its body (function-local imports too).

    `from pisight.a import b` names module pisight.a.b when b is a module. Package
    __init__ files hold only a docstring, so the edge to a parent package is no edge.
    """
    tree = ast.parse(module_path(module).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in MODULES and not module.startswith(name + ".")}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert import_cycles(graph) == [["a", "b", "c"], ["e"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_pisight_modules() -> None:
    graph = {module: imported_modules(module) for module in MODULES}
    assert sum(len(targets) for targets in graph.values()) > 100  # the walk sees the imports
    assert import_cycles(graph) == []


def test_device_never_imports_convert() -> None:
    """The Pi installs only device/: the command line reaches convert by name, at run time."""
    leaks = {
        module: sorted(t for t in imported_modules(module) if t.startswith("pisight.convert"))
        for module in MODULES
        if module.startswith("pisight.device")
    }
    assert {module: found for module, found in leaks.items() if found} == {}
