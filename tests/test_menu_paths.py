"""Every napari menu path that the docs and messages name is one napari really shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The documents a user follows (developer docs may quote other programs' menus).
DOCS = [ROOT / "README.md", ROOT / "docs" / "user_guide.md", ROOT / "docs" / "install.md"]
TOP_MENUS = ("File", "View", "Layers", "Plugins", "Window", "Help")
_PATH = re.compile(r"`((?:" + "|".join(TOP_MENUS) + r") > [^`]+)`")


def named_paths() -> dict[str, list[str]]:
    """``menu path -> where it is named``, from the docs (in backticks) and the messages."""
    from napari_maxrf_sr.core import validation

    found: dict[str, list[str]] = {}
    for doc in DOCS:
        for path in _PATH.findall(doc.read_text(encoding="utf-8")):
            found.setdefault(" > ".join(p.strip() for p in path.split(">")), []).append(
                doc.name)
    hint = re.search(r"(Plugins > [^;.),]+?)(?:\s*$|[;.),])", validation.ALIGN_HINT)
    found.setdefault(hint.group(1).strip(), []).append("validation.ALIGN_HINT")
    return found


def menu_items(window) -> set[str]:
    """Every item of napari's menu bar as ``Top > Sub > Item`` (submenus too)."""
    out: set[str] = set()

    def walk(menu, path):
        menu.aboutToShow.emit()  # napari fills some menus when they open
        for action in menu.actions():
            text = action.text().replace("&", "").strip()
            if not text:
                continue
            if action.menu() is not None:
                walk(action.menu(), [*path, text])
            else:
                out.add(" > ".join([*path, text]))
            out.add(" > ".join([*path, text]))

    for action in window.menuBar().actions():
        if action.menu() is not None:
            walk(action.menu(), [action.text().replace("&", "")])
    return out


def test_the_docs_name_menu_paths():
    paths = named_paths()
    assert any(p.startswith("File > Open Sample") for p in paths), paths
    assert any(p.startswith("Plugins > ") for p in paths), paths


@pytest.mark.viewer
def test_every_named_menu_path_is_in_napari(make_napari_viewer):
    viewer = make_napari_viewer()
    items = menu_items(viewer.window._qt_window)
    missing = {p: where for p, where in named_paths().items() if p not in items}
    ours = sorted(i for i in items if "MA-XRF" in i or "Synthetic" in i)
    assert not missing, f"not in napari's menus: {missing}; napari shows: {ours}"
