"""napari sample data: a synthetic painting (photo, LR element maps and their truth).

Imports nothing from Qt; napari calls :func:`synthetic_painting` from the
File > Open Sample menu.
"""

from __future__ import annotations

import numpy as np


def _limits(data: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(data)), float(np.max(data))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def synthetic_painting(
    size: tuple[int, int] = (256, 256), scale: int = 4, n_elements: int = 7, seed: int = 0
) -> list[tuple]:
    """Layer data for a synthetic painting.

    Returns, in order: the photo ("Photo (synthetic)"), one LR map per element
    (named by element line, placed over the photo with ``scale=(s, s)`` and
    ``translate=((s-1)/2, (s-1)/2)``; only the first is visible, so the first view is
    one map, not a collage) and the hidden HR truth of each map ("<element> (truth)").

    Returns
    -------
    list of tuple
        napari ``LayerData`` tuples ``(data, kwargs, "image")``.
    """
    from ..simulate import make_synthetic_painting
    from .layer_style import MAP_BLENDING, element_colormap  # one style for all map layers

    p = make_synthetic_painting(size=size, scale=scale, n_elements=n_elements, seed=seed)
    s = p.scale
    off = (s - 1) / 2.0
    layers: list[tuple] = [
        (p.rgb, {"name": "Photo (synthetic)", "rgb": True,
                 "metadata": {"maxrf_sr": {"role": "photo"}}}, "image")
    ]
    for i, (name, lr) in enumerate(zip(p.elements, p.lr_maps, strict=True)):
        layers.append((lr, {
            "name": name,
            "scale": (s, s),
            "translate": (off, off),
            "colormap": element_colormap(name),
            "blending": MAP_BLENDING,
            "visible": i == 0,
            "contrast_limits": _limits(lr),
            "metadata": {"maxrf_sr": {"role": "lr_map", "element": name, "scale": s}},
        }, "image"))
    for name, hr in zip(p.elements, p.hr_maps, strict=True):
        layers.append((hr, {
            "name": f"{name} (truth)",
            "colormap": element_colormap(name),
            "blending": MAP_BLENDING,
            "contrast_limits": _limits(hr),
            "visible": False,
            "metadata": {"maxrf_sr": {"role": "truth", "element": name, "scale": s}},
        }, "image"))
    return layers
