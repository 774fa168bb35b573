"""The acquisition operator U, its adjoint, the upsamplings and the exact projection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_maxrf_sr.core.operators import (
    AcquisitionOperator,
    block_mean,
    project_consistent,
    project_nonnegative_block,
    upsample_bicubic,
    upsample_bilinear,
)


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
@pytest.mark.parametrize("n_maps", [1, 7, 21])
def test_block_projection_is_exact_and_idempotent(scale, n_maps):
    gen = torch.Generator().manual_seed(scale * 100 + n_maps)
    y_lr = torch.rand(n_maps, 5, 6, generator=gen, dtype=torch.float64) * 50
    y = torch.rand(n_maps, 5 * scale, 6 * scale, generator=gen, dtype=torch.float64) * 50
    op = AcquisitionOperator(scale)
    p = op.project(y, y_lr)
    assert p.shape == y.shape
    assert torch.allclose(op.down(p), y_lr, rtol=0, atol=1e-10)
    assert torch.allclose(op.project(p, y_lr), p, atol=1e-10)  # a projection: idempotent


def test_block_projection_formula_matches_method_md():
    """Proj(Y) = Y - (Y U - Y_lr) U^T with U^T U = I: add back the block difference."""
    s = 2
    y = torch.tensor([[[1.0, 3.0], [5.0, 7.0]]], dtype=torch.float64)  # block mean 4
    y_lr = torch.tensor([[[6.0]]], dtype=torch.float64)
    p = AcquisitionOperator(s).project(y, y_lr)
    assert torch.equal(p, y + 2.0)


def test_projection_is_orthogonal():
    """The correction is orthogonal to the consistent set (a true projection)."""
    gen = torch.Generator().manual_seed(0)
    op = AcquisitionOperator(4)
    y = torch.rand(2, 16, 16, generator=gen, dtype=torch.float64)
    y_lr = torch.rand(2, 4, 4, generator=gen, dtype=torch.float64)
    p = op.project(y, y_lr)
    # Any direction inside the set: v with U v = 0.
    v = torch.rand(2, 16, 16, generator=gen, dtype=torch.float64)
    v = v - op.adjoint(op.down(v)) * 16
    assert abs(float(((y - p) * v).sum())) < 1e-10


@pytest.mark.parametrize("kind,sigma", [("block", 0.0), ("gaussian", 1.5)])
def test_adjoint_is_exact(kind, sigma):
    gen = torch.Generator().manual_seed(1)
    op = AcquisitionOperator(4, kind, sigma)
    y = torch.rand(3, 16, 20, generator=gen, dtype=torch.float64)
    r = torch.rand(3, 4, 5, generator=gen, dtype=torch.float64)
    lhs = float((op.down(y) * r).sum())
    rhs = float((y * op.adjoint(r)).sum())
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_gaussian_projection_agrees_with_scan():
    gen = torch.Generator().manual_seed(2)
    op = AcquisitionOperator(4, "gaussian", 1.0)
    y = torch.rand(2, 24, 24, generator=gen, dtype=torch.float64)
    y_lr = op.down(torch.rand(2, 24, 24, generator=gen, dtype=torch.float64))
    p = op.project(y, y_lr)
    assert torch.allclose(op.down(p), y_lr, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(
    scale=st.sampled_from([2, 3, 4]),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    seed=st.integers(0, 10_000),
)
def test_nonnegative_projection_property(scale, h, w, seed):
    """For any estimate and any non-negative scan: >= 0 and exactly consistent."""
    gen = torch.Generator().manual_seed(seed)
    y = (torch.randn(2, h * scale, w * scale, generator=gen, dtype=torch.float64) * 10)
    y_lr = torch.rand(2, h, w, generator=gen, dtype=torch.float64) * 5
    y_lr[0, 0, 0] = 0.0  # a block with no counts at all
    p = project_consistent(AcquisitionOperator(scale), y, y_lr, nonnegative=True)
    assert float(p.min()) >= 0.0
    assert torch.allclose(block_mean(p, scale), y_lr, atol=1e-9)


def test_nonnegative_projection_equals_plain_one_when_already_nonnegative():
    gen = torch.Generator().manual_seed(3)
    y = torch.rand(1, 8, 8, generator=gen, dtype=torch.float64) + 1
    y_lr = torch.rand(1, 2, 2, generator=gen, dtype=torch.float64) + 1
    plain = AcquisitionOperator(4).project(y, y_lr)
    assert float(plain.min()) > 0
    assert torch.allclose(project_nonnegative_block(y, y_lr, 4), plain, atol=1e-12)


def test_upsampling_pixel_convention():
    """A constant stays constant; a LR pixel's value sits at its block's centre."""
    y = torch.full((1, 3, 3), 7.0)
    assert torch.allclose(upsample_bilinear(y, 4), torch.full((1, 12, 12), 7.0))
    ramp = torch.arange(4.0).reshape(1, 1, 4).expand(1, 4, 4).contiguous()
    up = upsample_bilinear(ramp, 2)
    # LR pixel j has its centre between HR pixels 2j and 2j+1: their mean is j.
    centre = (up[0, 3, 2:5:2] + up[0, 3, 3:6:2]) / 2  # interior LR pixels 1 and 2
    assert torch.allclose(centre, torch.tensor([1.0, 2.0]))
    assert upsample_bicubic(y, 2).shape == (1, 6, 6)


def test_operator_rejects_bad_scale():
    with pytest.raises(ValueError, match="whole number"):
        AcquisitionOperator(2.5)
    with pytest.raises(ValueError):
        AcquisitionOperator(4, "box")


def test_numpy_wrappers_round_trip():
    from napari_maxrf_sr.core.operators import block_mean_np, project_np

    rng = np.random.default_rng(0)
    y = rng.random((2, 8, 8)).astype(np.float32)
    lr = rng.random((2, 2, 2)).astype(np.float32)
    p = project_np(y, lr, AcquisitionOperator(4))
    np.testing.assert_allclose(block_mean_np(p, 4), lr, atol=1e-6)


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_consistent_source_interpolates_to_the_scan_block_means(scale):
    """bilinear(consistent_source(y)) is smooth and its block means are y, exactly."""
    from napari_maxrf_sr.core.operators import consistent_source

    rng = np.random.default_rng(scale)
    y = rng.random((2, 9, 6)).astype(np.float32) * 50
    up = upsample_bilinear(torch.from_numpy(consistent_source(y, scale)), scale)
    torch.testing.assert_close(block_mean(up, scale), torch.from_numpy(y), rtol=1e-5,
                               atol=1e-4)
    # Plain bilinear interpolation does not agree with the scan (what the solve fixes).
    plain = block_mean(upsample_bilinear(torch.from_numpy(y), scale), scale)
    assert float((plain - torch.from_numpy(y)).abs().max()) > 1.0
