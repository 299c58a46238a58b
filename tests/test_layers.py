"""The package layers: imports only point down, and no cycle exists among synth's packages."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "synth"


def _unit(module: str) -> str:
    """The package a module belongs to: synth.<package> (top-level modules count alone)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _imports(path: Path) -> set[str]:
    """synth modules imported anywhere in the file (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "synth" or m.startswith("synth.")}


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        source = _unit(module.removesuffix(".__init__"))
        for target in map(_unit, _imports(path)):
            if target not in (source, "synth"):
                graph[source].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_no_import_cycle_among_synth_packages() -> None:
    assert find_cycle(package_graph()) is None, find_cycle(package_graph())


def test_lower_layers_do_not_import_upper_ones() -> None:
    graph = package_graph()
    assert not graph.get("synth.infra", set()) - {"synth.infra"}, graph["synth.infra"]
    assert "synth.synthesis" not in graph["synth.pipeline"]
    for low in ("synth.env", "synth.template", "synth.tokenizer", "synth.policy",
                "synth.rollout", "synth.sandbox", "synth.search"):
        assert not graph.get(low, set()) & {"synth.pipeline", "synth.synthesis", "synth.cli"}, low
