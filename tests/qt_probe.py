"""Can Qt start here? Asked in a subprocess, before any test creates a QApplication.

Without the system libraries that Qt's xcb platform plugin links against, creating a
QApplication kills Python ("Fatal Python error: Aborted") and leaves pytest-xvfb's Xvfb
running. The probe instead names what is missing (``ldd`` of the plugin) and the
Debian/Ubuntu packages that provide it, so the session can stop with that message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

#: Library file -> Debian/Ubuntu package (what Qt's xcb plugin and napari's canvas need).
PACKAGES = {
    "libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-util.so.1": "libxcb-util1", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-sync.so.1": "libxcb-sync1", "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb.so.1": "libxcb1", "libX11-xcb.so.1": "libx11-xcb1", "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libxkbcommon.so.0": "libxkbcommon0",
    "libGL.so.1": "libgl1", "libEGL.so.1": "libegl1", "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0", "libdbus-1.so.3": "libdbus-1-3",
    "libfontconfig.so.1": "libfontconfig1", "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0",
    "libSM.so.6": "libsm6", "libICE.so.6": "libice6",
}

_START = ("import sys; from qtpy.QtWidgets import QApplication; "
          "app = QApplication(sys.argv[:1]); print('qt-ok')")
_PLUGINS = ("from qtpy.QtCore import QLibraryInfo as L; "
            "print(getattr(L, 'path', None) and L.path(L.LibraryPath.PluginsPath) "
            "or L.location(L.PluginsPath))")


def missing_libraries(ldd_output: str) -> list[str]:
    """Library names that ``ldd`` reports as ``not found``."""
    return sorted(set(re.findall(r"^\s*(\S+)\s+=>\s+not found", ldd_output, re.MULTILINE)))


def advice(missing: list[str], *, xvfb: bool = True) -> str:
    """What to install, in words, for these missing libraries."""
    packages = sorted({PACKAGES.get(lib, "") for lib in missing} - {""})
    unknown = [lib for lib in missing if lib not in PACKAGES]
    lines = ["Qt cannot start, so the tests that open napari cannot run."]
    if not xvfb:
        lines.append("There is no display and no Xvfb to make one: install xvfb and xauth.")
        packages = sorted({*packages, "xvfb", "xauth"})
    if missing:
        lines.append("Missing system libraries: " + ", ".join(missing) + ".")
    if packages:
        lines.append("Install them with: sudo apt-get install -y " + " ".join(packages))
    if unknown:
        lines.append("(For " + ", ".join(unknown) + ": `apt-file search <name>` names the "
                     "package.)")
    lines.append("README.md (Set up) has the full apt-get line for a fresh Debian/Ubuntu "
                 "machine.")
    return "\n".join(lines)


def _xcb_plugin() -> Path | None:
    out = subprocess.run([sys.executable, "-c", _PLUGINS], capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0 or not out.stdout.strip():
        return None
    plugin = Path(out.stdout.strip()) / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def probe(timeout_s: float = 120.0) -> str | None:
    """``None`` when a QApplication starts here; else a message saying what to install."""
    env = dict(os.environ)
    try:
        out = subprocess.run([sys.executable, "-c", _START], capture_output=True, text=True,
                             timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return "Qt did not start within two minutes (is the display answering?)."
    if out.returncode == 0 and "qt-ok" in out.stdout:
        return None
    if "No Qt bindings" in out.stderr or "PythonQtError" in out.stderr:
        return ("No Qt binding is installed: install the test extra, pip install -e "
                '".[test]" (it brings napari with PyQt6).')
    missing: list[str] = []
    plugin = _xcb_plugin()
    if plugin is not None and shutil.which("ldd"):
        ldd = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True)
        missing = missing_libraries(ldd.stdout)
    has_display = bool(env.get("DISPLAY")) or shutil.which("Xvfb") is not None
    if not missing and has_display:
        tail = "\n".join(out.stderr.strip().splitlines()[-5:])
        return f"Qt cannot start, so the tests that open napari cannot run. Qt said:\n{tail}"
    return advice(missing, xvfb=has_display)
