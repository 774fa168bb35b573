"""Make the documentation screenshots of the plugin at 1366 x 768 with default settings.

Run from the repository root (on a machine without a screen, under Xvfb)::

    xvfb-run -a -s "-screen 0 1366x768x24" python docs/make_screenshots.py

It opens napari in a 1366 x 768 window, loads the synthetic painting sample, opens the
panel through the plugin manifest, trains with the ``default`` preset (what a newcomer
gets; a few minutes on a laptop CPU) and writes ``docs/images/sr_*.png``: the settings,
training, the results, the comparison view and the align panel.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "images"
SCREEN = (1366, 768)


def _hide_toasts(viewer) -> None:
    """Close napari's pop-up notifications so that they do not cover the picture."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()


def _wait(predicate, timeout_s: float) -> None:
    """Run Qt's event loop until ``predicate()`` or the timeout."""
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    t0 = time.perf_counter()
    while not predicate() and time.perf_counter() - t0 < timeout_s:
        app.processEvents()
        time.sleep(0.02)


def _shot(viewer, name: str, reset: bool = True) -> None:
    if reset:
        viewer.reset_view()
    _hide_toasts(viewer)
    _wait(lambda: False, 0.5)
    viewer.screenshot(str(OUT / name), canvas_only=False)
    print(OUT / name)


def _viewer(title: str):
    import napari

    viewer = napari.Viewer(title=title)
    viewer.window._qt_window.setGeometry(0, 0, *SCREEN)
    viewer.open_sample("napari-maxrf-sr", "synthetic_painting")
    return viewer


def panel_shots() -> None:
    """Settings, training, results and comparison with the default preset."""
    viewer = _viewer("napari-maxrf-sr")
    _, widget = viewer.window.add_plugin_dock_widget(
        "napari-maxrf-sr", "Super-resolve element maps")
    _wait(lambda: False, 1.0)
    _shot(viewer, "sr_widget_settings.png")

    widget.start()
    widget.column.show_section(widget.sections["Run"])
    _wait(lambda: widget.progress.maximum() > 1 and
          widget.progress.value() > 0.3 * widget.progress.maximum(), 900)
    _wait(lambda: False, 1.2)  # one redraw of the plot
    _shot(viewer, "sr_widget_training.png")
    _wait(lambda: not widget.running, 1800)
    _wait(lambda: False, 1.0)
    _shot(viewer, "sr_widget_results.png")

    widget.results.element_combo.setCurrentText("Hg L")
    widget.results.compare_btn.setChecked(True)
    _wait(lambda: False, 1.0)
    _shot(viewer, "sr_comparison.png", reset=False)
    widget.results.compare_btn.setChecked(False)
    viewer.close()


def align_shot() -> None:
    """The align panel after three point pairs and Align."""
    from napari_maxrf_sr._napari.align_widget import MAP_POINTS, PHOTO_POINTS

    viewer = _viewer("napari-maxrf-sr: align")
    _, widget = viewer.window.add_plugin_dock_widget("napari-maxrf-sr",
                                                     "Align photo to the scan")
    widget.map_combo.setCurrentText("Hg L")
    widget.add_point_layers()
    # The sample's photo is already on the scan's grid: the same features in both.
    world = np.array([[30.0, 40.0], [200.0, 60.0], [120.0, 220.0], [230.0, 230.0]])
    viewer.layers[PHOTO_POINTS].data = world
    map_points = viewer.layers[MAP_POINTS]
    map_points.data = np.array([map_points.world_to_data(p) for p in world])
    widget.align()
    shown = ("Photo (synthetic) (aligned)", "Hg L", PHOTO_POINTS, MAP_POINTS)
    for layer in viewer.layers:
        layer.visible = layer.name in shown
    for name in shown[1:]:  # the map and the points over the aligned photo
        viewer.layers.move(viewer.layers.index(name), len(viewer.layers))
    _shot(viewer, "sr_align.png")
    viewer.close()


def main() -> None:
    """Write every screenshot."""
    # Do not read or overwrite the user's remembered panel settings or checkpoints.
    os.environ["NAPARI_MAXRF_SR_SETTINGS"] = str(Path(tempfile.mkdtemp()) / "settings.json")
    os.environ["MAXRF_SR_CHECKPOINTS"] = tempfile.mkdtemp()
    OUT.mkdir(parents=True, exist_ok=True)
    panel_shots()
    align_shot()


if __name__ == "__main__":
    main()
