"""The refinement's high-passed residual (``registration.refine.highpass``).

The final whole-scan fit of a registration takes each scan pixel's local mean (a Gaussian
over the valid pixels of its tile) off the scan and off the model, so broad misfit
(hidden layers, which the photo cannot show) no longer pulls the placement.
"""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks import cases
from benchmarks.registration import DISTORTIONS, camera_photo, transform_error

from napari_maxrf_sr.registration import refine, register, register_photo
from napari_maxrf_sr.registration.refine import _ROW, _TILE, LevelSpec, highpass


def _grid_ids(spec: LevelSpec, keep=None) -> np.ndarray:
    ids = []
    for ti, (r0, r1, c0, c1) in enumerate(spec.tiles):
        rr, cc = np.meshgrid(np.arange(r0, r1), np.arange(c0, c1), indexing="ij")
        ids.append(rr.ravel() * _ROW + cc.ravel() + ti * _TILE)
    ids = np.concatenate(ids)
    return ids if keep is None else ids[keep(ids)]


def _rows_cols(ids):
    rem = ids % _TILE
    return rem // _ROW, rem % _ROW


def test_a_constant_and_a_plane_are_taken_off_entirely():
    spec = LevelSpec(1, 0, 1, [(0, 40, 0, 50)])
    ids = _grid_ids(spec)
    r, c = _rows_cols(ids)
    flat = np.full(len(ids), 7.0)
    assert np.abs(highpass(flat, ids, spec)).max() < 1e-9
    plane = 0.3 * r + 0.1 * c
    inner = (r > 4) & (r < 35) & (c > 4) & (c < 45)  # a Gaussian mean keeps a plane inside
    assert np.abs(highpass(plane, ids, spec)[inner]).max() < 1e-6


def test_fine_detail_is_kept_and_the_sigma_zero_is_the_identity():
    spec = LevelSpec(1, 0, 1, [(0, 32, 0, 32)])
    ids = _grid_ids(spec)
    r, c = _rows_cols(ids)
    checker = np.where((r + c) % 2 == 0, 1.0, -1.0)
    out = highpass(checker, ids, spec)
    assert np.corrcoef(out, checker)[0, 1] > 0.99  # a one-pixel pattern passes
    assert highpass(checker, ids, spec, sigma=0.0) is checker


def test_it_is_linear_and_works_column_by_column():
    spec = LevelSpec(1, 0, 1, [(0, 20, 0, 24), (30, 45, 10, 30)])
    ids = _grid_ids(spec)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(len(ids), 3, 2)), rng.normal(size=(len(ids), 3, 2))
    both = highpass(2.0 * a - b, ids, spec)
    assert np.allclose(both, 2.0 * highpass(a, ids, spec) - highpass(b, ids, spec))
    assert np.allclose(highpass(a, ids, spec)[:, 1, 0], highpass(a[:, 1, 0], ids, spec))


def test_missing_pixels_and_other_tiles_do_not_leak_in():
    spec = LevelSpec(1, 0, 1, [(0, 16, 0, 16), (0, 16, 16, 32)])
    left_half = lambda ids: _rows_cols(ids)[1] % 16 < 8  # noqa: E731
    ids = _grid_ids(spec, keep=left_half)
    tile = ids // _TILE
    values = np.where(tile == 0, 1.0, 100.0)  # one constant per tile
    assert np.abs(highpass(values, ids, spec)).max() < 1e-9


@pytest.mark.slow
@pytest.mark.skipif(not (cases.DATA / "paintings").is_dir(),
                    reason="shared benchmark data not available")
def test_broad_misfit_no_longer_pulls_the_placement(monkeypatch):
    """The Vermeer case (21 maps, hidden layers the photo does not show), shifted photo.

    Without the high-pass the final fit leaves it 0.26 photo px RMS off; with it, 0.16
    (``python -m benchmarks.registration``, first row).
    """
    case = cases.painting_case("vermeer_the_milkmaid", 21)
    photo, truth = camera_photo(case.rgb, case.scale, DISTORTIONS[0])
    errors = {}
    for sigma in (0.0, refine.HIGHPASS_SIGMA):
        monkeypatch.setattr(register, "HIGHPASS_SIGMA", sigma)
        reg = register_photo(case.lr_maps, photo)
        errors[sigma] = transform_error(reg, truth, case.scale, case.lr_maps.shape[1:])[0]
    assert errors[refine.HIGHPASS_SIGMA] <= 0.25 < errors[0.0], errors
