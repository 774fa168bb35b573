"""The npe2 manifest is found and valid; every layer keeps to what it claims to import.

The layers and the import circles are read from the source (:mod:`tests.import_graph`).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.import_graph import (
    ROOT,
    SRC,
    import_circles,
    import_graph,
    imports,
    loaded_at_import,
    modules,
)


def test_manifest_validates_through_the_entry_point():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-maxrf-sr")
    assert manifest.name == "napari-maxrf-sr"
    out = subprocess.run(["npe2", "validate", "napari-maxrf-sr"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    # Every command's python_name must import.
    for command in manifest.contributions.commands:
        assert command.exec is not None or command.python_name
        module, attr = command.python_name.split(":")
        __import__(module)
        assert hasattr(sys.modules[module], attr), command.python_name


def test_core_imports_no_qt():
    code = ("import sys, napari_maxrf_sr.api, napari_maxrf_sr.cli, napari_maxrf_sr.io, "
            "napari_maxrf_sr.core.train, napari_maxrf_sr.baselines, napari_maxrf_sr.simulate; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('qtpy', 'PyQt5', 'PySide2', 'napari', 'magicgui')]; print(bad); "
            "sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_wheel_contains_the_manifest(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
         str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "napari_maxrf_sr/napari.yaml" in names
        text = zf.read("napari_maxrf_sr/napari.yaml").decode()
        assert text == (ROOT / "napari.yaml").read_text()
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert "napari_maxrf_sr:napari.yaml" in zf.read(entry).decode()


# -- layers: what each part of the package may import --------------------------------------
QT = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui")
PKG = "napari_maxrf_sr"


@dataclass(frozen=True)
class Claim:
    """What a part of the package says it does not import.

    Attributes
    ----------
    anywhere
        Never imported by any of its modules, at the top or inside a function.
    at_import
        Not loaded when one of its modules is imported (followed through the package's
        own modules): it may be imported inside a function, when it is needed.
    """

    anywhere: tuple[str, ...] = ()
    at_import: tuple[str, ...] = ()


#: Every layer claim that a module's docstring makes (or docs/developers.md), by file or
#: folder; a module inherits the claims of the folders it is in.
CLAIMS = {
    "core": Claim((f"{PKG}.io", f"{PKG}._napari", f"{PKG}.cli", f"{PKG}.api", "napari", *QT)),
    "io": Claim((f"{PKG}._napari", f"{PKG}.cli", f"{PKG}.api", "napari", *QT, "torch")),
    "registration": Claim((f"{PKG}.io", f"{PKG}._napari", f"{PKG}.cli", f"{PKG}.api",
                           "napari", *QT)),
    "errors.py": Claim((PKG, "numpy", "torch")),
    "method_names.py": Claim((PKG, "numpy", "torch")),
    "atomic.py": Claim((f"{PKG}.core", f"{PKG}.io", f"{PKG}._napari", "numpy", "torch")),
    "errorlog.py": Claim((f"{PKG}.core", f"{PKG}.io", f"{PKG}._napari", "torch", *QT)),
    "provenance.py": Claim((f"{PKG}.core", f"{PKG}.io", f"{PKG}._napari", "torch", *QT)),
    "metrics.py": Claim((f"{PKG}.io", f"{PKG}._napari", f"{PKG}.cli", "napari", *QT),
                        at_import=("torch",)),
    "cli": Claim((f"{PKG}._napari", "napari", *QT), at_import=("torch",)),
    "_napari/reader.py": Claim(QT, at_import=("torch",)),
    "_napari/writer.py": Claim(QT, at_import=("torch",)),
    "_napari/sample_data.py": Claim(QT, at_import=("torch",)),
    "_napari/results.py": Claim(QT),
    "_napari/layer_style.py": Claim(("napari", *QT)),
    "_napari/plain_text.py": Claim(at_import=QT),
    "core/photo_pixels.py": Claim(at_import=("torch",)),
    "_napari/panel/__init__.py": Claim(QT),
    "_napari/panel/inputs.py": Claim(QT),
    "_napari/panel/session.py": Claim(("napari", *QT)),
    "_napari/panel/jobs.py": Claim(QT),
    "_napari/panel/outcome.py": Claim(QT),
    "_napari/panel/texts.py": Claim(QT),
    "_napari/panel/terms.py": Claim(QT),
    "_napari/panel/comparison.py": Claim(QT),
    "_napari/panel/element_view.py": Claim(("napari", *QT)),
}


def _claims(path: Path) -> Claim:
    """Every claim that holds for one module (its own and its folders')."""
    rel = path.relative_to(SRC).as_posix()
    found = [c for part, c in CLAIMS.items() if rel == part or rel.startswith(part + "/")]
    return Claim(tuple(x for c in found for x in c.anywhere),
                 tuple(x for c in found for x in c.at_import))


def _matches(name: str, forbidden: tuple[str, ...]) -> str | None:
    return next((f for f in forbidden if name == f or name.startswith(f + ".")), None)


@pytest.mark.parametrize("part", sorted(CLAIMS))
def test_layers_import_only_what_they_may(part):
    files = sorted((SRC / part).rglob("*.py")) if (SRC / part).is_dir() else [SRC / part]
    known = {path: name for name, path in modules().items()}
    bad = []
    for path in files:
        name, claim = known[path], _claims(path)
        bad += [f"{path.relative_to(SRC)} imports {m}" for m in sorted(imports(name, path))
                if _matches(m, claim.anywhere)]
        bad += [f"importing {path.relative_to(SRC)} loads {m}"
                for m in sorted(loaded_at_import(name)) if _matches(m, claim.at_import)]
    assert not bad, "\n".join(bad)


#: Words in a module's docstring that claim a layer, and what the claim must forbid.
_CLAIM_WORDS = {"no qt": "qtpy", "qt-free": "qtpy", "imports nothing from qt": "qtpy",
                "no torch": "torch", "without torch": "torch", "no napari import": "napari"}


def test_every_layer_claim_in_a_docstring_is_checked():
    unchecked = []
    for name, path in modules().items():
        doc = (ast.get_docstring(ast.parse(path.read_text())) or "").lower()
        claim = _claims(path)
        for words, module in _CLAIM_WORDS.items():
            said = re.search(rf"(?<![\w-]){re.escape(words)}(?![\w-])", doc)
            if said and module not in (*claim.anywhere, *claim.at_import):
                unchecked.append(f"{name} says {words!r}: add it to CLAIMS")
    assert not unchecked, "\n".join(unchecked)


def test_a_broken_claim_is_caught(tmp_path, monkeypatch):
    """The claim check follows imports through the package's own modules."""
    import tests.import_graph as graph

    pkg = tmp_path / PKG
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "top.py").write_text("from .sub import helper\n\ndef f():\n    import numpy\n")
    (pkg / "sub" / "helper.py").write_text("import torch\n")
    monkeypatch.setattr(graph, "SRC", pkg)
    assert "torch" in graph.loaded_at_import(f"{PKG}.top")
    assert "numpy" not in graph.loaded_at_import(f"{PKG}.top")


def test_imports_point_one_way():
    """No import circle, counting imports inside functions and for type checking: a lazy
    import hides a circle from Python, not from a reader."""
    circles = import_circles(import_graph())
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_the_circle_check_finds_a_ring():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set(), "f": {"f"}}
    assert import_circles(graph) == [["a", "b", "c"]]


#: Exceptions that never reach a user (they carry another one across a thread).
INTERNAL_EXCEPTIONS = {"WorkerError"}


def test_every_exception_has_one_home():
    """Every exception is defined in ``errors.py`` and imported from there, everywhere."""
    from napari_maxrf_sr import errors

    names = set(errors.__all__)
    bad = []
    files = {**modules(),
             **{f"tests.{p.stem}": p for p in (ROOT / "tests").glob("*.py")},
             **{f"benchmarks.{p.stem}": p for p in (ROOT / "benchmarks").glob("*.py")}}
    for name, path in files.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and name != f"{PKG}.errors":
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if any(b.endswith(("Error", "Exception")) or b in names for b in bases) and (
                        node.name not in INTERNAL_EXCEPTIONS and name.startswith(PKG)):
                    bad.append(f"{name} defines {node.name}: define it in errors.py")
        for m in sorted(imports(name, path)):
            module, _, attr = m.rpartition(".")
            if attr in names and module.startswith(PKG) and module != f"{PKG}.errors":
                bad.append(f"{name} imports {attr} from {module}, not {PKG}.errors")
    assert not bad, "\n".join(bad)


def test_file_formats_reader_and_sample_data_load_without_torch():
    """A file dropped into napari must not wait for torch (seconds) to load."""
    modules = ("napari_maxrf_sr.io", "napari_maxrf_sr._napari.reader",
               "napari_maxrf_sr._napari.writer", "napari_maxrf_sr._napari.sample_data",
               "napari_maxrf_sr.provenance", "napari_maxrf_sr.cli")
    code = (f"import sys; import {', '.join(modules)}; "
            "bad = [m for m in sys.modules if m.split('.')[0] == 'torch']; "
            "print(len(bad)); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
