"""The package's modules and what they import, read from the source (nothing is imported).

Shared by ``test_packaging.py`` (layers and import circles) and ``test_layout.py``
(module and function sizes).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "napari_maxrf_sr"


def modules(src: Path | None = None) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    src = SRC if src is None else src
    out = {}
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _absolute(node: ast.ImportFrom, name: str, path: Path) -> str:
    """The module an ``import from`` names, relative imports made absolute."""
    if not node.level:
        return node.module or ""
    parts = (name if path.name == "__init__.py" else name.rpartition(".")[0]).split(".")
    parts = parts[: len(parts) - node.level + 1]
    return ".".join([*parts, node.module]) if node.module else ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST, at_import_time: bool) -> list[ast.Import | ast.ImportFrom]:
    """Import statements of a module: all of them, or only those run when it is imported
    (not inside functions, not under ``if TYPE_CHECKING``)."""
    if not at_import_time:
        return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    out = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                out.append(child)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(ast.Module(body=[other], type_ignores=[]))
            else:
                visit(child)

    visit(tree)
    return out


def imports(name: str, path: Path, *, at_import_time: bool = False) -> set[str]:
    """Every module name a module imports (``from a import b`` gives ``a`` and ``a.b``)."""
    out = set()
    for node in _import_nodes(ast.parse(path.read_text()), at_import_time):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        else:
            base = _absolute(node, name, path)
            out |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
    out.discard("__future__")
    return {m for m in out if not m.startswith("__future__.")}


def import_graph(*, at_import_time: bool = False) -> dict[str, set[str]]:
    """Module -> the package's own modules it imports (``from a import b`` counts as
    ``a.b`` when that is a module, else as ``a``). A package's imports of its own
    modules (re-exports in ``__init__``) are left out."""
    known = modules()
    graph = {}
    for name, path in known.items():
        targets = set()
        for m in imports(name, path, at_import_time=at_import_time):
            if m in known:
                targets.add(m)
            elif m.rpartition(".")[0] in known:  # "a.b" where b is a name in module a
                targets.add(m.rpartition(".")[0])
        graph[name] = {t for t in targets if t != name and not t.startswith(name + ".")}
    return graph


def loaded_at_import(name: str) -> set[str]:
    """Every module name (the package's and others') that importing ``name`` imports,
    following the package's own modules (and their parent packages) at import time."""
    known = modules()
    seen, todo, found = set(), [name], set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:k]) for k in range(1, len(parts)) if ".".join(parts[:k]) in known]
        for target in imports(m, known[m], at_import_time=True):
            found.add(target)
            if target in known:
                todo.append(target)
            elif target.rpartition(".")[0] in known:
                todo.append(target.rpartition(".")[0])
    return found


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of two or more modules that import each other, directly or in a ring
    (the strongly connected components of Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(groups)
