"""The package's layout: no import cycles, and each layer imports only the ones below it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "microgradx"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def imports_of(path: Path) -> set[str]:
    """The microgradx modules `path` imports when it runs (at the top or inside functions;
    not the imports in `if TYPE_CHECKING:`, which only type checkers read)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            for child in getattr(node, "orelse", []):
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("microgradx"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("microgradx"):
                for alias in node.names:  # `from . import ieee` imports a module
                    sub = f"{target}.{alias.name}"
                    found.add(sub if (ROOT / (sub.replace(".", "/") + ".py")).exists()
                              or (ROOT / sub.replace(".", "/")).is_dir() else target)  # fmt: skip
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text("utf-8")))
    # importing a.b.c imports its packages first, unless they are the importer's own (they
    # are being imported already: a package's modules import each other freely)
    own = {".".join(name.split(".")[:k]) for k in range(1, len(name.split(".")) + 1)}
    for target in list(found):
        parts = target.split(".")
        found.update(".".join(parts[:k]) for k in range(2, len(parts)))
    return found - own


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path) & set(modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def dfs(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return [*path[path.index(m) :], m]
            if m not in state and (cycle := dfs(m)) is not None:
                return cycle
        path.pop()
        state[n] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)) is not None:
            return cycle
    return None


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    # the package's top level imports the public names from every part; no part imports
    # the top level back (it is the user's entry point, not a shared module)
    inner = {n: {m for m in deps if m != "microgradx"} for n, deps in graph.items()}
    assert find_cycle(inner) is None, find_cycle(inner)
    assert [n for n, deps in graph.items() if "microgradx" in deps and n != "microgradx"] == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_engine_core_does_not_import_the_tools_above_it() -> None:
    graph = import_graph()
    core = ["microgradx.engine", "microgradx.primitive", "microgradx._builtins"]
    above = {"microgradx.compile", "microgradx.viz", "microgradx.define", "microgradx.nn"}
    for name in core:
        seen, stack = set(), [name]
        while stack:
            for dep in graph[stack.pop()]:
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        assert not seen & above, (name, seen & above)
