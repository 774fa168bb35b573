"""The npe2 manifest is found and valid, in the editable install and in a built wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
SRC = ROOT / "src" / "napari_maxrf_sr"
#: Parts of the package, and what none of their modules may import, anywhere in the module
#: (at the top or inside a function): the layers of docs/developers.md.
FORBIDDEN_IMPORTS = {
    "core": ("napari_maxrf_sr.io", "napari_maxrf_sr._napari", "napari_maxrf_sr.cli",
             "napari_maxrf_sr.api", "qtpy", "napari", "magicgui", "PyQt5", "PySide2"),
    "io": ("napari_maxrf_sr._napari", "napari_maxrf_sr.cli", "napari_maxrf_sr.api",
           "qtpy", "napari", "magicgui", "PyQt5", "PySide2", "torch"),
    "errors.py": ("napari_maxrf_sr", "numpy", "torch"),
    "atomic.py": ("napari_maxrf_sr.core", "napari_maxrf_sr.io", "numpy", "torch"),
    "errorlog.py": ("napari_maxrf_sr.core", "napari_maxrf_sr.io", "torch"),
    "provenance.py": ("napari_maxrf_sr.core", "napari_maxrf_sr.io", "torch", "qtpy"),
}


def _imports(path: Path) -> list[str]:
    """Every module a file imports, relative imports made absolute."""
    import ast

    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(SRC.parent).parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            out += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return out


@pytest.mark.parametrize("part", sorted(FORBIDDEN_IMPORTS))
def test_layers_import_only_what_they_may(part):
    files = sorted((SRC / part).rglob("*.py")) if (SRC / part).is_dir() else [SRC / part]
    bad = []
    for path in files:
        for name in _imports(path):
            if name == "__future__" or name.startswith("__future__."):
                continue
            for forbidden in FORBIDDEN_IMPORTS[part]:
                if name == forbidden or name.startswith(forbidden + "."):
                    bad.append(f"{path.relative_to(SRC)} imports {name}")
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
