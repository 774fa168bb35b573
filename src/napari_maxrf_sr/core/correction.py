"""The final agreement with the scan: the paper's block projection, or a smooth one (ours).

After the network (and the local calibration) the maps' block means differ a little from
the scan: by the scan's noise and by what the network got wrong. The exact projection
(:func:`~napari_maxrf_sr.core.operators.project_consistent`) adds each scan pixel's
difference evenly over its block: the smallest change that agrees with the scan, so the
most accurate when the difference is noise, but where the scan is noisy and the painting
flat its grid shows at full zoom (a step at every scan-pixel edge).

``correction="smooth"`` first spreads the difference smoothly across the edges: the
bilinear interpolation of LR values whose interpolation has exactly the differences as
block means (:func:`~napari_maxrf_sr.core.operators.consistent_source`); the exact
projection then has only rounding left to add (and any negative pixel to lift). The
answer agrees with the scan exactly either way. The difference is estimated at the scan's
size: the maps' block means, and with the calibration its gain and offset applied to them
(``a g + b``, what the calibrated maps average to up to the coefficients' curvature,
which the projection takes up), so no second pass of the network is needed, in memory
or on a cluster alike.
"""

from __future__ import annotations

import numpy as np
import torch

from .operators import (
    AcquisitionOperator,
    consistent_source,
    project_consistent,
    upsample_halo_band,
)


def correction_source(lr_maps: np.ndarray, block_means: np.ndarray,
                      coefficients: tuple[np.ndarray, np.ndarray] | None,
                      scale: int) -> np.ndarray:
    """LR values whose bilinear interpolation adds the smooth correction, ``(B, h, w)``.

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` the scan.
    block_means
        ``(B, h, w)`` block means of the network's maps before the calibration.
    coefficients
        The calibration's ``(gain, offset)``, each ``(B, h, w)``; ``None``: no calibration.
    scale
        Photo pixels per scan pixel.
    """
    means = np.asarray(block_means, dtype=np.float64)
    if coefficients is not None:
        gain, offset = coefficients
        means = gain * means + offset
    return consistent_source(np.asarray(lr_maps, np.float64) - means, scale)


@torch.no_grad()
def correct_band(maps: np.ndarray, source_rows: torch.Tensor, lr_rows: np.ndarray,
                 op: AcquisitionOperator) -> np.ndarray:
    """A band of maps with the smooth correction added, then projected exactly.

    Parameters
    ----------
    maps
        ``(B, s r, W)`` float32 maps of the band, not yet projected.
    source_rows
        ``(B, r + 2, w + 2)`` rows of :func:`correction_source` with a one-pixel halo all
        round (the band's interpolation equals the whole image's).
    lr_rows
        ``(B, r, w)`` the band's scan rows.
    """
    y = torch.from_numpy(np.asarray(maps)).double()
    y = y + upsample_halo_band(source_rows.double(), op.scale)
    lr = torch.from_numpy(np.ascontiguousarray(lr_rows)).double()
    return project_consistent(op, y, lr, nonnegative=True).float().numpy()
