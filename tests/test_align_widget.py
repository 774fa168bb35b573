"""The 'Align photo to the scan' dock widget in a real viewer."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import transform as tf

from napari_maxrf_sr._napari.align_widget import MAP_POINTS, PHOTO_POINTS, AlignPhotoWidget
from napari_maxrf_sr._napari.layer_style import lr_layer_kwargs
from napari_maxrf_sr.io import lr_to_hr

pytestmark = pytest.mark.viewer

S, H, W = 3, 8, 10


def _scene(viewer):
    """A rotated, scaled photo of the scan grid; map layer placed with scale s."""
    yy, xx = np.mgrid[: S * H, : S * W]
    grid = np.stack([(yy * 9) % 256, (xx * 7) % 256, ((yy + xx) * 5) % 256], -1).astype(np.uint8)
    true = tf.SimilarityTransform(scale=1.3, rotation=-0.08, translation=(6.0, 9.0))
    photo = tf.warp(grid, true.inverse, output_shape=(50, 55), order=0, preserve_range=True)
    photo = photo.astype(np.uint8)
    maps = np.random.default_rng(0).uniform(0, 1, (H, W)).astype(np.float32)
    viewer.add_image(photo, rgb=True, name="photo")
    viewer.add_image(maps, **lr_layer_kwargs("Pb L", S))
    map_pts = np.array([[1, 1], [1, 8], [6, 2], [6, 8]], dtype=float)
    photo_pts = true(lr_to_hr(map_pts, S)[:, ::-1])[:, ::-1]
    return photo, map_pts, photo_pts, true


def test_align_widget_end_to_end(make_napari_viewer, notifications):
    viewer = make_napari_viewer()
    photo, map_pts, photo_pts, true = _scene(viewer)
    widget = AlignPhotoWidget(viewer)
    assert widget.photo_combo.currentText() == "photo"
    assert widget.map_combo.currentText() == "Pb L"
    widget.add_points_button.click()
    assert PHOTO_POINTS in viewer.layers and MAP_POINTS in viewer.layers
    # the map points layer sits over the map (scale s): give its points in world coordinates
    pl_photo, pl_map = viewer.layers[PHOTO_POINTS], viewer.layers[MAP_POINTS]
    pl_photo.data = photo_pts
    pl_map.data = np.array(
        [pl_map.world_to_data(viewer.layers["Pb L"].data_to_world(p)) for p in map_pts]
    )
    widget.scale_spin.setValue(S)
    widget.kind_combo.setCurrentText("similarity")
    widget.align_button.click()
    assert not notifications.of("error"), notifications.of("error")
    out = viewer.layers["photo (aligned)"]
    assert out.data.shape == (S * H, S * W, 3) and out.data.dtype == np.uint8
    np.testing.assert_array_equal(viewer.layers["photo"].data, photo)  # input unchanged
    info = out.metadata["maxrf_sr"]["alignment"]
    assert info["rms"] < 1e-6
    np.testing.assert_allclose(np.asarray(info["matrix"]), true.params, atol=1e-6)
    # HR pixel centres of the aligned photo coincide with the LR block centres in the world
    np.testing.assert_allclose(
        out.data_to_world((S * 2 + (S - 1) / 2, S * 3 + (S - 1) / 2)),
        viewer.layers["Pb L"].data_to_world((2, 3)),
    )
    assert "residual RMS" in widget.status_label.text()


def test_align_widget_messages(make_napari_viewer, notifications):
    viewer = make_napari_viewer()
    widget = AlignPhotoWidget(viewer)
    assert widget.align() is None
    assert "Choose" in notifications.of("error")[-1]
    photo, map_pts, photo_pts, _ = _scene(viewer)
    widget.add_point_layers()
    viewer.layers[PHOTO_POINTS].data = photo_pts[:2]
    viewer.layers[MAP_POINTS].data = map_pts[:2] * S + (S - 1) / 2
    widget.align_button.click()
    assert "at least 3" in notifications.of("error")[-1]
    assert "at least 3" in widget.status_label.text()
    viewer.layers[PHOTO_POINTS].data = photo_pts
    widget.align_button.click()
    assert "4 points on the photo but 2 on the map" in notifications.of("error")[-1]
    n_layers = len(viewer.layers)
    assert n_layers == 4  # nothing was added
    widget.map_points_combo.setCurrentText(PHOTO_POINTS)
    widget.align_button.click()
    assert "two different points layers" in notifications.of("error")[-1]


def test_scale_suggested_from_shapes(make_napari_viewer, notifications):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((40, 60, 3), np.uint8), rgb=True, name="p")
    viewer.add_image(np.zeros((10, 15), np.float32), name="Fe K")
    widget = AlignPhotoWidget(viewer)
    assert widget.scale_spin.value() == 4


def test_typed_scale_stays_when_layers_come_and_go(make_napari_viewer, notifications):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((40, 60, 3), np.uint8), rgb=True, name="p")
    viewer.add_image(np.zeros((10, 15), np.float32), name="Fe K")
    widget = AlignPhotoWidget(viewer)
    assert widget.scale_spin.value() == 4
    widget.scale_spin.setValue(3)  # the user knows better
    widget.add_point_layers()  # adds two layers
    viewer.add_image(np.zeros((10, 15), np.float32), name="Pb L")
    viewer.layers.remove("Pb L")
    assert widget.scale_spin.value() == 3
    viewer.add_image(np.zeros((20, 30), np.float32), name="Cu K")
    widget.map_combo.setCurrentText("Cu K")  # another reference: a new guess
    assert widget.scale_spin.value() == 2
