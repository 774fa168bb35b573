"""Tests of the baseline super-resolution methods (small synthetic images, fast)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_maxrf_sr.baselines import BASELINE_HELP, METHODS, run_baseline
from napari_maxrf_sr.baselines.guided import box_mean, guided_filter_color
from napari_maxrf_sr.core.operators import block_mean_np, upsample_bicubic_np
from napari_maxrf_sr.errors import InputError

NAMES = ["bicubic", "bicubic_projected", "guided", "colour_regression", "ssr", "ssrcu", "cnmf"]
PROJECTED = ["bicubic_projected", "guided", "colour_regression", "ssr", "ssrcu", "cnmf"]
GUIDED = ["guided", "colour_regression", "ssr", "ssrcu", "cnmf"]
# Fewer iterations keep the tests fast; the defaults are exercised by the benchmark.
FAST = {
    "ssr": {"n_learn": 60, "n_code": 60},
    "ssrcu": {"n_learn": 60, "n_code": 60},
    "cnmf": {"n_inner": 40, "n_outer": 2},
}


def pigments(size: int = 48, b: int = 5, scale: int = 4, n_rect: int = 8, seed: int = 0):
    """Piecewise-constant painting: rectangles of 'pigments' with a colour and a composition."""
    rng = np.random.default_rng(seed)
    n_pig = n_rect + 1  # pigment 0 is the ground
    colours = rng.uniform(0.05, 0.95, (n_pig, 3))
    comp = rng.uniform(0.0, 1.0, (n_pig, b)) * (rng.random((n_pig, b)) < 0.6)
    comp[:, 0] += 0.05  # one element everywhere (like Pb white in the ground)
    labels = np.zeros((size, size), dtype=int)
    for k in range(1, n_pig):
        h, w = rng.integers(size // 6, size // 2, 2)
        y, x = rng.integers(0, size - h), rng.integers(0, size - w)
        labels[y : y + h, x : x + w] = k
    rgb = colours[labels].astype(np.float32)
    hr = (np.moveaxis(comp[labels], -1, 0) * 250.0).astype(np.float32)  # counts
    return hr, block_mean_np(hr, scale), rgb


def psnr(est: np.ndarray, ref: np.ndarray) -> float:
    """Mean over maps of the PSNR with each map's true maximum as peak."""
    vals = []
    for e, r in zip(est.astype(np.float64), ref.astype(np.float64), strict=True):
        mse = max(np.mean((e - r) ** 2), 1e-20)
        vals.append(10 * np.log10(max(r.max(), 1e-12) ** 2 / mse))
    return float(np.mean(vals))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small problems: torch's thread pool only adds overhead (and stalls on a busy CI)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def case():
    return pigments(size=48, b=5, scale=4, seed=3)


@pytest.fixture(scope="module")
def outputs(case):
    _, lr, rgb = case
    return {n: run_baseline(n, lr, rgb, 4, seed=0, **FAST.get(n, {})) for n in NAMES}


def test_registry_is_complete():
    assert list(METHODS) == NAMES
    assert set(BASELINE_HELP) == set(METHODS)
    assert all(isinstance(v, str) and v.endswith(".") for v in BASELINE_HELP.values())


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_type_and_sign(name, case, outputs):
    hr, _, _ = case
    out = outputs[name]
    assert out.shape == hr.shape
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    assert out.min() >= 0


@pytest.mark.parametrize("name", PROJECTED)
def test_projected_methods_agree_with_the_scan(name, case, outputs):
    _, lr, _ = case
    back = block_mean_np(outputs[name], 4)
    assert np.abs(back - lr).max() <= 1e-4 * lr.max()


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_for_a_seed(name, case, outputs):
    _, lr, rgb = case
    again = run_baseline(name, lr, rgb, 4, seed=0, **FAST.get(name, {}))
    np.testing.assert_array_equal(again, outputs[name])


@pytest.mark.parametrize("name", GUIDED)
def test_photo_guided_methods_beat_bicubic(name, case, outputs):
    hr, _, _ = case
    assert psnr(outputs[name], hr) > psnr(outputs["bicubic"], hr) + 0.5


def test_units_follow_the_input(case):
    _, lr, rgb = case
    a = run_baseline("guided", lr, rgb, 4)
    b = run_baseline("guided", lr * 1000.0, rgb, 4)
    np.testing.assert_allclose(b, a * 1000.0, rtol=1e-4, atol=1e-3 * a.max())


@pytest.mark.parametrize("name", ["ssrcu", "cnmf"])
def test_other_sizes_and_scale_two(name):
    _, lr, rgb = pigments(size=32, b=3, scale=2, n_rect=4, seed=1)
    lr = lr[:, :, :12]  # non-square
    rgb = rgb[:, :24]
    out = run_baseline(name, lr, rgb, 2, **FAST[name])
    assert out.shape == (3, 32, 24)
    np.testing.assert_allclose(block_mean_np(out, 2), lr, atol=1e-4 * lr.max())


def test_all_zero_map_stays_zero(case):
    _, lr, rgb = case
    lr = lr.copy()
    lr[1] = 0.0
    for name in NAMES:
        out = run_baseline(name, lr, rgb, 4, **FAST.get(name, {}))
        assert np.isfinite(out).all()
        if name in PROJECTED:
            assert np.abs(out[1]).max() == 0.0


def test_unknown_method_lists_valid_names(case):
    _, lr, rgb = case
    with pytest.raises(InputError, match="bicubic.*cnmf"):
        run_baseline("lanczos", lr, rgb, 4)


@pytest.mark.parametrize("name", NAMES)
def test_mismatched_shapes(name, case):
    _, lr, rgb = case
    with pytest.raises(InputError, match="rgb must be shaped"):
        run_baseline(name, lr, rgb[:-4], 4)
    with pytest.raises(InputError, match="rgb must be shaped"):
        run_baseline(name, lr, rgb, 3)
    with pytest.raises(InputError, match=r"\(B, h, w\)"):
        run_baseline(name, lr[0], rgb, 4)


def test_bad_values_and_options(case):
    _, lr, rgb = case
    with pytest.raises(InputError, match="non-negative"):
        run_baseline("bicubic", -lr, rgb, 4)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        run_baseline("guided", lr, rgb * 255, 4)
    with pytest.raises(InputError, match="eps"):
        run_baseline("guided", lr, rgb, 4, eps=0.0)
    with pytest.raises(InputError, match="n_atoms"):
        run_baseline("ssr", lr, rgb, 4, n_xrf=3)
    with pytest.raises(TypeError):
        run_baseline("bicubic", lr, rgb, 4, radius=2)


def test_box_mean_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.random((2, 9, 11))
    r = 2
    ref = np.empty_like(x)
    for i in range(9):
        for j in range(11):
            ref[:, i, j] = x[:, max(i - r, 0) : i + r + 1, max(j - r, 0) : j + r + 1].mean(
                axis=(1, 2)
            )
    np.testing.assert_allclose(box_mean(x, r), ref, rtol=1e-10)


def test_colour_guided_filter_matches_per_pixel_solve():
    """The vectorised filter equals He et al.'s colour formula solved window by window."""
    rng = np.random.default_rng(1)
    guide = rng.random((3, 8, 9))
    p = rng.random((2, 8, 9))
    r, eps = 1, 1e-2
    a = np.zeros((2, 3, 8, 9))
    b = np.zeros((2, 8, 9))
    for i in range(8):
        for j in range(9):
            win = (slice(max(i - r, 0), i + r + 1), slice(max(j - r, 0), j + r + 1))
            gi = guide[:, win[0], win[1]].reshape(3, -1)
            mi = gi.mean(axis=1)
            sigma = np.cov(gi, bias=True) + eps * np.eye(3)
            for k in range(2):
                pk = p[k][win].ravel()
                cov = (gi * pk).mean(axis=1) - mi * pk.mean()
                a[k, :, i, j] = np.linalg.solve(sigma, cov)
                b[k, i, j] = pk.mean() - a[k, :, i, j] @ mi
    ref = np.einsum("kihw,ihw->khw", box_mean(a, r), guide) + box_mean(b, r)
    np.testing.assert_allclose(guided_filter_color(guide, p, r, eps), ref, rtol=1e-8, atol=1e-10)


def test_a_constant_photo_gives_no_photo_detail(case):
    """With a flat photo ``a = 0`` in every window: the filter is a double box blur."""
    _, lr, rgb = case
    flat = np.full_like(rgb, 0.5)
    g = run_baseline("guided", lr, flat, 4, project=False)
    up = upsample_bicubic_np(lr, 4)
    ref = np.maximum(box_mean(box_mean(up, 4), 4), 0)
    np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-4 * lr.max())


def test_colour_regression_recovers_maps_that_are_quadratic_in_the_colours():
    """Where every map is a quadratic function of the colour, the regression is exact."""
    from napari_maxrf_sr.baselines.regression import colour_regression

    rng = np.random.default_rng(0)
    # A smooth photo: the quadratic of the block-averaged colours then fits the scan.
    yy, xx = np.mgrid[0:48, 0:48] / 48.0
    rgb = np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.5 + 0.3 * xx * yy], -1).astype(np.float32)
    r, g, b = np.moveaxis(rgb, -1, 0)
    hr = np.stack([100 * r * r + 20 * g, 50 * b + 30 * r * g, 10 + 0 * r]).astype(np.float32)
    lr = block_mean_np(hr, 4)
    out = colour_regression(lr, rgb, 4)
    assert psnr(out, hr) > 40
    noisy = colour_regression(lr, rgb * 0 + rng.random(rgb.shape).astype(np.float32), 4)
    assert psnr(noisy, hr) < psnr(out, hr) - 10  # the photo, not the interpolation, did it
