"""Local calibration of the network's maps against the scan, before the projection (ours).

The network maps each pixel's colour (and interpolated scan) to element values with one
function for the whole painting. Where a colour carries no element (ink strokes, dark
retouching) that function still answers, and the final projection only corrects each
block's mean: the stroke's shape stays inside the block. The scan can tell the two
apart. In every window of ``(2R+1) x (2R+1)`` scan pixels the scan is regressed on the
network's own block means, ``y = a g + b``: where the network's variation is seen in
the scan, ``a`` is about 1 and its maps are kept; where the scan does not show it
(a stroke over a flat paint layer), ``a`` falls towards 0 and the maps fade to the
window's mean there. As in the guided filter (He et al., TPAMI 2013), each scan pixel
averages the coefficients of every window that covers it; they are then interpolated
bilinearly onto the photo's pixels, ``q = a G + b``, and the exact projection follows.

The slope is a ridge estimate: with the prior ``a ~ N(0, 1)`` and the scan's noise of
variance ``sigma^2`` on each of the window's ``n = (2R+1)^2`` pixels, the posterior mean
is ``cov(g, y) / (var(g) + sigma^2 / n)``. ``sigma^2`` is estimated per map from the
scan itself (:func:`noise_variance`); a scan's fine texture inflates that estimate, so
the part of the texture that the photo's colours explain is removed first
(:func:`scan_noise_variance`). Nothing here is learned or tuned on our cases.

Everything is computed on the scan's grid, one map at a time, so memory is a few times
the scan's (the colour fit keeps ten scan-sized arrays for all maps); the bands of
:mod:`~napari_maxrf_sr.core.inference` then apply it row by row.
"""

from __future__ import annotations

import numpy as np
import torch

from .operators import block_mean, upsample_halo_band

#: Immerkaer's noise-estimation mask: the difference of two Laplacians, blind to a
#: map's planes and ramps; white noise of variance sigma^2 gives it variance 36 sigma^2.
_NOISE_MASK = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def _window_bounds(n: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of the window around every index, clipped to ``[0, n)``."""
    idx = np.arange(n)
    return np.maximum(idx - r, 0), np.minimum(idx + r, n - 1) + 1


def box_mean(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over the ``(2r+1) x (2r+1)`` window of every pixel of ``(..., H, W)``.

    Uses cumulative sums in float64, so the cost does not depend on ``r``;
    windows are clipped at the image border and divided by their true size.
    """
    x = np.asarray(x, dtype=np.float64)
    h, w = x.shape[-2:]
    lo_y, hi_y = _window_bounds(h, r)
    lo_x, hi_x = _window_bounds(w, r)
    pad = [(0, 0)] * (x.ndim - 2) + [(1, 0), (1, 0)]
    c = np.pad(x, pad).cumsum(axis=-2).cumsum(axis=-1)
    rows = c[..., hi_y, :] - c[..., lo_y, :]
    s = rows[..., hi_x] - rows[..., lo_x]
    count = np.outer(hi_y - lo_y, hi_x - lo_x)
    return s / count


def noise_variance(y_lr: np.ndarray) -> np.ndarray:
    """Each map's noise variance, ``(B,)``, estimated from the scan alone.

    J. Immerkaer, "Fast noise variance estimation", Computer Vision and Image
    Understanding 64(2), 1996: the mean absolute response to :data:`_NOISE_MASK`
    times ``sqrt(pi / 2) / 6`` estimates sigma. The painting's own fine texture
    counts as noise too, so it tends to err high, and the calibration then fades more
    than the noise alone would ask (``python -m benchmarks.noise_estimate`` compares
    it with the true noise of simulated scans). Maps smaller than 3 x 3 give 0.
    """
    y = np.asarray(y_lr, dtype=np.float64)
    b, h, w = y.shape
    if h < 3 or w < 3:
        return np.zeros(b)
    acc = np.zeros((b, h - 2, w - 2))
    for i in range(3):
        for j in range(3):
            acc += _NOISE_MASK[i, j] * y[:, i : i + h - 2, j : j + w - 2]
    sigma = np.sqrt(np.pi / 2) / 6 * np.abs(acc).mean(axis=(1, 2))
    return sigma**2


def quadratic_features(rgb: np.ndarray) -> np.ndarray:
    """``(10, ...)``: 1, r, g, b, r^2, g^2, b^2, rg, rb, gb of a ``(3, ...)`` image."""
    r, g, b = rgb
    return np.stack([np.ones_like(r), r, g, b, r * r, g * g, b * b, r * g, r * b, g * b])


def photo_block_means(rows: np.ndarray, scale: int) -> np.ndarray:
    """``(3, r, w)`` float64 means of ``scale x scale`` blocks of ``(s r, s w, 3)`` photo rows."""
    channels_first = np.moveaxis(np.asarray(rows, dtype=np.float64), -1, 0)
    return block_mean(torch.from_numpy(channels_first), scale).numpy()


class ColourFit:
    """Least-squares fits of scan maps by a quadratic function of the photo's colours.

    The photo is block-averaged onto the scan's grid (``photo_lr``). The fit has ten
    parameters per map for thousands of scan pixels, so it takes up what the colours
    explain and leaves the scan's noise nearly whole. ``ridge`` (relative to the
    features' mean square) keeps a photo of few colours from an unstable fit.
    """

    def __init__(self, photo_lr: np.ndarray, ridge: float = 1e-4) -> None:
        self.features = quadratic_features(np.asarray(photo_lr, dtype=np.float64))
        f = self.features.reshape(10, -1)
        gram = f @ f.T
        self._gram = gram + ridge * np.trace(gram) / 10 * np.eye(10)

    def coefficients(self, maps: np.ndarray) -> np.ndarray:
        """``(10, B)`` the polynomials' coefficients for ``(B, h, w)`` maps."""
        f = self.features.reshape(10, -1)
        rhs = f @ np.asarray(maps, dtype=np.float64).reshape(len(maps), -1).T
        return np.linalg.solve(self._gram, rhs)

    def residual(self, maps: np.ndarray, coef: np.ndarray | None = None) -> np.ndarray:
        """``(B, h, w)`` float64: the maps minus their fits (``coef``: already solved)."""
        if coef is None:
            coef = self.coefficients(maps)
        return maps - np.tensordot(coef.T, self.features, axes=1)


def scan_noise_variance(y: np.ndarray, colour_fit: ColourFit | None = None) -> float:
    """One map's noise variance, with what the photo's colours explain left out.

    Immerkaer's estimate (:func:`noise_variance`) counts the scan's fine texture as
    noise. Texture that a smooth function of the photo's colours reproduces is not
    noise, so the estimate is taken again on the residual of a :class:`ColourFit`, and
    the smaller of the two is kept (texture the photo does not show, such as a hidden
    layer, stays in both). ``python -m benchmarks.noise_estimate`` shows both estimates
    beside the true noise.
    """
    y = np.asarray(y, dtype=np.float64)[None]
    plain = noise_variance(y)[0]
    if colour_fit is None:
        return plain
    return min(plain, noise_variance(colour_fit.residual(y))[0])


def calibration_coefficients(g: np.ndarray, y_lr: np.ndarray, radius: int,
                             photo_lr: np.ndarray | None = None
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Per-scan-pixel gain ``a`` and offset ``b`` with which ``a G + b`` follows the scan.

    Parameters
    ----------
    g
        ``(B, h, w)`` the network's unprojected maps seen through the acquisition
        operator (its block means), in the scan's units.
    y_lr
        ``(B, h, w)`` the scan.
    radius
        ``R``: windows of ``(2R+1) x (2R+1)`` scan pixels.
    photo_lr
        ``(3, h, w)`` the photo's block means (:func:`photo_block_means`), for the noise
        estimate (:func:`scan_noise_variance`); ``None``: from the scan alone.

    Returns
    -------
    a, b
        ``(B, h, w)`` float64, each the mean over the windows covering the pixel.
    """
    n = (2 * radius + 1) ** 2
    colour_fit = None if photo_lr is None else ColourFit(photo_lr)
    gain = np.empty(np.shape(y_lr))
    offset = np.empty(np.shape(y_lr))
    for k in range(gain.shape[0]):  # map by map: a handful of scan-sized float64 arrays
        gk = np.asarray(g[k], dtype=np.float64)
        yk = np.asarray(y_lr[k], dtype=np.float64)
        mean_g, mean_y = box_mean(gk, radius), box_mean(yk, radius)
        var_g = np.maximum(box_mean(gk * gk, radius) - mean_g**2, 0.0)
        cov = box_mean(gk * yk, radius) - mean_g * mean_y
        # The floor keeps an all-zero or constant map from dividing 0 by 0.
        eps = scan_noise_variance(yk, colour_fit) / n + 1e-12 * np.abs(yk).max() ** 2 + 1e-30
        a = cov / (var_g + eps)
        gain[k] = box_mean(a, radius)
        offset[k] = box_mean(mean_y - a * mean_g, radius)
    return gain, offset


def apply_calibration(maps: torch.Tensor, a_band: torch.Tensor, b_band: torch.Tensor,
                      scale: int) -> torch.Tensor:
    """``a G + b`` on a band of the photo's rows, ``a`` and ``b`` upsampled bilinearly.

    Parameters
    ----------
    maps
        ``(B, s r, W)`` the network's maps for ``r`` scan rows (float64, input units).
    a_band, b_band
        ``(B, r + 2, w + 2)`` the coefficients of those rows with a one-pixel halo all
        round, replicated at the scan's borders (as the network's own input).
    """
    return upsample_halo_band(a_band, scale) * maps + upsample_halo_band(b_band, scale)
