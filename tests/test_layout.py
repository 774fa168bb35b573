"""The package's shape: no module or function longer than a reader can hold.

``python -m tests.test_layout`` prints the longest modules and functions.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from tests.import_graph import ROOT, modules

#: Most lines a module may have: in ``core/``, and anywhere else in ``src/``.
MAX_CORE_LINES = 400
MAX_MODULE_LINES = 500
#: Most lines a function (or method) may have, from its ``def`` to its last line.
MAX_FUNCTION_LINES = 80


def line_count(path: Path) -> int:
    """Lines in a file."""
    return len(path.read_text().splitlines())


def function_lengths(path: Path) -> list[tuple[int, str]]:
    """``(lines, qualified name)`` of every function and method in a file."""
    out = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                out.append((child.end_lineno - child.lineno + 1, name))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text()), "")
    return out


def _limit(name: str) -> int:
    return MAX_CORE_LINES if name.startswith("napari_maxrf_sr.core.") else MAX_MODULE_LINES


def test_no_module_too_long():
    too_long = [f"{path.relative_to(ROOT)}: {line_count(path)} lines > {_limit(name)}"
                for name, path in modules().items() if line_count(path) > _limit(name)]
    assert not too_long, "\n".join(too_long)


def test_no_function_too_long():
    too_long = [f"{path.relative_to(ROOT)}: {fn} has {n} lines > {MAX_FUNCTION_LINES}"
                for path in modules().values() for n, fn in function_lengths(path)
                if n > MAX_FUNCTION_LINES]
    assert not too_long, "\n".join(too_long)


def test_the_function_lengths_count_methods_and_nested_functions(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("class A:\n    def f(self):\n        def g():\n            return 1\n"
                    "        return g\n\n\ndef h():\n    pass\n")
    assert sorted(function_lengths(path)) == [(2, "A.f.g"), (2, "h"), (4, "A.f")]


def main() -> int:
    """Print the longest modules and functions."""
    mods = modules()
    print("longest modules:")
    for n, name in sorted(((line_count(p), m) for m, p in mods.items()), reverse=True)[:12]:
        print(f"  {n:5d}  {name}")
    print("longest functions:")
    fns = [(n, f"{m}:{fn}") for m, p in mods.items() for n, fn in function_lengths(p)]
    for n, name in sorted(fns, reverse=True)[:12]:
        print(f"  {n:5d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
