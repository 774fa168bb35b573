"""docs/developers.md's architecture map lists every module of the package, and no other."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "napari_maxrf_sr"
#: A line of the map that names modules or a folder (descriptions are indented deeper).
ENTRY = re.compile(r"^( {0,8})"  # names sit at most 8 columns in; descriptions deeper
                   r"([A-Za-z0-9_][A-Za-z0-9_/]*(?:\.py|/)(?:, [A-Za-z0-9_]+\.py)*)(?:\s|$)")


def listed_modules(text: str) -> set[str]:
    """Paths (relative to the package) of the modules the first code block names."""
    block = text.split("```", 2)[1]
    folders: list[tuple[int, str]] = []  # (indent, folder) from the outermost in
    listed = set()
    for line in block.splitlines():
        match = ENTRY.match(line)
        if not match:
            continue
        indent, names = len(match.group(1)), match.group(2)
        folders = [(i, f) for i, f in folders if i < indent]
        if names.endswith("/"):
            folders.append((indent, names))
            continue
        path = "".join(f for _, f in folders)
        if not path.startswith("src/napari_maxrf_sr/"):
            continue  # a file outside the package (napari.yaml ...)
        for name in names.split(", "):
            listed.add((path + name).removeprefix("src/napari_maxrf_sr/"))
    return listed


def package_modules() -> set[str]:
    return {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
            if "__pycache__" not in p.parts}


def test_the_architecture_map_lists_every_module_and_no_other():
    listed = listed_modules((ROOT / "docs" / "developers.md").read_text())
    modules = package_modules()
    assert "core/train.py" in listed and "_napari/panel/session.py" in listed
    assert not modules - listed, f"not in docs/developers.md: {sorted(modules - listed)}"
    assert not listed - modules, f"listed but not in the package: {sorted(listed - modules)}"


def test_the_parser_reads_nested_folders_and_shared_lines():
    text = ("```\nsrc/napari_maxrf_sr/\n  api.py      x\n  io/\n    a.py, b.py  y\n"
            "                 c.py is a description\n  _napari/\n    panel/\n"
            "      d.py   z\n  e.py  w\nnapari.yaml  m\n```\n")
    assert listed_modules(text) == {"api.py", "io/a.py", "io/b.py", "_napari/panel/d.py",
                                    "e.py"}
