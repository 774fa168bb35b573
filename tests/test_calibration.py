"""The local calibration against the scan: its estimates, and what it keeps and fades."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_maxrf_sr.core.calibration import (
    ColourFit,
    box_mean,
    calibration_coefficients,
    noise_variance,
    photo_block_means,
    scan_noise_variance,
)
from napari_maxrf_sr.core.inference import calibrate_band, lr_rows_with_halo
from napari_maxrf_sr.core.modelio import load_model, save_model
from napari_maxrf_sr.core.operators import AcquisitionOperator, block_mean_np

from .test_tiled import random_model, scan_and_photo


def test_box_mean_counts_only_pixels_inside():
    x = np.arange(12.0).reshape(3, 4)
    got = box_mean(x, 1)
    assert got[0, 0] == pytest.approx(np.mean(x[:2, :2]))
    assert got[1, 1] == pytest.approx(np.mean(x[:3, :3]))


def test_noise_variance_finds_white_noise_and_ignores_ramps():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:120, :100]
    ramp = 5.0 + 0.3 * yy + 0.2 * xx
    y = np.stack([ramp + rng.normal(0, 2.0, ramp.shape), ramp])
    var = noise_variance(y)
    assert var[0] == pytest.approx(4.0, rel=0.1)
    assert var[1] == pytest.approx(0.0, abs=1e-12)
    assert noise_variance(np.ones((2, 2, 9))).tolist() == [0.0, 0.0]  # too small: 0


def test_the_network_is_kept_where_the_scan_shows_it_and_faded_where_not():
    rng = np.random.default_rng(1)
    # Steps of 5 between patches of 5 x 5 scan pixels, and the scan's own noise of 0.1.
    g = 10 + 5 * np.kron(rng.random((1, 4, 4)) > 0.5, np.ones((5, 5)))
    shown = g + rng.normal(0, 0.1, g.shape)
    a, b = calibration_coefficients(g, shown, 1)
    assert np.abs(a * g + b - g).max() < 0.5  # every step kept
    flat = 10 + rng.normal(0, 0.1, g.shape)  # the scan does not show the network's steps
    a, b = calibration_coefficients(g, flat, 1)
    assert np.abs(a * g + b - 10).max() < 0.5


def test_all_zero_and_constant_maps_stay_finite():
    g = np.zeros((2, 6, 6))
    y = np.stack([np.zeros((6, 6)), np.full((6, 6), 3.0)])
    a, b = calibration_coefficients(g, y, 1)
    assert np.isfinite(a).all() and np.isfinite(b).all()
    assert np.allclose(b[1], 3.0)


def _stroke_case():
    """A flat scan, and network maps with a stroke of +50 % through some blocks."""
    s, h, w = 4, 8, 8
    lr = np.full((1, h, w), 20.0, dtype=np.float32)
    raw = np.full((1, s * h, s * w), 20.0, dtype=np.float32)
    raw[0, 10:12, 4:28] = 30.0  # a two-pixel ink stroke the scan does not show
    return s, lr, raw


def _calibrated(raw, lr, s, radius=1, photo_lr=None):
    op = AcquisitionOperator(s)
    gain, offset = calibration_coefficients(block_mean_np(raw, s), lr, radius, photo_lr)
    h = lr.shape[1]
    return calibrate_band(raw, lr_rows_with_halo(gain, 0, h), lr_rows_with_halo(offset, 0, h),
                          lr, op)


def test_a_stroke_the_scan_does_not_show_is_faded_and_the_result_agrees():
    s, lr, raw = _stroke_case()
    out = _calibrated(raw, lr, s)
    # Without the calibration the projection keeps the stroke's full +10 inside its blocks.
    projected = raw - np.repeat(np.repeat(block_mean_np(raw, s) - lr, s, 1), s, 2)
    assert np.ptp(projected[0, 8:16]) == pytest.approx(10.0, abs=1e-4)
    assert np.ptp(out[0, 8:16]) < 1.0
    np.testing.assert_allclose(block_mean_np(out, s), lr, atol=1e-4)
    assert (out >= 0).all()


def test_detail_the_scan_shows_is_kept():
    s = 4
    rng = np.random.default_rng(2)
    # Regions of 3 x 3 scan pixels, and a thin line the scan sees only in its blocks' means.
    truth = np.kron(rng.random((1, 4, 4)) * 40 + 5, np.ones((3 * s, 3 * s)))
    truth[0, :, 17] += 30.0  # and a thin line the scan sees as its blocks' means
    lr = block_mean_np(truth.astype(np.float32), s)
    out = _calibrated(truth.astype(np.float32), lr, s)
    np.testing.assert_allclose(out, truth, atol=0.05 * truth.max())


def test_predict_with_calibration_agrees_with_the_scan_and_differs_from_without():
    from napari_maxrf_sr.core.inference import predict
    from napari_maxrf_sr.core.trained_model import prepare_for_model

    lr, photo = scan_and_photo(h=12, w=10)
    answers = {}
    for radius in (0, 1):
        model = random_model(calibration_radius=radius)
        prepared, norm, _ = prepare_for_model(model, lr, photo)
        answers[radius] = predict(model.generator, norm, prepared.lr_maps, prepared.rgb,
                                  model.operator, model.config)
        np.testing.assert_allclose(block_mean_np(answers[radius], 4), lr, rtol=1e-5, atol=1e-3)
        assert (answers[radius] >= 0).all()
    assert np.abs(answers[1] - answers[0]).max() > 1e-3 * lr.max()


def test_wide_beam_calibration_runs_on_the_whole_image():
    from napari_maxrf_sr.core.inference import predict
    from napari_maxrf_sr.core.trained_model import prepare_for_model

    lr, photo = scan_and_photo(h=10, w=9)
    model = random_model(operator="gaussian", psf_sigma=3.0)
    prepared, norm, _ = prepare_for_model(model, lr, photo)
    out = predict(model.generator, norm, prepared.lr_maps, prepared.rgb, model.operator,
                  model.config)
    op = model.operator
    down = op.down(torch.from_numpy(out).double()).numpy()
    np.testing.assert_allclose(down, lr, rtol=1e-3, atol=1e-2)


def test_models_saved_before_the_calibration_answer_as_before(tmp_path):
    model = random_model(calibration_radius=1)
    path = save_model(model, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    del payload["config"]["calibration_radius"]  # as files written before it existed
    torch.save(payload, path)
    assert load_model(path).config.calibration_radius == 0
    assert load_model(save_model(model, tmp_path / "new.pt")).config.calibration_radius == 1


def test_slope_is_the_ridge_estimate_with_the_scan_noise_over_the_window():
    # a = cov / (var + sigma^2 / n), averaged over the windows covering a pixel: by hand.
    rng = np.random.default_rng(3)
    g = rng.random((1, 7, 7)) * 4
    y = 2 * g + rng.normal(0, 1.5, g.shape)
    sigma2 = noise_variance(y)[0]
    assert sigma2 > 0.5  # the prior matters here
    slopes = []
    for ci in range(2, 5):
        for cj in range(2, 5):
            gw, yw = g[0, ci - 1 : ci + 2, cj - 1 : cj + 2], y[0, ci - 1 : ci + 2, cj - 1 : cj + 2]
            cov = np.mean(gw * yw) - gw.mean() * yw.mean()
            slopes.append(cov / (gw.var() + sigma2 / 9))
    a, _ = calibration_coefficients(g, y, 1)
    assert a[0, 3, 3] == pytest.approx(np.mean(slopes), rel=1e-6)


def _colour_texture(photo_lr: np.ndarray) -> np.ndarray:
    """Fine texture that follows each scan pixel's colour (a quadratic of it)."""
    r, g, b = photo_lr
    return 40 * r + 25 * g**2 - 30 * r * b


def test_photo_block_means_average_each_block_of_each_channel():
    rows = np.arange(8 * 12 * 3, dtype=np.float32).reshape(8, 12, 3)
    got = photo_block_means(rows, 4)
    assert got.shape == (3, 2, 3)
    assert got[2, 1, 0] == pytest.approx(rows[4:8, 0:4, 2].mean())


def test_colour_fit_takes_up_a_quadratic_of_the_colours():
    photo_lr = np.random.default_rng(5).random((3, 30, 20))
    y = 7.0 + _colour_texture(photo_lr)
    assert np.abs(ColourFit(photo_lr, ridge=0.0).residual(y[None])).max() < 1e-9
    # The default ridge leaves a trace of it (a stable fit for photos of few colours).
    assert np.abs(ColourFit(photo_lr).residual(y[None])).max() < 0.01 * y.std()


def test_noise_estimate_leaves_out_texture_the_photo_explains():
    rng = np.random.default_rng(4)
    photo_lr = rng.random((3, 60, 50))  # every scan pixel its own colour: the finest texture
    y = 100 + _colour_texture(photo_lr) + rng.normal(0, 1.0, (60, 50))
    assert noise_variance(y[None])[0] > 20  # Immerkaer alone counts the texture as noise
    assert scan_noise_variance(y) == pytest.approx(noise_variance(y[None])[0])
    assert scan_noise_variance(y, ColourFit(photo_lr)) == pytest.approx(1.0, rel=0.15)


def test_noise_estimate_keeps_texture_the_photo_does_not_show():
    rng = np.random.default_rng(6)
    photo_lr = rng.random((3, 60, 50))
    hidden = 40 * rng.random((60, 50))  # a hidden layer: texture with no trace in the photo
    y = 100 + hidden + rng.normal(0, 1.0, (60, 50))
    plain = noise_variance(y[None])[0]
    assert plain > 20
    assert scan_noise_variance(y, ColourFit(photo_lr)) == pytest.approx(plain, rel=0.05)


def test_predict_estimates_the_noise_with_the_photo():
    from napari_maxrf_sr.core.inference import predict
    from napari_maxrf_sr.core.trained_model import prepare_for_model

    s, h, w = 4, 12, 10
    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (s * h, s * w, 3), dtype=np.uint8)
    colours = photo_block_means(photo / 255.0, s)
    lr = 20 + _colour_texture(colours)[None] * np.array([1.0, 0.5, 2.0])[:, None, None]
    lr = (lr + rng.normal(0, 0.5, lr.shape)).astype(np.float32)  # texture the photo explains
    model = random_model(calibration_radius=1)
    prepared, norm, _ = prepare_for_model(model, lr, photo)
    args = (model.generator, norm, prepared.lr_maps, prepared.rgb, model.operator)
    raw = predict(*args, model.config.replace(calibration_radius=0), project=False)
    got = predict(*args, model.config)
    photo_lr = photo_block_means(prepared.rgb[0 : s * h], s)
    with_photo = _calibrated(raw, prepared.lr_maps, s, photo_lr=photo_lr)
    np.testing.assert_allclose(got, with_photo, rtol=1e-5, atol=1e-4)
    without = _calibrated(raw, prepared.lr_maps, s)
    assert np.abs(got - without).max() > 1e-2 * lr.max()  # the photo changed the answer


def test_a_trained_model_answers_with_other_inference_settings_only():
    from napari_maxrf_sr.errors import InputError

    model = random_model(calibration_radius=1)
    plain = model.answering_with(calibration_radius=0)
    assert plain.config.calibration_radius == 0 and model.config.calibration_radius == 1
    assert plain.generator is model.generator  # the same trained network
    assert model.answering_with() is model
    with pytest.raises(InputError, match="stage1_steps changes how the network is trained"):
        model.answering_with(stage1_steps=5)
