"""The docked panel in a real napari window of a 1366 x 768 laptop screen."""

from __future__ import annotations

import pytest
from qtpy.QtCore import Qt

from tests.test_sr_widget import ENDLESS, _wait_idle

pytestmark = [pytest.mark.viewer, pytest.mark.slow]  # it trains a network

SCREEN = (1366, 768)


def _in_view(w, widget) -> bool:
    """Whether ``widget`` lies wholly inside the panel's visible viewport, as it is now."""
    column = w.column
    top = widget.mapTo(column.viewport(), widget.rect().topLeft()).y()
    return (widget.isVisibleTo(w) and top >= 0
            and top + widget.height() <= column.viewport().height())


def _reachable(w, widget) -> bool:
    """Scroll the panel to ``widget``; True when it is then inside the visible viewport."""
    column = w.column
    column.ensureWidgetVisible(widget, 0, 0)
    top_left = widget.mapTo(column.viewport(), widget.rect().topLeft())
    bottom = top_left.y() + min(widget.height(), column.viewport().height())
    return (widget.isVisibleTo(w) and top_left.y() >= 0
            and bottom <= column.viewport().height())


def test_docked_panel_fits_a_laptop_screen(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.setGeometry(0, 0, *SCREEN)
    viewer.open_sample("napari-maxrf-sr", "synthetic_painting")
    dock, w = viewer.window.add_plugin_dock_widget("napari-maxrf-sr",
                                                   "Super-resolve element maps")
    w.advanced.expand(animate=False)  # the tallest state of the settings
    qtbot.waitUntil(lambda: window.height() <= SCREEN[1] and w.height() > 0, timeout=5_000)
    qtbot.wait(200)
    assert window.width() <= SCREEN[0] and window.height() <= SCREEN[1], window.size()
    layer_list = viewer.window._qt_viewer.layers
    assert layer_list.isVisible() and layer_list.height() >= 150, "napari's layer list shows"
    assert dock.geometry().bottom() <= window.height()
    assert w.column.verticalScrollBar().maximum() > 0, "the panel scrolls instead of growing"
    # every map is listed without an inner scroll bar
    assert w.inputs.maps_list.verticalScrollBar().maximum() == 0
    assert _reachable(w, w.start_btn), "Start can be reached"
    assert _reachable(w, w.sections["Results"]), "the Results section can be reached"

    w.preset_combo.setCurrentText("fast")
    w.set_advanced(**ENDLESS)
    w.column.verticalScrollBar().setValue(0)
    qtbot.mouseClick(w.start_btn, Qt.LeftButton)  # as a user does: no scrolling by hand
    qtbot.waitUntil(lambda: w.progress.value() > 0, timeout=30_000)
    qtbot.wait(300)
    for part in (w.progress, w.status_label, w.loss_plot, w.stop_btn):
        assert _in_view(w, part), f"{part} is in view once the run starts"
    qtbot.mouseClick(w.stop_btn, Qt.LeftButton)
    _wait_idle(qtbot, w, timeout=80_000)
    qtbot.wait(300)
    table = w.results.table
    assert table.rowCount() == 7 and table.verticalScrollBar().maximum() == 0, "no inner scroll"
    assert table.height() >= sum(table.rowHeight(r) for r in range(7))
    assert _in_view(w, table), "every row of the results table came into view by itself"
    shown = [x.name for x in viewer.layers if x.visible and x.name.endswith("(SR)")]
    assert shown == ["Pb L (SR)"], "one element's result, not a collage of seven"
