"""Make the documentation screenshots of the plugin at 1366 x 768, by clicks alone.

Run from the repository root (on a machine without a screen, under Xvfb)::

    xvfb-run -a -s "-screen 0 1366x768x24" python docs/make_screenshots.py

It opens napari in a 1366 x 768 window and does what a user does, with the default
settings: the sample from the ``File > Open Sample`` menu, the panel from the ``Plugins``
menu, a mouse click on Start, a look at the run a minute later, the results when it ends
(the ``default`` preset: minutes on a CPU), a click on Compare; then the camera-photo
sample and a click on the Align panel's one button. Nothing is scrolled, set or called
from code that a user could not reach. The pictures are ``docs/images/sr_*.png``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "images"
SCREEN = (1366, 768)
#: How long into training the "training" picture is taken (seconds).
TRAINING_SHOT_S = 60.0


def _wait(predicate, timeout_s: float) -> None:
    """Run Qt's event loop until ``predicate()`` or the timeout."""
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    t0 = time.perf_counter()
    while not predicate() and time.perf_counter() - t0 < timeout_s:
        app.processEvents()
        time.sleep(0.02)


def _shot(viewer, name: str) -> None:
    """The whole window as a user sees it (napari's pop-up notifications closed)."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()
    _wait(lambda: False, 0.5)
    viewer.screenshot(str(OUT / name), canvas_only=False)
    print(OUT / name, flush=True)


def menu_action(window, *path: str):
    """The menu entry at ``path`` (texts as shown, ``&`` left out), as a user opens it.

    A path's last part may be the start of the entry's text (napari appends the plugin's
    name to a sample when the plugin has only one).
    """
    actions = window.menuBar().actions()
    for depth, name in enumerate(path):
        last = depth == len(path) - 1
        found = [a for a in actions if (a.text().replace("&", "") == name
                                        or (last and a.text().startswith(name)))]
        if not found:
            raise KeyError(f"{name!r} not in {[a.text() for a in actions]}")
        action = found[0]
        if action.menu() is not None:
            action.menu().aboutToShow.emit()  # napari fills some menus as they open
            actions = action.menu().actions()
    return action


def open_sample(window, title: str) -> None:
    """``File > Open Sample > [plugin >] title``, whichever way napari lists it."""
    try:
        menu_action(window, "File", "Open Sample", "MA-XRF Super-Resolution", title).trigger()
    except KeyError:
        menu_action(window, "File", "Open Sample", title).trigger()


def click(widget, text: str) -> None:
    """A left mouse click on the button of ``widget`` labelled ``text``."""
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QAbstractButton

    for button in widget.findChildren(QAbstractButton):
        if button.text().replace("&", "") == text and button.isVisible():
            QTest.mouseClick(button, Qt.MouseButton.LeftButton)
            return
    raise KeyError(f"no visible button {text!r}")


def _viewer():
    import napari

    viewer = napari.Viewer(title="napari")
    window = viewer.window._qt_window
    window.setGeometry(0, 0, *SCREEN)
    window.showNormal()
    _wait(lambda: False, 1.0)
    return viewer, window


def panel_shots() -> None:
    """Opened, the panel, a minute into training, the results, Compare."""
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    viewer, window = _viewer()
    open_sample(window, "Synthetic painting (MA-XRF maps + photo)")
    _wait(lambda: False, 2.0)
    menu_action(window, "Plugins", "MA-XRF Super-Resolution",
                "Super-resolve element maps").trigger()
    _wait(lambda: False, 2.0)
    _shot(viewer, "sr_widget_settings.png")
    widget = window.findChildren(SuperResolutionWidget)[0]
    click(widget, "Start")
    _wait(lambda: False, TRAINING_SHOT_S)
    _shot(viewer, "sr_widget_training.png")
    t0 = time.perf_counter()
    _wait(lambda: not widget.running, 3600)
    _wait(lambda: False, 2.0)
    print(f"training ended {time.perf_counter() - t0 + TRAINING_SHOT_S:.0f} s after Start",
          flush=True)
    _shot(viewer, "sr_widget_results.png")
    click(widget, "Compare")
    _wait(lambda: False, 2.0)
    _shot(viewer, "sr_comparison.png")
    viewer.close()


def align_shot() -> None:
    """The camera-photo sample, the Align panel, one click on its button."""
    viewer, window = _viewer()
    open_sample(window, "Synthetic painting with a camera photo")
    _wait(lambda: False, 2.0)
    menu_action(window, "Plugins", "MA-XRF Super-Resolution",
                "Align photo to the scan").trigger()
    _wait(lambda: False, 2.0)
    dock = window.findChildren(_align_widget_type())[0]
    click(dock, "Align automatically")
    _wait(lambda: not getattr(dock, "running", False), 600)
    _wait(lambda: False, 2.0)
    _shot(viewer, "sr_align.png")
    viewer.close()


def _align_widget_type():
    from napari_maxrf_sr._napari.align_widget import AlignPhotoWidget

    return AlignPhotoWidget


def main(argv: list[str]) -> None:
    """Write every screenshot (``--panel`` or ``--align``: only those)."""
    # Do not read or overwrite the user's remembered panel settings or checkpoints.
    os.environ["NAPARI_MAXRF_SR_SETTINGS"] = str(Path(tempfile.mkdtemp()) / "settings.json")
    os.environ["MAXRF_SR_CHECKPOINTS"] = tempfile.mkdtemp()
    OUT.mkdir(parents=True, exist_ok=True)
    if "--align" not in argv:
        panel_shots()
    if "--panel" not in argv:
        align_shot()


if __name__ == "__main__":
    main(sys.argv[1:])
