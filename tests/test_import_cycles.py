"""No two ronda modules import each other, not even from inside a function.

A cycle points at something misplaced (a type both sides need, a cache kept on
the wrong object); a lazy import, or one only for type checkers, only hides
it. The modules are read, not imported: every `import` and `from ... import`
statement counts, wherever it stands.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"ronda.agent": ROOT / "agent", "ronda.collector": ROOT / "collector", "ronda": ROOT / "ronda"}
KNOWN: list[set[str]] = []


def modules() -> dict[str, Path]:
    found = {}
    for prefix, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if prefix == "ronda" and parts[0] in ("agent", "collector", "wire"):
                continue  # links to the folders above, and generated code
            found[".".join([prefix, *(p for p in parts if p != "__init__")])] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:  # `from ronda.x import module` names a module, else a name in one
                name = f"{node.module}.{alias.name}"
                found.add(name if name in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & set(known)


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = {v}
            while (w := stack.pop()) != v:
                group.add(w)
            if len(group) > 1:
                found.append(group)

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_one_that_imports_it():
    known = modules()
    assert "ronda.agent.usage.formats" in known and "ronda.errors" in known
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    assert [c for c in cycles(graph) if c not in KNOWN] == []


def test_the_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
