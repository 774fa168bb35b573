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
from napari_maxrf_sr.core.calibration import ColourFit, quadratic_features
from napari_maxrf_sr.core.operators import AcquisitionOperator

__all__ = ["colour_regression", "quadratic_features"]


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
    fit = ColourFit(lr_rgb, ridge=ridge)
    coef = fit.coefficients(norm)  # (10, B)
    residual = fit.residual(norm, coef).astype(np.float32)
    out = upsample_np(residual, s, "bilinear")
    features = quadratic_features(hr_rgb)  # (10, H, W), once for all maps
    for k in range(norm.shape[0]):  # map by map: no (10, H, W) x B products at once
        out[k] += np.tensordot(coef[:, k].astype(np.float32), features, 1)
    return finish(out, peaks, maps, op, project=bool(project))
