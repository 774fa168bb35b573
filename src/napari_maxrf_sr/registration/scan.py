"""The scan as the registration sees it: maps weighted by their noise, in a few components.

Each map is centred and divided by its noise level (estimated from the differences
between neighbouring pixels), so that a map counts by its signal-to-noise ratio, not
by its units; the weighted maps are then reduced to their main components (at most
``max_components``). The maps are read region by region and never copied whole.
"""

from __future__ import annotations

import numpy as np

_ROWS = 256  # rows of the scan read at a time


def _noise_sigma(m: np.ndarray) -> float:
    """Robust noise level of one map: MAD of the 4-neighbour Laplacian residual."""
    lap = m[1:-1, 1:-1] - 0.25 * (m[:-2, 1:-1] + m[2:, 1:-1] + m[1:-1, :-2] + m[1:-1, 2:])
    mad = float(np.median(np.abs(lap - np.median(lap))))
    return 1.4826 * mad / np.sqrt(1.25)


def block_mean(a: np.ndarray, d: int) -> np.ndarray:
    """``(..., H, W)`` -> ``(..., H//d, W//d)``, mean over ``d x d`` blocks."""
    if d == 1:
        return a
    *lead, h, w = a.shape
    h, w = h // d * d, w // d * d
    a = a[..., :h, :w]
    return a.reshape(*lead, h // d, d, w // d, d).mean(axis=(-3, -1))


class ScanData:
    """Noise-weighted principal components of the maps, at any block-mean level."""

    def __init__(self, maps: np.ndarray, max_components: int = 6):
        self.maps = maps
        b, h, w = maps.shape
        self.shape = (h, w)
        # noise and mean from a central crop of at most 512 x 512 (cheap on big scans)
        r0, c0 = max(0, (h - 512) // 2), max(0, (w - 512) // 2)
        crop = np.asarray(maps[:, r0 : r0 + 512, c0 : c0 + 512], dtype=np.float64)
        std = crop.std(axis=(1, 2))
        sigma = np.array([_noise_sigma(m) for m in crop])
        # noise-free (simulated, piecewise-constant) maps: fall back to a fraction of the spread
        sigma = np.maximum(sigma, 0.02 * std)
        keep = std > 0
        self.bands = np.flatnonzero(keep)
        self.sigma = sigma[keep]
        self.noise = self.sigma.copy()
        self.mean = np.array([float(np.mean(maps[i], dtype=np.float64)) for i in self.bands])
        self.max_components = max_components
        self._set_components()

    def _set_components(self) -> None:
        h, w = self.shape
        d = max(1, int(np.ceil(max(h, w) / 256)))
        small = self.weighted_level(d)  # read by bands of rows: no float64 copy of the scan
        flat = small.reshape(len(self.bands), -1)
        cov = flat @ flat.T / flat.shape[1]
        val, vec = np.linalg.eigh(cov)
        order = np.argsort(val)[::-1]
        val, vec = val[order], vec[:, order]
        n = int(np.sum(val > 1e-3 * val[0]))
        self.components = vec[:, : max(1, min(self.max_components, n))]  # (b, k)

    def weighted_level(self, d: int, noise_only: bool = False) -> np.ndarray:
        """``(b, h//d, w//d)``: the weighted maps (before the components) at level ``d``.

        ``noise_only``: weighted by their noise alone, not by :meth:`reweight`.
        """
        h, w = self.level_shape(d)
        return self._weighted_region(d, 0, h, 0, w, self.noise if noise_only else self.sigma)

    def _weighted_region(self, d: int, r0: int, r1: int, c0: int, c1: int,
                         sigma: np.ndarray) -> np.ndarray:
        """``(b, r1-r0, c1-c0)``: the maps block-meaned at level ``d``, centred, over ``sigma``.

        Read in bands of rows, so that a coarse level of a big scan never holds the
        region's full-resolution pixels in float64 at once.
        """
        out = np.empty((len(self.bands), r1 - r0, c1 - c0))
        step = max(1, _ROWS // d)
        for a0 in range(r0, r1, step):
            a1 = min(r1, a0 + step)
            raw = np.asarray(self.maps[self.bands, d * a0 : d * a1, d * c0 : d * c1],
                             np.float64)
            out[:, a0 - r0 : a1 - r0] = ((block_mean(raw, d) - self.mean[:, None, None])
                                         / sigma[:, None, None])
        return out

    def search_level(self, d: int, k: int = 6) -> np.ndarray:
        """``(k, h//d, w//d)``: the main components of the maps, each map counted alike.

        The maps are detrended (constant and quadratic in the position removed) and
        scaled to unit variance, so that the components follow the maps' shared
        structure, not their counts; each component is scaled to unit variance too.
        """
        from .search import detrended

        z = detrended(self.weighted_level(d))
        z /= np.maximum(z.std(axis=(1, 2)), 1e-12)[:, None, None]
        flat = z.reshape(len(z), -1)
        val, vec = np.linalg.eigh(flat @ flat.T)
        vec = vec[:, np.argsort(val)[::-1][: min(k, len(z))]]
        comp = np.einsum("bk,bhw->khw", vec, z)
        return comp / np.maximum(comp.std(axis=(1, 2)), 1e-12)[:, None, None]

    def reweight(self, factor: np.ndarray) -> None:
        """Divide each map's weight by ``factor`` (e.g. its misfit in noise units)."""
        self.sigma = self.sigma * np.maximum(np.asarray(factor, np.float64), 1.0)
        self._set_components()

    @property
    def n_components(self) -> int:
        """Components kept."""
        return self.components.shape[1]

    def region(self, d: int, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """``(k, r1-r0, c1-c0)`` components at block-mean level ``d`` (level pixels)."""
        z = self._weighted_region(d, r0, r1, c0, c1, self.sigma)
        return np.einsum("bk,bhw->khw", self.components, z)

    def level_shape(self, d: int) -> tuple[int, int]:
        """``(h//d, w//d)``."""
        return self.shape[0] // d, self.shape[1] // d
