"""Tests of the synthetic painting generator (napari_maxrf_sr.simulate)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_maxrf_sr.core.operators import block_mean_np
from napari_maxrf_sr.errors import InputError
from napari_maxrf_sr.simulate import (
    ELEMENT_LINES,
    PIGMENTS,
    SyntheticPainting,
    make_synthetic_painting,
    procedural_photo,
    write_synthetic_painting,
)
from napari_maxrf_sr.simulate.paint_layers import Layer, render_lines
from napari_maxrf_sr.simulate.pigments import PIGMENT_BY_NAME, assign_pigments, pigment_lab

SMALL = (64, 64)


@pytest.fixture(scope="module")
def painting() -> SyntheticPainting:
    return make_synthetic_painting(size=(128, 128), scale=4, n_elements=21, seed=3)


def test_element_table():
    assert len(ELEMENT_LINES) >= 21
    names = list(ELEMENT_LINES)
    assert len(set(names)) == len(names)
    assert {"Pb L", "Pb M", "Hg L", "Hg M"} <= set(names)
    assert all(1.0 < e < 20.0 for e in ELEMENT_LINES.values())


@pytest.mark.parametrize("n_elements", [1, 7, 9, 21])
@pytest.mark.parametrize("scale", [2, 4, 8])
def test_shapes_and_dtypes(n_elements, scale):
    p = make_synthetic_painting(size=SMALL, scale=scale, n_elements=n_elements, seed=1)
    h, w = SMALL
    assert p.hr_maps.shape == (n_elements, h, w) and p.hr_maps.dtype == np.float32
    assert p.lr_maps.shape == (n_elements, h // scale, w // scale)
    assert p.lr_maps.dtype == np.float32
    assert p.rgb.shape == (h, w, 3) and p.rgb.dtype == np.uint8
    assert p.hidden_mask.shape == (h, w) and p.hidden_mask.dtype == bool
    assert p.photo_edge_mask.shape == (n_elements, h, w) and p.photo_edge_mask.dtype == bool
    assert p.pigment_labels.shape == (h, w)
    assert p.pigment_labels.max() < len(p.pigments)
    assert p.elements == tuple(list(ELEMENT_LINES)[:n_elements])
    assert p.scale == scale
    assert (p.hr_maps >= 0).all() and (p.lr_maps >= 0).all()
    assert np.isfinite(p.hr_maps).all()
    json.dumps(p.info)  # serialisable


def test_first_maps_do_not_depend_on_n_elements():
    a = make_synthetic_painting(size=SMALL, n_elements=7, seed=2)
    b = make_synthetic_painting(size=SMALL, n_elements=21, seed=2)
    np.testing.assert_allclose(a.hr_maps, b.hr_maps[:7], rtol=1e-5)


def test_21_maps_are_non_trivial(painting):
    for name, band in zip(painting.elements, painting.hr_maps, strict=True):
        assert band.max() > 0, f"{name} map is empty"
        assert 0.9 <= band.max() / painting.info["counts"] <= 3.0, name


def test_lr_is_block_mean_of_truth_up_to_poisson():
    p = make_synthetic_painting(size=SMALL, scale=4, n_elements=7, seed=0, counts=1e6)
    expected = block_mean_np(p.hr_maps, 4)
    err = np.abs(p.lr_maps - expected)
    # Poisson: standard deviation sqrt(lambda); 6 sigma bound (plus rounding to counts).
    assert (err <= 6 * np.sqrt(expected) + 1).all()
    rel = np.linalg.norm(p.lr_maps - expected) / np.linalg.norm(expected)
    assert rel < 5e-3


def test_lr_with_beam_blur():
    import torch

    from napari_maxrf_sr.core.operators import AcquisitionOperator

    p = make_synthetic_painting(size=SMALL, scale=4, n_elements=3, psf_sigma=2.0, counts=1e6)
    op = AcquisitionOperator(4, "gaussian", 2.0)
    expected = op.down(torch.from_numpy(p.hr_maps)).numpy()
    assert np.abs(p.lr_maps - expected).max() <= 6 * np.sqrt(expected.max()) + 1
    plain = block_mean_np(p.hr_maps, 4)
    assert np.abs(expected - plain).max() > 10 * np.sqrt(expected.max())  # blur matters
    assert p.info["psf_sigma"] == 2.0


def test_poisson_noise_level():
    p = make_synthetic_painting(size=(128, 128), scale=2, n_elements=1, counts=100.0, seed=4)
    expected = block_mean_np(p.hr_maps, 2)
    sel = expected > 20
    z = (p.lr_maps[sel] - expected[sel]) / np.sqrt(expected[sel])
    assert abs(z.mean()) < 0.1
    assert 0.85 < z.std() < 1.15
    assert np.allclose(p.lr_maps, np.round(p.lr_maps))  # counts are whole numbers


def test_deterministic():
    a = make_synthetic_painting(size=SMALL, n_elements=7, seed=5)
    b = make_synthetic_painting(size=SMALL, n_elements=7, seed=5)
    c = make_synthetic_painting(size=SMALL, n_elements=7, seed=6)
    for f in ("hr_maps", "lr_maps", "rgb", "hidden_mask", "photo_edge_mask", "pigment_labels"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.pigments == b.pigments and a.info == b.info
    assert not np.array_equal(a.lr_maps, c.lr_maps)


def test_cluster_blur_decides_whether_pigments_follow_single_pixels():
    default = make_synthetic_painting(size=SMALL, n_elements=7, seed=5)
    blurred = make_synthetic_painting(size=SMALL, n_elements=7, seed=5, cluster_blur=1.0)
    sharp = make_synthetic_painting(size=SMALL, n_elements=7, seed=5, cluster_blur=0)
    np.testing.assert_array_equal(default.hr_maps, blurred.hr_maps)  # 1 is the default
    np.testing.assert_array_equal(sharp.rgb, default.rgb)  # the photo stays the same
    assert sharp.info["cluster_blur"] == 0.0 and default.info["cluster_blur"] == 1.0

    def lonely(labels):  # pixels whose pigment none of their 4 neighbours shares
        pad = np.pad(labels, 1, mode="edge")
        same = [pad[1 + dr : 1 + dr + labels.shape[0], 1 + dc : 1 + dc + labels.shape[1]]
                == labels for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))]
        return int((~np.any(same, axis=0)).sum())

    # Clustering each pixel's own colour leaves more single-pixel specks of a pigment.
    assert lonely(sharp.pigment_labels) > lonely(default.pigment_labels)
    assert not np.array_equal(sharp.hr_maps, default.hr_maps)


def test_hidden_layer_in_maps_not_in_photo():
    kw = dict(size=(128, 128), n_elements=21, seed=0)
    with_h = make_synthetic_painting(hidden_layer=True, **kw)
    without = make_synthetic_painting(hidden_layer=False, **kw)
    # The photo is exactly the same: the camera does not see the hidden layer.
    np.testing.assert_array_equal(with_h.rgb, without.rgb)
    np.testing.assert_array_equal(with_h.pigment_labels, without.pigment_labels)
    mask = with_h.hidden_mask
    assert 0.005 < mask.mean() < 0.3
    assert not without.hidden_mask.any()
    # The photo does not correlate with the hidden mask.
    lum = with_h.rgb.astype(float).mean(-1)
    assert abs(np.corrcoef(lum.ravel(), mask.ravel())[0, 1]) < 0.3
    # The maps do differ, and only inside (or right next to) the mask, up to the
    # per-map count scaling (which depends on each map's bright pixels).
    from scipy.ndimage import binary_dilation

    far = ~binary_dilation(mask, iterations=2)
    changed = 0
    for a, b in zip(with_h.hr_maps, without.hr_maps, strict=True):
        if b[far].max() <= 0:
            continue
        k = a[far].sum() / b[far].sum()
        np.testing.assert_allclose(a[far], k * b[far], rtol=1e-3, atol=1e-3 * a.max())
        changed += np.abs(a[mask] - k * b[mask]).mean() > 0.01 * a.max()
    assert changed >= 2
    # The pentimento's own element shows up in its high-energy line.
    pig = with_h.info["hidden"]["pentimento"]["pigment"]
    line = {"lead white": "Pb L", "vermilion": "Hg L", "azurite": "Cu K"}[pig]
    b = with_h.elements.index(line)
    assert with_h.hr_maps[b][mask].mean() > without.hr_maps[b][mask].mean() * 1.05 + 1.0


def test_lakes_and_carbon_black_have_no_xrf():
    for name in ("red lake", "yellow lake", "carbon black", "indigo"):
        assert not PIGMENT_BY_NAME[name].has_xrf
    # A photo made of a red-lake field: the paint adds no element, only the
    # ground (Ca, S, Sr, ...) and retouchings show.
    photo = np.zeros((64, 64, 3), np.uint8)
    photo[:] = PIGMENT_BY_NAME["red lake"].rgb
    p = make_synthetic_painting(photo, size=(64, 64), n_pigments=1, n_elements=21,
                                hidden_layer=False, seed=0)
    assert p.pigments == ("red lake",)
    retouch = np.zeros((64, 64), bool)
    for r in p.info["retouchings"]:
        yy, xx = np.ogrid[:64, :64]
        cy, cx = r["centre"]
        retouch |= (yy - cy) ** 2 + (xx - cx) ** 2 <= (1.6 * r["radius"] + 2) ** 2
    for name in ("Pb L", "Hg L", "Cu K", "Sn L", "Co K", "As K", "Mn K", "P K", "Pb M"):
        band = p.hr_maps[p.elements.index(name)]
        assert band[~retouch].max() == 0.0, name


def test_assign_pigments_matches_colours():
    lab = pigment_lab(tuple(PIGMENT_BY_NAME[n] for n in ("vermilion", "azurite", "lead white")))
    got = [q.name for q in assign_pigments(lab)]
    assert got == ["vermilion", "azurite", "lead white"]
    assert len(PIGMENTS) > 14


def test_low_energy_lines_more_absorbed():
    shape = (4, 4)
    lead = Layer("lead white", np.ones(shape, np.float32), {"Pb": 1.0})
    cover = Layer("varnish-like lake", np.full(shape, 0.5, np.float32), {})
    lines = [("Pb L", ELEMENT_LINES["Pb L"]), ("Pb M", ELEMENT_LINES["Pb M"])]
    bare = render_lines([lead], lines, shape)
    covered = render_lines([lead, cover], lines, shape)
    transmission = (covered / bare)[:, 0, 0]
    assert 0 < transmission[1] < transmission[0] < 1


def test_low_energy_lines_see_less_of_the_hidden_layer():
    p = make_synthetic_painting(size=(128, 128), n_elements=21, seed=0)
    q = make_synthetic_painting(size=(128, 128), n_elements=21, seed=0, hidden_layer=False)
    pig = p.info["hidden"]["pentimento"]["pigment"]
    hi, lo = {"lead white": ("Pb L", "Pb M"), "vermilion": ("Hg L", "Hg M"),
              "azurite": ("Cu K", "Cu K")}[pig]
    if hi == lo:
        pytest.skip("no low-energy line for this hidden pigment")
    m = p.hidden_mask

    def gain(name):
        b = p.elements.index(name)
        return p.hr_maps[b][m].mean() / max(p.hr_maps[b].mean(), 1e-9) - q.hr_maps[b][
            m].mean() / max(q.hr_maps[b].mean(), 1e-9)

    assert gain(hi) > gain(lo)


def test_photo_edge_mask(painting):
    assert painting.photo_edge_mask.any()
    per_band = painting.photo_edge_mask.reshape(len(painting.elements), -1).any(1)
    assert per_band.sum() >= len(painting.elements) // 2
    # Where the mask is set, the truth is locally flat.
    b = int(np.argmax(painting.photo_edge_mask.reshape(len(painting.elements), -1).sum(1)))
    gy, gx = np.gradient(painting.hr_maps[b])
    assert np.hypot(gx, gy)[painting.photo_edge_mask[b]].max() < 0.05 * painting.info["counts"]


def test_photo_input_path():
    rng = np.random.default_rng(0)
    photo = (rng.random((90, 120, 3)) * 255).astype(np.uint8)
    photo[:, :60] = (200, 40, 30)
    p = make_synthetic_painting(photo, size=(64, 64), scale=4, n_elements=7, n_pigments=3)
    assert p.rgb.shape == (64, 64, 3)
    assert p.info["photo"] == "user" and p.info["photo_notes"]
    for dtype, photo2 in [("uint16", (photo.astype(np.uint16) * 257)),
                          ("float", photo.astype(np.float32) / 255)]:
        q = make_synthetic_painting(photo2, size=(64, 64), scale=4, n_elements=7, n_pigments=3)
        assert np.abs(q.rgb.astype(int) - p.rgb.astype(int)).max() <= 1, dtype


def test_procedural_photo_is_varied():
    # Its speed is measured by benchmarks, not asserted here (timed tests are flaky).
    img = procedural_photo((512, 512), seed=0)
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    assert img.std() > 30
    assert not np.array_equal(procedural_photo((64, 64), 0), procedural_photo((64, 64), 1))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(size=(100, 100), scale=8),
        dict(n_elements=0),
        dict(n_elements=len(ELEMENT_LINES) + 1),
        dict(n_pigments=0),
        dict(n_pigments=99),
        dict(scale=0),
        dict(counts=0.0),
        dict(counts=float("nan")),
        dict(psf_sigma=-1.0),
        dict(seed=-1),
        dict(size=(8, 8), scale=2),
        dict(size=64),
        dict(cluster_blur=-0.5),
        dict(cluster_blur=float("inf")),
    ],
)
def test_bad_settings(kwargs):
    with pytest.raises(InputError):
        make_synthetic_painting(**{"size": SMALL, **kwargs})


def test_not_divisible_message():
    with pytest.raises(InputError, match="divisible"):
        make_synthetic_painting(size=(100, 100), scale=8)


def test_bad_photo():
    with pytest.raises(InputError):
        make_synthetic_painting(np.zeros((64, 64)), size=SMALL)
    with pytest.raises(InputError):
        make_synthetic_painting(np.full((64, 64, 3), 300.0), size=SMALL)


def test_write_round_trip(tmp_path):
    import imageio.v3 as iio
    import tifffile

    p = make_synthetic_painting(size=SMALL, n_elements=7, seed=0)
    paths = write_synthetic_painting(p, tmp_path / "out")
    assert set(paths) == {"lr_maps", "photo", "truth", "hidden_mask", "photo_edge_mask", "info"}
    with tifffile.TiffFile(paths["lr_maps"]) as tf:
        np.testing.assert_array_equal(tf.asarray(), p.lr_maps)
        assert list(tf.imagej_metadata["Labels"]) == list(p.elements)
    np.testing.assert_array_equal(tifffile.imread(paths["truth"]), p.hr_maps)
    np.testing.assert_array_equal(tifffile.imread(paths["photo_edge_mask"]) > 0,
                                  p.photo_edge_mask)
    np.testing.assert_array_equal(iio.imread(paths["photo"]), p.rgb)
    np.testing.assert_array_equal(iio.imread(paths["hidden_mask"]) > 0, p.hidden_mask)
    info = json.loads(paths["info"].read_text())
    assert info["seed"] == 0 and info["elements"] == list(p.elements)
    # No temporary files left behind.
    assert sorted(x.name for x in (tmp_path / "out").iterdir()) == sorted(
        q.name for q in paths.values())

    before = paths["lr_maps"].read_bytes()
    with pytest.raises(FileExistsError, match="force"):
        write_synthetic_painting(p, tmp_path / "out")
    with pytest.raises(InputError):
        write_synthetic_painting(p, tmp_path / "out")
    assert paths["lr_maps"].read_bytes() == before
    q = make_synthetic_painting(size=SMALL, n_elements=7, seed=1)
    write_synthetic_painting(q, tmp_path / "out", force=True)
    np.testing.assert_array_equal(tifffile.imread(paths["lr_maps"]), q.lr_maps)


@pytest.mark.slow
def test_benchmark_sized_case_512_21():
    q = make_synthetic_painting(size=(512, 512), n_elements=21)
    assert q.hr_maps.shape == (21, 512, 512) and q.rgb.shape == (512, 512, 3)
    assert q.lr_maps.shape == (21, 128, 128)
