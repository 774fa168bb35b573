"""napari sample data: a synthetic painting (photo, LR element maps and their truth).

Imports nothing from Qt; napari calls :func:`synthetic_painting` and
:func:`camera_painting` from the File > Open Sample menu.
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


#: The camera of :func:`camera_painting`: enlarged, turned (degrees), margin (pixels).
CAMERA_ZOOM, CAMERA_DEGREES, CAMERA_MARGIN = 1.37, 2.0, 40
#: The wall around the painting in the camera photo.
WALL = (72, 62, 52)


def camera_view(rgb: np.ndarray, zoom: float = CAMERA_ZOOM, degrees: float = CAMERA_DEGREES,
                margin: int = CAMERA_MARGIN) -> np.ndarray:
    """``rgb`` photographed again: enlarged, turned, with a wall around it (uint8)."""
    from ..registration.resample import warp_photo

    h, w = rgb.shape[:2]
    a = np.radians(degrees)
    lin = zoom * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    placed = corners @ lin.T
    lo, size = placed.min(axis=0), np.ptp(placed, axis=0)
    to_photo = np.eye(3)  # painting (x, y) -> camera (x, y)
    to_photo[:2, :2], to_photo[:2, 2] = lin, margin - lo
    cols, rows = (int(np.ceil(v)) + 2 * margin for v in size)
    out, _ = warp_photo(rgb, np.linalg.inv(to_photo), (rows, cols))
    yy, xx = np.mgrid[0:rows, 0:cols]
    src = np.stack([xx.ravel(), yy.ravel(), np.ones(xx.size)]).T @ np.linalg.inv(to_photo).T
    off = ((src[:, 0] < -0.5) | (src[:, 0] > w - 0.5) | (src[:, 1] < -0.5)
           | (src[:, 1] > h - 0.5)).reshape(rows, cols)
    out[off] = WALL
    return out


def camera_painting(seed: int = 0) -> list[tuple]:
    """The synthetic painting with a camera-style photo instead of an aligned one.

    The photo is enlarged 1.37 times, turned 2 degrees and has a margin (a wall around
    the painting), as a conservator's own photo has: try "Align automatically" in the
    "Align photo to the scan" widget on it. The maps and their truth are those of
    :func:`synthetic_painting`.
    """
    layers = synthetic_painting(seed=seed)
    rgb = layers[0][0]
    photo = (camera_view(rgb), {"name": "Photo (camera)", "rgb": True,
                                "metadata": {"maxrf_sr": {"role": "photo"}}}, "image")
    return [photo, *layers[1:]]
