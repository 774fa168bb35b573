"""The photo at several resolutions, and sampling it (values and slopes) at points.

Level ``L`` halves the photo ``L`` times with the binomial filter ``[1, 3, 3, 1] / 8``
(anti-aliased) and keeps the photo's own pixel type, so that the whole pyramid costs a
third of the photo's memory. Level-``L`` pixel ``k`` lies over level-0 pixels
``2**L k .. 2**L (k+1) - 1``: its centre is at level-0 coordinate
``2**L k + (2**L - 1) / 2`` (the package's pixel convention). Levels are built in
bands of rows, so no full-size floating-point copy of the photo is ever made.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as tnf
from scipy.ndimage import gaussian_filter

from .inputs import photo_range

_BAND_ROWS = 64  # output rows per band when halving


def _reduce_axis0(a: np.ndarray, out_rows: int) -> np.ndarray:
    """Halve axis 0 with [1, 3, 3, 1]/8 (edges clamped); ``a`` is float32."""
    n = a.shape[0]
    idx = 2 * np.arange(out_rows)
    i0, i3 = np.clip(idx - 1, 0, n - 1), np.clip(idx + 2, 0, n - 1)
    i1, i2 = np.clip(idx, 0, n - 1), np.clip(idx + 1, 0, n - 1)
    return (a[i0] + a[i3]) * 0.125 + (a[i1] + a[i2]) * 0.375


def reduce2(img: np.ndarray) -> np.ndarray:
    """One pyramid step down: ``(H, W, 3)`` -> ``(H//2, W//2, 3)`` in the same pixel type."""
    h, w = img.shape[:2]
    ho, wo = h // 2, w // 2
    out = np.empty((ho, wo, img.shape[2]), dtype=img.dtype)
    integer = np.issubdtype(img.dtype, np.integer)
    top = photo_range(img.dtype)
    for r0 in range(0, ho, _BAND_ROWS):
        r1 = min(ho, r0 + _BAND_ROWS)
        lo, hi = max(0, 2 * r0 - 1), min(h, 2 * r1 + 1)
        band = img[lo:hi].astype(np.float32)
        # rows: index relative to the band (clamping at the image edges happens inside)
        idx = 2 * np.arange(r0, r1)
        rows = [np.clip(idx + k, 0, h - 1) - lo for k in (-1, 0, 1, 2)]
        v = (band[rows[0]] + band[rows[3]]) * 0.125 + (band[rows[1]] + band[rows[2]]) * 0.375
        v = np.swapaxes(_reduce_axis0(np.swapaxes(v, 0, 1), wo), 0, 1)
        if integer:
            v = np.clip(np.rint(v), 0, top)
        out[r0:r1] = v
    return out


def level_coords(p0: np.ndarray, level: int) -> np.ndarray:
    """Level-0 photo coordinates -> level-``level`` coordinates."""
    f = 2.0**level
    return (p0 - (f - 1.0) / 2.0) / f


class PhotoPyramid:
    """The photo (level 0, never copied) and its halvings, built when first asked for."""

    def __init__(self, photo: np.ndarray, min_side: int = 16):
        self.photo = photo
        self.white = photo_range(photo.dtype)
        self._levels = [photo]
        self.min_side = min_side

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the photo."""
        return tuple(self.photo.shape[:2])

    def n_levels(self) -> int:
        """Levels down to ``min_side`` pixels along the shorter side."""
        n, h, w = 1, *self.shape
        while min(h, w) // 2 >= self.min_side:
            h, w, n = h // 2, w // 2, n + 1
        return n

    def level(self, k: int) -> np.ndarray:
        """Level ``k`` (built on first use; the coarsest for larger ``k``)."""
        k = min(k, self.n_levels() - 1)
        while len(self._levels) <= k:
            self._levels.append(reduce2(self._levels[-1]))
        return self._levels[k]

    def crop(self, k: int, x0: int, x1: int, y0: int, y1: int) -> tuple[np.ndarray, int, int]:
        """Float32 ``(y1-y0, x1-x0, 3)`` in ``[0, 1]`` of level ``k``, clipped to the image.

        Returns the crop and its top-left ``(x0, y0)`` after clipping.
        """
        img = self.level(k)
        h, w = img.shape[:2]
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(w, max(x1, x0 + 1)), min(h, max(y1, y0 + 1))
        out = img[y0:y1, x0:x1].astype(np.float32)
        if self.white != 1.0:
            out *= np.float32(1.0 / self.white)
        return out, x0, y0


def sample(pyr: PhotoPyramid, k: int, pts: np.ndarray, *, slopes: bool = True,
           smooth: float = 0.5, margin: float = 1.0):
    """Colours (and their slopes) of level ``k`` at level-``k`` points ``(n, 2)`` ``(x, y)``.

    The crop around the points is smoothed by a Gaussian of ``smooth`` pixels, then
    read by bilinear interpolation (``torch.nn.functional.grid_sample``); slopes are
    central differences of the same smoothed crop, read at the same points.

    Returns
    -------
    rgb, grad, inside
        ``(n, 3)`` float32 colours in ``[0, 1]``, ``(n, 3, 2)`` d colour / d ``(x, y)``
        (``None`` without ``slopes``), and ``(n,)`` bool: the point lies on the photo, at
        least ``margin`` pixels from its edge.
    """
    h, w = pyr.level(k).shape[:2]
    x, y = pts[:, 0], pts[:, 1]
    inside = (x >= margin - 0.5) & (x <= w - 0.5 - margin) & (y >= margin - 0.5) & (
        y <= h - 0.5 - margin)
    pad = int(np.ceil(3 * smooth)) + 2
    xs, ys = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
    x0, x1 = int(np.floor(xs.min())) - pad, int(np.ceil(xs.max())) + pad + 1
    y0, y1 = int(np.floor(ys.min())) - pad, int(np.ceil(ys.max())) + pad + 1
    crop, cx0, cy0 = pyr.crop(k, x0, x1, y0, y1)
    if smooth > 0:
        crop = gaussian_filter(crop, (smooth, smooth, 0), mode="nearest")
    chans = [crop]
    if slopes:
        gy, gx = np.gradient(crop, axis=(0, 1))
        chans += [gx, gy]
    stack = np.concatenate(chans, axis=2)  # (ch, cw, C)
    ch, cw = stack.shape[:2]
    img = torch.from_numpy(np.ascontiguousarray(np.moveaxis(stack, 2, 0)))[None]
    gx_n = (2.0 * (xs - cx0) + 1.0) / cw - 1.0
    gy_n = (2.0 * (ys - cy0) + 1.0) / ch - 1.0
    grid = torch.from_numpy(np.stack([gx_n, gy_n], axis=1).astype(np.float32))[None, None]
    with torch.no_grad():
        out = tnf.grid_sample(img, grid, mode="bilinear", padding_mode="border",
                              align_corners=False)[0, :, 0].numpy().T  # (n, C)
    rgb = out[:, :3]
    grad = np.stack([out[:, 3:6], out[:, 6:9]], axis=2) if slopes else None
    return rgb, grad, inside
