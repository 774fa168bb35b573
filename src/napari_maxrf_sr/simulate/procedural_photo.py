"""A procedural, painting-like RGB photo (so that no image has to be downloaded).

A small landscape: sky with clouds, hills, ochre foreground, a tree, a figure in a
vermilion robe with red-lake folds, a haloed head and dark hair, and a dark
doorway. Colours come from historical pigments so that the colour clustering of
:mod:`.painting` finds them again; brush-stroke texture and a little noise make
it look painted rather than flat.
"""

from __future__ import annotations

import numpy as np

from .textures import brush_strokes, smooth_noise


def _soft(sd: np.ndarray, width: float = 1.0) -> np.ndarray:
    """Anti-aliased coverage ``[0, 1]`` from a signed distance (negative inside)."""
    return np.clip(0.5 - sd / max(width, 1e-6), 0.0, 1.0)


def _ellipse_sd(y, x, cy, cx, ry, rx, angle=0.0):
    """Approximate signed distance (pixels) to an ellipse, negative inside."""
    c, s = np.cos(angle), np.sin(angle)
    u = (x - cx) * c + (y - cy) * s
    v = -(x - cx) * s + (y - cy) * c
    r = np.sqrt((u / rx) ** 2 + (v / ry) ** 2)
    return (r - 1.0) * min(rx, ry)


def _paint(canvas: np.ndarray, cover: np.ndarray, colour) -> None:
    """Alpha-blend ``colour`` (an RGB triple or an ``(H, W, 3)`` array) over ``canvas``."""
    col = np.asarray(colour, dtype=np.float32)
    a = cover[..., None]
    canvas *= 1.0 - a
    canvas += a * (col / 255.0 if col.ndim == 1 else col)


def procedural_photo(size: tuple[int, int] = (256, 256), seed: int = 0) -> np.ndarray:
    """Render the built-in synthetic painting photo.

    Parameters
    ----------
    size
        ``(H, W)`` in pixels (at least 16 x 16).
    seed
        Seed of the random layout jitter and textures.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` uint8 RGB image.
    """
    h, w = int(size[0]), int(size[1])
    if h < 16 or w < 16:
        from ..errors import InputError

        raise InputError(f"size must be at least (16, 16), got {size!r}; ask for a larger image.")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x9407]))
    m = float(min(h, w))
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    yy, xx = np.broadcast_arrays(y, x)
    j = rng.uniform(-1, 1, size=8).astype(np.float32)  # layout jitter
    aa = max(1.0, m / 256.0)  # edge softness grows with resolution

    img = np.zeros((h, w, 3), dtype=np.float32)

    # Sky: deep azurite blue at the top fading to a pale, white-mixed blue.
    horizon = h * (0.48 + 0.04 * j[0]) + 0.05 * h * np.sin(2 * np.pi * x / w * 1.3 + j[1])
    t = np.clip(y / np.maximum(horizon, 1.0), 0, 1)[..., None]
    top = np.array([56, 92, 166], np.float32) / 255
    low = np.array([140, 164, 204], np.float32) / 255
    img[:] = top * (1 - t) + low * t
    clouds = smooth_noise(rng, (h, w), m / 14) + 0.6 * smooth_noise(rng, (h, w), m / 40)
    cloud_cover = np.clip((clouds - 0.9) * 1.5, 0, 1) * (y < horizon * 0.85)
    _paint(img, cloud_cover.astype(np.float32), (236, 232, 222))

    # Hills (green earth / malachite, hazy) and the ochre foreground.
    hills_top = horizon - 0.06 * h * (1 + np.sin(2 * np.pi * x / w * 2.1 + j[2]))
    _paint(img, _soft(hills_top - y, aa), (84, 124, 86))
    ground_top = h * (0.62 + 0.03 * j[3]) + 0.02 * h * np.sin(2 * np.pi * x / w * 0.7 + j[4])
    depth = np.clip((y - ground_top) / (h - ground_top + 1), 0, 1)[..., None]
    earth = (np.array([198, 150, 66], np.float32) * (1 - depth ** 3)
             + np.array([104, 78, 52], np.float32) * depth ** 3) / 255
    _paint(img, _soft(ground_top - y, aa), earth)
    # A sunlit lead-tin yellow meadow and a red-ochre path.
    meadow = np.maximum(ground_top - y, y - ground_top - 0.11 * h
                        - 0.02 * h * np.sin(2 * np.pi * x / w * 3.0 + j[5]))
    _paint(img, _soft(meadow, aa), (240, 212, 80))
    centre = w * (0.1 + 0.03 * j[6]) + 0.6 * (h - y) * (w / h)
    path = np.abs(x - centre) - 0.01 * w - 0.12 * (y - ground_top)
    _paint(img, _soft(np.maximum(path, ground_top + 0.11 * h - y), aa), (150, 62, 42))

    _tree_figure_and_door(img, y, x, yy, xx, h, w, m, j, aa)

    # Brush work: stroke texture modulates the lightness; fine grain on top.
    strokes = brush_strokes(rng, (h, w), length=max(3.0, m / 40), width=max(0.8, m / 400))
    img *= (1.0 + 0.04 * strokes)[..., None]
    img += 0.008 * rng.standard_normal((h, w, 3)).astype(np.float32)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _tree_figure_and_door(img: np.ndarray, y: np.ndarray, x: np.ndarray, yy: np.ndarray,
                          xx: np.ndarray, h: int, w: int, m: float, j: np.ndarray,
                          aa: float) -> None:
    """Paint the tree, the figure and the doorway over the landscape in ``img``.

    ``y``, ``x`` are the pixel rows and columns (``(H, 1)``, ``(1, W)``), ``yy``, ``xx``
    the same broadcast to ``(H, W)``; ``m`` the shorter side, ``j`` the layout jitter,
    ``aa`` the edge softness.
    """
    # Tree: umber trunk and a malachite crown of overlapping blobs.
    tx = w * (0.2 + 0.04 * j[5])
    trunk = np.maximum(np.abs(x - tx) - 0.025 * w, -(y - h * 0.42))
    trunk = np.maximum(trunk, y - h * 0.72)
    _paint(img, _soft(trunk, aa), (104, 78, 52))
    for k, (dy, dx, r) in enumerate(((0.30, 0.0, 0.13), (0.36, -0.08, 0.09), (0.36, 0.08, 0.1))):
        sd = _ellipse_sd(yy, xx, h * dy, tx + w * dx, m * r * 0.85, m * r, 0.2 * k)
        shade = np.clip(0.8 + 0.4 * (yy - h * dy) / (m * r), 0.6, 1.2)[..., None]
        _paint(img, _soft(sd, aa), np.array([62, 140, 92], np.float32) / 255 / shade)

    # Figure: vermilion robe with red-lake folds, flesh head, lead-tin halo, black hair.
    fx, fy = w * (0.62 + 0.05 * j[6]), h * (0.5 + 0.03 * j[7])
    half = 0.12 * w + 0.45 * np.maximum(yy - fy, 0) * (w / h)
    robe = np.maximum(np.abs(xx - fx) - half * np.clip((yy - fy) / (0.4 * h), 0.25, 1),
                      np.maximum(fy - yy, yy - h * 0.93))
    _paint(img, _soft(robe, aa), (196, 44, 32))
    folds = 0.5 + 0.5 * np.sin((xx - fx) / (0.025 * w) + 0.6 * np.sin(yy / (0.05 * h)))
    fold_cover = _soft(robe, aa) * np.clip((folds - 0.45) * 4, 0, 1)
    _paint(img, fold_cover.astype(np.float32), (150, 26, 58))
    hy, hr = fy - 0.09 * h, 0.065 * m
    _paint(img, _soft(np.abs(_ellipse_sd(yy, xx, hy, fx, hr * 1.7, hr * 1.7)) - 0.018 * m, aa),
           (236, 206, 84))
    _paint(img, _soft(_ellipse_sd(yy, xx, hy, fx, hr * 1.15, hr), aa), (226, 182, 152))
    hair = np.maximum(_ellipse_sd(yy, xx, hy - 0.3 * hr, fx, hr * 1.0, hr * 1.1),
                      -(hy - 0.35 * hr - yy))
    _paint(img, _soft(hair, aa), (24, 22, 22))

    # A dark doorway on the right (bone black).
    dx0, dx1, dtop = w * 0.84, w * 0.97, h * 0.3
    rect = np.maximum(np.maximum(dx0 - xx, xx - dx1), np.maximum(dtop - yy, yy - h * 0.8))
    arch = _ellipse_sd(yy, xx, dtop, (dx0 + dx1) / 2, (dx1 - dx0) / 2, (dx1 - dx0) / 2)
    _paint(img, _soft(np.minimum(rect, arch), aa), (36, 33, 30))
