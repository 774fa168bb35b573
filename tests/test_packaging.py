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
