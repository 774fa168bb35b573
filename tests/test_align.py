"""Photo alignment from point pairs (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import transform as tf

from napari_maxrf_sr.errors import InputError
from napari_maxrf_sr.io import align_photo, check_grid, fit_transform, hr_to_lr, lr_to_hr


def test_pixel_convention():
    assert lr_to_hr([[0, 0]], 4).tolist() == [[1.5, 1.5]]  # centre of HR block 0..3
    assert lr_to_hr([[2, 1]], 3).tolist() == [[7.0, 4.0]]
    np.testing.assert_allclose(hr_to_lr(lr_to_hr([[2.5, 7.0]], 5), 5), [[2.5, 7.0]])


def test_fit_recovers_similarity():
    rng = np.random.default_rng(0)
    true = tf.SimilarityTransform(scale=1.7, rotation=0.3, translation=(12.0, -5.0))
    src = rng.uniform(0, 100, (6, 2))  # (row, col)
    dst = true(src[:, ::-1])[:, ::-1]
    tform, info = fit_transform(src, dst, "similarity")
    np.testing.assert_allclose(tform.params, true.params, atol=1e-8)
    assert info["rms"] < 1e-8 and info["n_pairs"] == 6
    tform, info = fit_transform(src, dst, "affine")
    np.testing.assert_allclose(tform.params, true.params, atol=1e-8)


def test_fit_errors():
    pts = np.array([[0, 0], [1, 0], [0, 1.0]])
    with pytest.raises(InputError, match="at least 3"):
        fit_transform(pts[:2], pts[:2])
    with pytest.raises(InputError, match="same order"):
        fit_transform(pts, pts[:2])
    with pytest.raises(InputError, match="kind"):
        fit_transform(pts, pts, "projective")
    with pytest.raises(InputError, match="distinct"):
        fit_transform(np.zeros((3, 2)), pts)


def _scene(s=3, h=10, w=12):
    """A photo made by rotating/scaling/shifting the HR scan grid, plus matching points."""
    yy, xx = np.mgrid[: s * h, : s * w]
    grid = np.stack([(yy * 7 + xx * 3) % 256, (xx * 5) % 256, (yy * 11) % 256], axis=-1).astype(
        np.uint8
    )
    # photo coordinates (x, y) = true(grid coordinates): photo bigger and rotated
    true = tf.SimilarityTransform(scale=1.5, rotation=0.1, translation=(20.0, 8.0))
    photo = tf.warp(
        grid, true.inverse, output_shape=(90, 100), order=0, preserve_range=True
    ).astype(np.uint8)
    map_pts = np.array([[1, 1], [1, 10], [8, 2], [8, 10], [5, 6]], dtype=float)
    hr = lr_to_hr(map_pts, s)
    photo_pts = true(hr[:, ::-1])[:, ::-1]
    return grid, photo, photo_pts, map_pts, true


def test_align_photo_recovers_grid():
    s, h, w = 3, 10, 12
    grid, photo, photo_pts, map_pts, true = _scene(s, h, w)
    before = photo.copy()
    aligned, info = align_photo(photo, photo_pts, map_pts, (h, w), s, "similarity", order=0)
    assert aligned.shape == (s * h, s * w, 3) and aligned.dtype == np.uint8
    assert info["rms"] < 1e-6 and info["outside_fraction"] == 0.0
    np.testing.assert_allclose(np.asarray(info["matrix"]), true.params, atol=1e-6)
    inner = (slice(2, -2), slice(2, -2))  # nearest-neighbour both ways: borders may differ
    assert np.mean(aligned[inner] == grid[inner]) > 0.95
    np.testing.assert_array_equal(photo, before)  # input untouched


def test_align_photo_float_and_outside_warning():
    s, h, w = 2, 10, 12
    _, photo, photo_pts, map_pts, _ = _scene(s, h, w)
    photo_f = photo.astype(np.float32) / 255
    shifted = photo_pts - [40, 0]  # most of the output now falls above the photo
    with pytest.warns(UserWarning, match="outside the original photo"):
        aligned, info = align_photo(photo_f, shifted, map_pts, (h, w), s, "affine")
    assert aligned.dtype == np.float32 and info["outside_fraction"] > 0.01


@pytest.mark.parametrize("scale", [2.5, 0, "four", None])
def test_align_photo_bad_scale(scale):
    _, photo, photo_pts, map_pts, _ = _scene()
    with pytest.raises(InputError, match="whole number"):
        align_photo(photo, photo_pts, map_pts, (10, 12), scale)


def test_check_grid():
    assert check_grid((10, 12), (40, 48)) == 4
    assert check_grid((3, 10, 12), (40, 48, 3)) == 4
    with pytest.warns(UserWarning, match="crop or resize"):
        assert check_grid((10, 12), (41, 48)) is None
