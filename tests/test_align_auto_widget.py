"""'Align automatically' in the alignment widget, on the camera-photo sample."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_maxrf_sr._napari.align_widget import AlignPhotoWidget
from napari_maxrf_sr._napari.sample_data import CAMERA_ZOOM, camera_painting

pytestmark = pytest.mark.viewer


@pytest.fixture(scope="module")
def sample():
    return camera_painting()


def _open(viewer, sample) -> AlignPhotoWidget:
    for data, kwargs, kind in sample:
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    widget = AlignPhotoWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return widget


def _click_and_wait(qtbot, widget) -> None:
    qtbot.mouseClick(widget.auto_button, Qt.MouseButton.LeftButton)
    assert widget.worker is not None and not widget.auto_button.isEnabled()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=600_000)


def test_the_sample_photo_is_a_camera_photo(sample):
    photo, first_map = sample[0][0], sample[1][0]
    assert photo.shape[0] > 4 * CAMERA_ZOOM * first_map.shape[0]  # enlarged, with a margin
    assert photo.shape[0] % first_map.shape[0] != 0  # not on the scan's grid


def test_one_click_aligns_and_a_second_replaces(make_napari_viewer, qtbot, sample,
                                                  notifications):
    viewer = make_napari_viewer()
    widget = _open(viewer, sample)
    assert widget.photo_combo.currentText() == "Photo (camera)"
    _click_and_wait(qtbot, widget)
    assert "Aligned 'Photo (camera)' automatically" in widget.status_label.text(), \
        notifications.texts
    assert "typically about twice" in widget.status_label.text()
    layer = viewer.layers["Photo (camera) (aligned)"]
    ref = viewer.layers[widget.map_combo.currentText()]
    s = layer.metadata["maxrf_sr"]["scale"]
    assert s == 5  # 1.37 x 4 photo px per scan px: the photo's resolution, not its size
    assert layer.data.shape[:2] == (s * ref.data.shape[0], s * ref.data.shape[1])
    # the aligned photo covers the maps' extent exactly: the same outer pixel edges
    def edges(lay):
        half = np.asarray(lay.scale[-2:]) / 2
        return lay.extent.world[:, -2:] + np.stack([-half, half])

    np.testing.assert_allclose(edges(layer), edges(ref), atol=1e-6)
    original = sample[0][0]
    assert viewer.layers["Photo (camera)"].data is original  # the input is untouched,
    assert not viewer.layers["Photo (camera)"].visible  # hidden so that it covers nothing
    zoom = viewer.camera.zoom  # the view is on the maps, not on the larger camera photo
    viewer.reset_view(layers=[layer, ref])
    assert viewer.camera.zoom == pytest.approx(zoom)
    viewer.reset_view()
    assert viewer.camera.zoom < 0.9 * zoom
    n = len(viewer.layers)
    _click_and_wait(qtbot, widget)
    assert len(viewer.layers) == n  # replaced, no 'Photo (camera) (aligned) [1]'
    assert widget.auto_button.isEnabled()


def test_a_photo_of_something_else_is_refused_with_words(make_napari_viewer, qtbot, sample,
                                                         notifications):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, sample[0][0].shape, dtype=np.uint8)
    widget = _open(viewer, [(noise, {"name": "noise", "rgb": True}, "image"), *sample[1:]])
    _click_and_wait(qtbot, widget)
    assert "does not explain the scan" in widget.status_label.text()
    assert "noise (aligned)" not in viewer.layers
    assert any("does not explain" in t for t in notifications.of("error"))


def test_the_panel_offers_to_align_a_camera_photo(make_napari_viewer, qtbot, sample,
                                                 notifications):
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    viewer = make_napari_viewer()
    for data, kwargs, kind in sample:
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    panel = SuperResolutionWidget(viewer)
    view = panel.inputs
    assert view.photo_combo.currentText() == "Photo (camera)"
    assert view.align_button.isVisibleTo(panel)  # offered: the photo is off the grid
    widget = view.align_photo()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=600_000)
    assert view.photo_combo.currentText() == "Photo (camera) (aligned)"
    assert not view.align_button.isVisibleTo(panel)  # on the grid now: no offer
    assert "5" in view.scale_label.text()
