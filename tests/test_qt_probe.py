"""The Qt start-up probe: it names missing libraries and stops the session cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import qt_probe

LDD = """\
        linux-vdso.so.1 (0x00007ffc)
        libQt5XcbQpa.so.5 => /x/libQt5XcbQpa.so.5 (0x00007f)
        libxcb-icccm.so.4 => not found
        libxcb-keysyms.so.1 => not found
        libweird.so.9 => not found
        libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)
"""


def test_missing_libraries_are_named_with_their_packages():
    missing = qt_probe.missing_libraries(LDD)
    assert missing == ["libweird.so.9", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    text = qt_probe.advice(missing)
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1" in text
    assert "apt-file search" in text and "libweird.so.9" in text
    assert "xvfb" in qt_probe.advice([], xvfb=False)


def test_readme_apt_line_installs_every_package_the_probe_may_name():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    line = next(x for x in readme.splitlines() if "apt-get install" in x)
    named = set(line.split())
    wanted = {"xvfb", "xauth", "libgl1-mesa-dri", "libxkbcommon-x11-0", "libxcb-icccm4",
              "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0", "libxcb-render-util0",
              "libxcb-xinerama0", "libxcb-xfixes0", "libxcb-shape0", "libxcb-cursor0",
              "libegl1", "libgl1", "libdbus-1-3", "libfontconfig1", "libglib2.0-0"}
    assert wanted <= named, wanted - named


def _xvfb_pids() -> set[str]:
    """Process ids of running Xvfb servers (from /proc: a minimal system has no pgrep)."""
    pids = set()
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "Xvfb":
                pids.add(comm.parent.name)
        except OSError:  # the process ended meanwhile
            continue
    return pids


def test_a_qt_that_cannot_start_stops_the_session_with_a_message(tmp_path):
    """Qt told to use a platform plugin that does not exist: no abort, no Xvfb left."""
    import os

    before = _xvfb_pids()
    env = {**os.environ, "QT_QPA_PLATFORM": "no-such-platform"}
    root = Path(__file__).parents[1]
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_sr_widget.py::test_cancel_adds_nothing"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode == 3, text
    assert "Qt cannot start" in text and "Fatal Python error" not in text
    assert _xvfb_pids() <= before, "an Xvfb was left running"
