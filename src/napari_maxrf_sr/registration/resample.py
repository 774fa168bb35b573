"""One resampling of the photo, from its original pixels, onto the scan's HR grid.

Output pixels are read by bicubic (or bilinear) interpolation of the original photo;
where the warp shrinks the photo, the photo is first low-pass filtered by a Gaussian
of ``(f - 1) / 2`` pixels, ``f`` the largest local shrink factor (the rule of
``skimage.transform.resize``), so that detail finer than the output's pixels does not
alias. The work goes in bands of output rows: only a band's part of the photo is ever
converted to floating point.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as tnf
from scipy.ndimage import gaussian_filter

from .geometry import apply, local_scales
from .inputs import photo_range

_BAND_PIXELS = 1 << 18  # a band's float copies stay within tens of MiB


def antialias_sigma(matrix: np.ndarray, xy: np.ndarray) -> float:
    """Gaussian sigma (photo pixels) that keeps the output free of aliasing."""
    f = float(local_scales(matrix, xy)[:, 0].max())
    return max(0.0, (f - 1.0) / 2.0)


def warp_photo(photo: np.ndarray, matrix: np.ndarray, out_shape: tuple[int, int], *,
               order: int = 3, antialias: bool = True,
               band_pixels: int = _BAND_PIXELS) -> tuple[np.ndarray, float]:
    """Resample ``photo`` so that output pixel ``(x, y)`` shows photo point ``matrix @ (x, y)``.

    Parameters
    ----------
    photo
        ``(H, W, 3)`` uint8, uint16 or float.
    matrix
        3x3 homogeneous, output ``(x, y)`` -> photo ``(x, y)``.
    out_shape
        ``(rows, cols)`` of the output.
    order
        3 (bicubic, default) or 1 (bilinear).

    Returns
    -------
    out, outside
        The output in the photo's pixel type (0 where no photo lies under it) and the
        share of its pixels that had no photo under them.
    """
    big_h, big_w = photo.shape[:2]
    rows_out, cols_out = (int(n) for n in out_shape)
    out = np.zeros((rows_out, cols_out, photo.shape[2]), dtype=photo.dtype)
    white = photo_range(photo.dtype)
    integer = np.issubdtype(photo.dtype, np.integer)
    mode = "bicubic" if order == 3 else "bilinear"
    step = max(1, band_pixels // max(cols_out, 1))
    n_out = 0
    xs = np.arange(cols_out, dtype=np.float64)
    for r0 in range(0, rows_out, step):
        r1 = min(rows_out, r0 + step)
        yy, xx = np.meshgrid(np.arange(r0, r1, dtype=np.float64), xs, indexing="ij")
        p = apply(matrix, np.stack([xx.ravel(), yy.ravel()], axis=1))
        inside = (p[:, 0] >= -0.5) & (p[:, 0] <= big_w - 0.5) & (p[:, 1] >= -0.5) & (
            p[:, 1] <= big_h - 0.5)
        n_out += int((~inside).sum())
        if not inside.any():
            continue
        band_corners = np.array([[0, r0], [cols_out - 1, r0], [0, r1 - 1], [cols_out - 1, r1 - 1]],
                                dtype=np.float64)
        sigma = antialias_sigma(matrix, band_corners) if antialias else 0.0
        pad = int(np.ceil(3 * sigma)) + 3
        pin = p[inside]
        x0 = max(0, int(np.floor(pin[:, 0].min())) - pad)
        x1 = min(big_w, int(np.ceil(pin[:, 0].max())) + pad + 1)
        y0 = max(0, int(np.floor(pin[:, 1].min())) - pad)
        y1 = min(big_h, int(np.ceil(pin[:, 1].max())) + pad + 1)
        crop = photo[y0:y1, x0:x1].astype(np.float32)
        if sigma > 0.05:
            crop = gaussian_filter(crop, (sigma, sigma, 0), mode="nearest")
        ch, cw = crop.shape[:2]
        img = torch.from_numpy(np.ascontiguousarray(np.moveaxis(crop, 2, 0)))[None]
        gx = (2.0 * (pin[:, 0] - x0) + 1.0) / cw - 1.0
        gy = (2.0 * (pin[:, 1] - y0) + 1.0) / ch - 1.0
        grid = torch.from_numpy(np.stack([gx, gy], axis=1).astype(np.float32))[None, None]
        with torch.no_grad():
            vals = tnf.grid_sample(img, grid, mode=mode, padding_mode="border",
                                   align_corners=False)[0, :, 0].numpy().T
        vals = np.clip(np.rint(vals) if integer else vals, 0, white)
        band = np.zeros((len(p), photo.shape[2]), dtype=photo.dtype)
        band[inside] = vals
        out[r0:r1] = band.reshape(r1 - r0, cols_out, -1)
    return out, n_out / float(rows_out * cols_out)
