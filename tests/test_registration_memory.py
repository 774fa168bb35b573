"""The registration's bounded-memory paths give the numbers of the plain formulas.

Big scans and camera photos are read in bands (``ScanData.region``, ``features_on_grid``)
and the refinement's Jacobian is contracted without forming the design's derivative
(``model.design_jac_times``); each is checked here against the direct computation on
small random data (no shared data needed).
"""

from __future__ import annotations

import numpy as np

from napari_maxrf_sr.registration import model, scan, search
from napari_maxrf_sr.registration.model import ColourModel
from napari_maxrf_sr.registration.pyramid import PhotoPyramid


def test_jacobian_contraction_matches_the_design_derivative():
    rng = np.random.default_rng(0)
    n, f, p, k = 50, 4 + 6, 4, 3
    g_col = rng.normal(size=(n, f, p)).astype(np.float32)
    q = rng.uniform(-1, 1, (n, 2))
    k_all = f + model.N_SHADED * model.N_SHADING
    beta = rng.normal(size=(k_all, k))
    # design() is linear in the features: its derivative along p is design(g[:, :, p])
    direct = np.stack([model.design(g_col[:, :, i], q) @ beta for i in range(p)], axis=2)
    np.testing.assert_allclose(model.design_jac_times(g_col, q, beta), direct,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.design_jac_times(g_col, q, beta[:f], shading=False),
                               np.einsum("nfp,fb->nbp", g_col.astype(np.float64), beta[:f]),
                               rtol=1e-6, atol=1e-6)


def test_scan_regions_read_in_bands_match_the_whole_block_mean(monkeypatch):
    rng = np.random.default_rng(1)
    maps = rng.poisson(20.0, (3, 96, 80)).astype(np.float32)
    data = scan.ScanData(maps)
    d, r0, r1, c0, c1 = 4, 2, 23, 1, 19
    raw = maps[data.bands, d * r0 : d * r1, d * c0 : d * c1].astype(np.float64)
    z = (scan.block_mean(raw, d) - data.mean[:, None, None]) / data.sigma[:, None, None]
    direct = np.einsum("bk,bhw->khw", data.components, z)
    monkeypatch.setattr(scan, "_ROWS", 8)  # two level rows per band: several bands
    np.testing.assert_allclose(data.region(d, r0, r1, c0, c1), direct, rtol=1e-12)


def test_photo_features_read_in_bands_match_one_pass(monkeypatch):
    rng = np.random.default_rng(2)
    photo = (rng.uniform(0, 1, (90, 70, 3)) * 255).astype(np.uint8)
    pyr = PhotoPyramid(photo)
    colour = ColourModel.from_pixels(photo.reshape(-1, 3) / 255.0, 6)
    m = np.array([[2.1, 0.1, 3.0], [-0.1, 2.1, 4.0], [0, 0, 1.0]])
    one_pass = search.features_on_grid(pyr, colour, m, (30, 25), 2.1)
    monkeypatch.setattr(search, "_POINTS_PER_BAND", 200)  # a few rows per band
    banded = search.features_on_grid(pyr, colour, m, (30, 25), 2.1)
    assert banded.shape == (colour.n_features, 30, 25)
    np.testing.assert_allclose(banded, one_pass, rtol=1e-5, atol=1e-5)
