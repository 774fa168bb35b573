"""Guided-filter baseline: upsample each map, then filter it with the photo as the guide.

Reference: K. He, J. Sun and X. Tang, "Guided Image Filtering", ECCV 2010 and
IEEE TPAMI 35(6), 2013. In every ``(2r+1) x (2r+1)`` window the output is a linear
function of the guide, ``q = a^T I + b``, whose coefficients minimise
``sum (a^T I + b - p)^2 + eps |a|^2`` over the window; the per-pixel output averages
the coefficients of all windows that cover it. For a colour guide ``a`` solves the
3 x 3 system ``(Sigma + eps Id) a = cov(I, p)`` (the paper's Eq. for colour guides).

Here ``p`` is the bicubic (or bilinear) upsampling of an element map and ``I`` the
photo (colour, or its luminance for ``guide="gray"``). All window means are box
filters computed with cumulative sums (O(N), independent of ``r``), with windows
clipped at the borders (each mean divides by the number of pixels inside). Every
element shares the guide statistics, so they are computed once and the filter is
vectorised over elements.

Our choices (the paper has no XRF setting): ``r = s`` (a window spans about two
scan pixels, enough for the linear model to find the photo's edge inside a block)
and ``eps = 1e-3`` (guide in ``[0, 1]``: edges with contrast above about 0.03 are
kept, fainter texture is smoothed away), then the exact projection onto the scan.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from napari_maxrf_sr.baselines.interpolation import (
    check_inputs,
    finish,
    normalise_maps,
    upsample_np,
)
from napari_maxrf_sr.core.calibration import box_mean
from napari_maxrf_sr.core.operators import AcquisitionOperator
from napari_maxrf_sr.errors import InputError

__all__ = ["box_mean", "guided", "guided_filter_color", "guided_filter_gray"]

#: ITU-R BT.601 luma weights, for the grey guide.
_LUMA = np.array([0.299, 0.587, 0.114])
#: Working memory (bytes) of one chunk of elements filtered at once; the (K, 3, H, W)
#: float64 covariances dominate it.
_CHUNK_BYTES = 256 * 2**20


def guided_filter_gray(guide: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Grey-guide guided filter of ``p`` ``(K, H, W)`` with guide ``(H, W)``."""
    mean_i = box_mean(guide, r)
    var_i = box_mean(guide * guide, r) - mean_i**2
    mean_p = box_mean(p, r)
    cov_ip = box_mean(guide[None] * p, r) - mean_i[None] * mean_p
    a = cov_ip / (var_i[None] + eps)
    b = mean_p - a * mean_i[None]
    return box_mean(a, r) * guide[None] + box_mean(b, r)


def _colour_stats(guide: np.ndarray, r: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Window means of the guide ``(3, H, W)`` and ``(Sigma + eps Id)^-1`` ``(H, W, 3, 3)``."""
    mean_i = box_mean(guide, r)
    prods = guide[:, None] * guide[None, :]  # (3, 3, H, W)
    sigma = box_mean(prods, r) - mean_i[:, None] * mean_i[None, :]
    sigma = np.moveaxis(sigma, (0, 1), (-2, -1)) + eps * np.eye(3)
    return mean_i, np.linalg.inv(sigma)


def guided_filter_color(guide: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Colour-guide guided filter of ``p`` ``(K, H, W)`` with guide ``(3, H, W)``."""
    mean_i, inv_sigma = _colour_stats(guide, r, eps)
    out = np.empty(p.shape, dtype=np.float64)
    chunk = max(1, min(p.shape[0], _CHUNK_BYTES // (3 * 8 * p.shape[-1] * p.shape[-2])))
    for k0 in range(0, p.shape[0], chunk):
        pk = np.asarray(p[k0 : k0 + chunk], dtype=np.float64)
        mean_p = box_mean(pk, r)  # (K, H, W)
        cov = box_mean(guide[None] * pk[:, None], r) - mean_i[None] * mean_p[:, None]
        # a = (Sigma + eps Id)^-1 cov, per pixel and element: (K, 3, H, W)
        a = np.einsum("hwij,kjhw->kihw", inv_sigma, cov, optimize=True)
        b = mean_p - np.einsum("kihw,ihw->khw", a, mean_i)
        out[k0 : k0 + chunk] = np.einsum("kihw,ihw->khw", box_mean(a, r), guide) + box_mean(b, r)
    return out


def guided(
    lr_maps: np.ndarray,
    rgb: np.ndarray,
    scale: int,
    *,
    op: AcquisitionOperator | None = None,
    seed: int = 0,
    radius: int | None = None,
    eps: float = 1e-3,
    guide: Literal["color", "gray"] = "color",
    upsample: Literal["bicubic", "bilinear"] = "bicubic",
    project: bool = True,
) -> np.ndarray:
    """Guided filter (He et al.) of the upsampled maps, guided by the photo.

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` float32 element maps, ``>= 0``, any units.
    rgb
        ``(H, W, 3)`` photo in ``[0, 1]``.
    scale
        Integer ratio ``H / h``.
    op
        Acquisition operator (default: ``s x s`` block mean), used by the projection.
    seed
        Unused (the method is deterministic); kept for the common signature.
    radius
        Window radius ``r`` in photo pixels; default ``max(1, scale)``.
    eps
        Regularisation ``eps > 0`` (in squared guide units, guide in ``[0, 1]``):
        smaller keeps fainter photo edges.
    guide
        ``"color"`` (3 x 3 covariance, the paper's colour filter) or ``"gray"`` (luminance).
    upsample
        How the maps are brought to the photo's grid before filtering.
    project
        Finish with the exact non-negative projection onto the scan.

    Returns
    -------
    numpy.ndarray
        ``(B, H, W)`` float32, ``>= 0``, in the units of ``lr_maps``.
    """
    maps, photo, s, op = check_inputs(lr_maps, rgb, scale, op)
    r = max(1, s) if radius is None else radius
    if isinstance(r, bool) or int(r) != r or r < 1:
        raise InputError(f"radius must be a whole number >= 1, got {radius!r}")
    if not (np.isfinite(eps) and eps > 0):
        raise InputError(f"eps must be a positive number, got {eps!r}")
    if guide not in ("color", "gray"):
        raise InputError(f"guide must be 'color' or 'gray', got {guide!r}")
    norm, peaks = normalise_maps(maps)
    p = upsample_np(norm, s, upsample)
    img = np.moveaxis(photo, -1, 0).astype(np.float64)
    if guide == "color":
        q = guided_filter_color(img, p, int(r), float(eps))
    else:
        q = guided_filter_gray(np.tensordot(_LUMA, img, axes=1), p, int(r), float(eps))
    return finish(q.astype(np.float32), peaks, maps, op, project=bool(project))
