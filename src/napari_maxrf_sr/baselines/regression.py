"""Colour regression: each map as a quadratic polynomial of the photo's colours.

The simplest photo-guided method that sees exactly what the network sees, pixel by
pixel: on the scan's grid, every map is fitted (least squares, per map) as a
quadratic polynomial of the block-averaged photo's red, green and blue; the
polynomial is applied to every photo pixel; what it misses on the scan's grid (the
residual) is interpolated and added back; the sum is projected onto the scan. The
network is per-pixel too and has the same inputs, so it should never lose to this
baseline (ours; issue #16).
"""

from __future__ import annotations

import numpy as np

from napari_maxrf_sr.baselines.interpolation import (
    check_inputs,
    down_np,
    finish,
    normalise_maps,
    upsample_np,
)
from napari_maxrf_sr.core.operators import AcquisitionOperator

__all__ = ["colour_regression", "quadratic_features"]


def quadratic_features(rgb: np.ndarray) -> np.ndarray:
    """``(10, ...)``: 1, r, g, b, r^2, g^2, b^2, rg, rb, gb of a ``(3, ...)`` image."""
    r, g, b = rgb
    return np.stack([np.ones_like(r), r, g, b, r * r, g * g, b * b, r * g, r * b, g * b])


def colour_regression(
    lr_maps: np.ndarray,
    rgb: np.ndarray,
    scale: int,
    *,
    op: AcquisitionOperator | None = None,
    seed: int = 0,
    ridge: float = 1e-4,
    project: bool = True,
) -> np.ndarray:
    """Quadratic colour regression plus interpolated residual, projected onto the scan.

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` float32 element maps, ``>= 0``, any units.
    rgb
        ``(H, W, 3)`` photo in ``[0, 1]``.
    scale
        Integer ratio ``H / h``.
    op
        Acquisition operator (default: ``s x s`` block mean).
    seed
        Unused (the method is deterministic); kept for the common signature.
    ridge
        Ridge regularisation of the least-squares fit (relative to the features'
        mean square), so that a photo with few colours gives a stable fit.
    project
        Finish with the exact non-negative projection onto the scan.

    Returns
    -------
    numpy.ndarray
        ``(B, H, W)`` float32, ``>= 0``, in the units of ``lr_maps``.
    """
    maps, photo, s, op = check_inputs(lr_maps, rgb, scale, op)
    norm, peaks = normalise_maps(maps)
    hr_rgb = np.moveaxis(photo, -1, 0).astype(np.float32)  # (3, H, W)
    lr_rgb = down_np(hr_rgb, op)  # the photo block-averaged onto the scan's grid
    f_lr = quadratic_features(lr_rgb.astype(np.float64)).reshape(10, -1)  # (10, h w)
    gram = f_lr @ f_lr.T
    gram += ridge * np.trace(gram) / 10 * np.eye(10)
    coef = np.linalg.solve(gram, f_lr @ norm.reshape(norm.shape[0], -1).T.astype(np.float64))
    fit_lr = (coef.T @ f_lr).reshape(norm.shape)
    residual = (norm - fit_lr).astype(np.float32)
    out = upsample_np(residual, s, "bilinear")
    features = quadratic_features(hr_rgb)  # (10, H, W), once for all maps
    for k in range(norm.shape[0]):  # map by map: no (10, H, W) x B products at once
        out[k] += np.tensordot(coef[:, k].astype(np.float32), features, 1)
    return finish(out, peaks, maps, op, project=bool(project))
