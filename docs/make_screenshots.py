"""Make the documentation screenshots of the super-resolution widget.

Run from the repository root (on a machine without a screen, under Xvfb)::

    xvfb-run -a python docs/make_screenshots.py

It opens napari, loads the synthetic painting sample, opens the widget through the
plugin manifest, runs a very short training and writes ``docs/images/*.png``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "images"


def _hide_toasts(viewer) -> None:
    """Close napari's pop-up notifications so that they do not cover the picture."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()


def _shot(app, viewer, name: str) -> None:
    viewer.reset_view()
    _hide_toasts(viewer)
    _wait(app, lambda: False, 0.3)
    viewer.screenshot(str(OUT / name), canvas_only=False)


def _wait(app, predicate, timeout_s: float) -> None:
    t0 = time.perf_counter()
    while not predicate() and time.perf_counter() - t0 < timeout_s:
        app.processEvents()
        time.sleep(0.02)


def main() -> None:
    """Open napari, train briefly and save the screenshots."""
    # Do not read or overwrite the user's remembered widget settings.
    os.environ["NAPARI_MAXRF_SR_SETTINGS"] = str(Path(tempfile.mkdtemp()) / "settings.json")
    import napari
    from qtpy.QtWidgets import QApplication

    OUT.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(title="napari-maxrf-sr")
    viewer.window.resize(1500, 1050)
    viewer.open_sample("napari-maxrf-sr", "synthetic_painting")
    _, widget = viewer.window.add_plugin_dock_widget(
        "napari-maxrf-sr", "Super-resolve element maps"
    )
    app = QApplication.instance()
    widget.preset_combo.setCurrentText("fast")
    widget.set_advanced(stage1_steps=600, stage2_steps=20, n_atoms=32)
    widget.truth_check.setChecked(True)
    widget.advanced.expand(animate=False)
    _wait(app, lambda: False, 0.5)
    _shot(app, viewer, "sr_widget_settings.png")

    widget.advanced.collapse(animate=False)
    widget.start()
    _wait(app, lambda: widget.progress.value() > 60, 60)
    _wait(app, lambda: False, 0.4)
    _shot(app, viewer, "sr_widget_training.png")
    _wait(app, lambda: not widget.running, 240)
    _wait(app, lambda: False, 0.6)
    for layer in viewer.layers:  # show the photo and one result for the picture
        layer.visible = layer.name.endswith(" (SR)") and layer.name.startswith("Pb")
    _shot(app, viewer, "sr_widget_results.png")
    widget.grid_btn.setChecked(True)
    for layer in viewer.layers:
        layer.visible = layer.name.startswith("Pb") or layer.name == "Photo (synthetic)"
    _wait(app, lambda: False, 0.6)
    _shot(app, viewer, "sr_side_by_side.png")
    widget.grid_btn.setChecked(False)
    viewer.close()
    print("\n".join(str(p) for p in sorted(OUT.glob("sr_*.png"))))


if __name__ == "__main__":
    main()
