"""Random textures for the synthetic painting: smooth noise, brush strokes, canvas weave.

All functions take a ``numpy.random.Generator`` so results are reproducible, and
return float32 arrays of the requested ``(H, W)`` shape.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, zoom


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-filtered white noise with correlation length ``sigma``.

    Large ``sigma`` is computed on a coarser grid and zoomed up (same look, much faster).
    """
    h, w = shape
    step = max(1, int(sigma // 4))
    small = (max(2, -(-h // step)), max(2, -(-w // step)))
    n = gaussian_filter(rng.standard_normal(small), sigma / step, mode="wrap")
    if step > 1:
        n = zoom(n, (h / small[0], w / small[1]), order=1, grid_mode=True, mode="grid-wrap")
        n = n[:h, :w]
    n = n - n.mean()
    return (n / max(float(n.std()), 1e-12)).astype(np.float32)


def brush_strokes(
    rng: np.random.Generator, shape: tuple[int, int], length: float, width: float
) -> np.ndarray:
    """Stroke-like texture: noise smeared along strokes whose direction varies smoothly.

    Horizontal and vertical streaks are blended by a smooth random field, which
    looks like brush work at a fraction of the cost of rotated kernels.
    """
    horiz = gaussian_filter(rng.standard_normal(shape), (width, length), mode="wrap")
    vert = gaussian_filter(rng.standard_normal(shape), (length, width), mode="wrap")
    horiz /= max(float(horiz.std()), 1e-12)
    vert /= max(float(vert.std()), 1e-12)
    mix = 1.0 / (1.0 + np.exp(-2.0 * smooth_noise(rng, shape, 4 * length)))
    out = mix * horiz + (1.0 - mix) * vert
    out -= out.mean()
    return (out / max(float(out.std()), 1e-12)).astype(np.float32)


def canvas_weave(rng: np.random.Generator, shape: tuple[int, int], period: float) -> np.ndarray:
    """Plain-weave canvas relief in ``[0, 1]`` (1 on top of a thread).

    Threads are ``period`` pixels apart with a slowly wandering spacing (hand-spun
    threads are not regular); warp and weft pass over each other in a checkerboard.
    """
    h, w = shape
    y = np.arange(h, dtype=np.float64)[:, None]
    x = np.arange(w, dtype=np.float64)[None, :]
    px = (x + 0.35 * period * smooth_noise(rng, shape, 6 * period)) / period
    py = (y + 0.35 * period * smooth_noise(rng, shape, 6 * period)) / period
    warp = np.abs(np.sin(np.pi * px))  # vertical threads, across x
    weft = np.abs(np.sin(np.pi * py))  # horizontal threads, across y
    over = (np.floor(px) + np.floor(py)) % 2 == 0
    return np.where(over, warp, weft).astype(np.float32)
