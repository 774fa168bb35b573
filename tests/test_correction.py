"""The final agreement with the scan: block projection or smooth correction (``correction``)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_maxrf_sr.core.correction import correct_band, correction_source
from napari_maxrf_sr.core.inference import lr_rows_with_halo, predict, with_halo_columns
from napari_maxrf_sr.core.operators import (
    AcquisitionOperator,
    block_mean_np,
    project_np,
    upsample_bilinear_np,
)
from napari_maxrf_sr.core.trained_model import apply_model, prepare_for_model

from .test_tiled import random_model, scan_and_photo


def seam_ratio(maps: np.ndarray, scale: int) -> float:
    """RMS step across scan-pixel borders over RMS step inside scan pixels (rows only)."""
    steps = np.diff(maps.astype(np.float64), axis=-1) ** 2
    border = np.zeros(steps.shape[-1], bool)
    border[scale - 1 :: scale] = True
    return float(np.sqrt(steps[..., border].mean() / steps[..., ~border].mean()))


def _answers(radius: int):
    lr, photo = scan_and_photo(h=24, w=20)
    out = {}
    for correction in ("block", "smooth"):
        model = random_model(calibration_radius=radius, correction=correction)
        prepared, norm, _ = prepare_for_model(model, lr, photo)
        out[correction] = predict(model.generator, norm, prepared.lr_maps, prepared.rgb,
                                  model.operator, model.config)
        out["raw"] = predict(model.generator, norm, prepared.lr_maps, prepared.rgb,
                             model.operator, model.config, project=False)
    return lr, out


@pytest.mark.parametrize("radius", [0, 1])
def test_both_agree_with_the_scan_exactly_and_stay_non_negative(radius):
    lr, out = _answers(radius)
    for name in ("block", "smooth"):
        np.testing.assert_allclose(block_mean_np(out[name], 4), lr, rtol=1e-5, atol=1e-3)
        assert out[name].min() >= 0
    assert not np.array_equal(out["block"], out["smooth"])


def test_the_smooth_correction_leaves_no_steps_at_scan_pixel_edges():
    # A network that is exactly right on a smooth painting, and a noisy scan: the block
    # projection puts each scan pixel's noise in as a step at its edges; spread smoothly,
    # the edges are no steeper than the inside of a scan pixel.
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:80] / 16.0
    truth = np.stack([40 + 10 * np.sin(yy) * np.cos(xx), 30 + 5 * np.cos(yy + xx)])
    lr = block_mean_np(truth, 4) + rng.normal(0, 1.0, (2, 24, 20))
    op = AcquisitionOperator(4)
    block = project_np(truth.astype(np.float32), lr, op)
    source = correction_source(lr, block_mean_np(truth, 4), None, 4)
    smooth = correct_band(truth.astype(np.float32), with_halo_columns(
        lr_rows_with_halo(source, 0, 24)), lr, op)
    np.testing.assert_allclose(block_mean_np(smooth, 4), lr, atol=1e-4)  # exact agreement
    assert seam_ratio(block, 4) > 2.0
    assert seam_ratio(smooth, 4) < 1.3


def test_the_source_interpolates_to_the_remaining_difference():
    rng = np.random.default_rng(0)
    lr = rng.random((2, 9, 7)) * 10
    means = lr + rng.normal(0, 0.5, lr.shape)
    src = correction_source(lr, means, None, 4)
    np.testing.assert_allclose(block_mean_np(upsample_bilinear_np(src, 4), 4), lr - means,
                               atol=1e-4)
    gain, offset = np.full(lr.shape, 0.5), np.ones(lr.shape)
    src = correction_source(lr, means, (gain, offset), 4)
    np.testing.assert_allclose(block_mean_np(upsample_bilinear_np(src, 4), 4),
                               lr - (0.5 * means + 1), atol=1e-4)


def test_a_trained_model_gives_either_without_training_again():
    lr, photo = scan_and_photo(h=16, w=12)
    model = random_model()
    block = apply_model(model, lr, photo)
    smooth = apply_model(model.answering_with(correction="smooth"), lr, photo)
    assert not np.array_equal(block, smooth)
    np.testing.assert_allclose(block_mean_np(smooth, 4), block_mean_np(block, 4), atol=1e-3)
