"""Tests of the napari sample-data contribution (synthetic painting)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_maxrf_sr._napari.sample_data import synthetic_painting


@pytest.fixture(scope="module")
def layers():
    return synthetic_painting(size=(64, 64), scale=4, n_elements=7)


def test_layer_tuples(layers):
    assert all(len(t) == 3 and t[2] == "image" for t in layers)
    photo, kw, _ = layers[0]
    assert kw["name"] == "Photo (synthetic)" and kw["rgb"] is True
    assert photo.shape == (64, 64, 3) and photo.dtype == np.uint8
    def role(t):
        return t[1].get("metadata", {}).get("maxrf_sr", {}).get("role")

    lr = [t for t in layers if role(t) == "lr_map"]
    truth = [t for t in layers if role(t) == "truth"]
    assert len(lr) == 7 and len(truth) == 7
    assert layers[1 : 1 + 7] == lr  # LR maps right after the photo
    names = [t[1]["name"] for t in lr]
    assert names[0] == "Pb L" and len(set(names)) == 7
    # One map over the photo, not a collage: the first is shown, covering the photo.
    assert [kw["visible"] for _, kw, _ in lr] == [True] + [False] * 6
    for data, kw, _ in lr:
        assert data.shape == (16, 16)
        assert kw["scale"] == (4, 4) and kw["translate"] == (1.5, 1.5)
        assert kw["blending"] == "translucent"
        lo, hi = kw["contrast_limits"]
        assert hi > lo
        assert kw["metadata"]["maxrf_sr"] == {"role": "lr_map", "element": kw["name"], "scale": 4}
    from napari_maxrf_sr._napari.layer_style import element_colormap

    assert [kw["colormap"] for _, kw, _ in lr] == [element_colormap(n) for n in names]
    for (data, kw, _), name in zip(truth, names, strict=True):
        assert kw["name"] == f"{name} (truth)" and kw["visible"] is False
        assert data.shape == (64, 64)


def test_default_sample_is_quick_and_sized():
    out = synthetic_painting()
    assert out[0][0].shape == (256, 256, 3)
    assert out[1][0].shape == (64, 64)
    assert len(out) == 1 + 2 * 7


def test_no_qt_import():
    import subprocess
    import sys

    code = (
        "import sys, napari_maxrf_sr._napari.sample_data as m; "
        "m.synthetic_painting((32, 32), 4, 2);"
        "bad = [k for k in sys.modules if k.split('.')[0] in ('PyQt5', 'PySide2', 'PyQt6', "
        "'PySide6', 'qtpy')]; print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.viewer
def test_adds_to_viewer(make_napari_viewer, layers):
    from napari.layers import Image, Layer

    viewer = make_napari_viewer()
    for data, kw, kind in layers:
        viewer.add_layer(Layer.create(data, kw, kind))
    assert len(viewer.layers) == len(layers)
    assert all(isinstance(layer, Image) for layer in viewer.layers)
    assert viewer.layers["Photo (synthetic)"].rgb
    pb = viewer.layers["Pb L"]
    np.testing.assert_allclose(pb.scale, (4, 4))
    np.testing.assert_allclose(pb.translate, (1.5, 1.5))
    assert not viewer.layers["Pb L (truth)"].visible
    # The LR map covers the photo exactly (same world extent, up to the half-pixel borders).
    photo_extent = np.asarray(viewer.layers["Photo (synthetic)"].extent.world)
    pb_extent = np.asarray(pb.extent.world)
    np.testing.assert_allclose(pb_extent, photo_extent, atol=2.0)


@pytest.mark.viewer
def test_open_sample_through_plugin(make_napari_viewer):
    npe2 = pytest.importorskip("npe2")
    pm = npe2.PluginManager.instance()
    if "napari-maxrf-sr" not in pm._manifests:
        pytest.skip("plugin manifest not registered (package not installed)")
    viewer = make_napari_viewer()
    viewer.open_sample("napari-maxrf-sr", "synthetic_painting")
    assert "Photo (synthetic)" in viewer.layers
    assert "Pb L" in viewer.layers


def test_every_element_colour_is_black_at_zero():
    """"No element" reads dark in every map (and additive overlays do not wash out white)."""
    from napari.utils.colormaps import ensure_colormap

    from napari_maxrf_sr._napari.layer_style import ELEMENT_COLORMAPS, FALLBACK_COLORMAPS

    for name in {*ELEMENT_COLORMAPS.values(), *FALLBACK_COLORMAPS}:
        low = ensure_colormap(name).map(np.array([0.0]))[0][:3]
        assert low.max() < 0.05, (name, low)
