"""Baseline super-resolution methods, for the benchmark and for comparison in the GUI.

Every method has the same signature::

    fn(lr_maps, rgb, scale, *, op=None, seed=0, **options) -> (B, H, W) float32 >= 0

with ``lr_maps`` ``(B, h, w)`` non-negative maps in any units, ``rgb`` the
``(H, W, 3)`` photo in ``[0, 1]`` and the answer in the units of ``lr_maps``.
No method sees ground truth or downloads anything.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from napari_maxrf_sr.baselines.cnmf import cnmf
from napari_maxrf_sr.baselines.dictionary import ssr, ssrcu
from napari_maxrf_sr.baselines.guided import guided
from napari_maxrf_sr.baselines.interpolation import bicubic, bicubic_projected
from napari_maxrf_sr.baselines.regression import colour_regression
from napari_maxrf_sr.errors import InputError

__all__ = ["BASELINE_HELP", "METHODS", "run_baseline"]

#: Name -> function, in the order a menu should list them.
METHODS: dict[str, Callable[..., np.ndarray]] = {
    "bicubic": bicubic,
    "bicubic_projected": bicubic_projected,
    "guided": guided,
    "colour_regression": colour_regression,
    "ssr": ssr,
    "ssrcu": ssrcu,
    "cnmf": cnmf,
}

#: One plain sentence per method, for tooltips.
BASELINE_HELP: dict[str, str] = {
    "bicubic": "Smooth bicubic enlargement of each map; ignores the photo.",
    "bicubic_projected": (
        "Bicubic enlargement, then corrected so that averaging it back over each scan "
        "pixel gives exactly the measured values; ignores the photo."
    ),
    "guided": (
        "Bicubic enlargement sharpened with a guided filter that copies the photo's "
        "edges, then made to agree exactly with the scan."
    ),
    "colour_regression": (
        "Each map as a quadratic function of the photo's colours, fitted on the scan's "
        "grid, plus the smooth part it misses; then agrees with the scan."
    ),
    "ssr": (
        "Learns pigment-like building blocks shared by the maps and the photo on the "
        "scan's grid, rebuilds every photo pixel from them, then agrees with the scan."
    ),
    "ssrcu": (
        "Like ssr, but some building blocks belong only to the maps (elements invisible "
        "in the photo) or only to the photo (colours without an element signature)."
    ),
    "cnmf": (
        "Coupled unmixing: splits maps and photo into shared components whose fine "
        "layout comes from the photo, then agrees with the scan."
    ),
}


def run_baseline(
    name: str, lr_maps: np.ndarray, rgb01: np.ndarray, scale: int, **kw
) -> np.ndarray:
    """Run the baseline called ``name`` (a key of :data:`METHODS`).

    Parameters
    ----------
    name
        Method name, e.g. ``"guided"``.
    lr_maps
        ``(B, h, w)`` non-negative maps, any units.
    rgb01
        ``(H, W, 3)`` photo in ``[0, 1]``.
    scale
        Integer ratio ``H / h``.
    **kw
        ``op``, ``seed`` and the method's own options.

    Returns
    -------
    numpy.ndarray
        ``(B, H, W)`` float32 maps, ``>= 0``, in the units of ``lr_maps``.

    Raises
    ------
    InputError
        For an unknown name (the message lists the valid ones) or unusable inputs.
    """
    fn = METHODS.get(name) if isinstance(name, str) else None
    if fn is None:
        raise InputError(f"Unknown baseline {name!r}; choose one of: {', '.join(METHODS)}.")
    return fn(lr_maps, rgb01, scale, **kw)
