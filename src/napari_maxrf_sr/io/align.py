"""Bringing the photo onto the scan's grid from matching point pairs (no Qt).

Points are ``(row, col)``, as in napari. The photo is resampled so that it is
exactly ``s`` times the maps' size and LR pixel ``(i, j)`` lies over the HR
block ``[s*i : s*i+s, s*j : s*j+s]``: a point at LR coordinate ``lr`` lands at
HR coordinate ``s * lr + (s - 1) / 2`` (pixel centres).
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from ..errors import InputError

TransformKind = Literal["similarity", "affine"]
_MIN_PAIRS = {"similarity": 3, "affine": 3}
OUTSIDE_WARN_FRACTION = 0.01


def _points(pts, name: str) -> np.ndarray:
    arr = np.asarray(pts, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise InputError(f"The {name} must be an (N, 2) array of (row, col), got {arr.shape}.")
    arr = arr[:, -2:]  # napari may give (..., row, col) for nD layers
    if not np.isfinite(arr).all():
        raise InputError(f"The {name} contain NaN or infinite coordinates.")
    return arr


def fit_transform(src_points, dst_points, kind: TransformKind = "similarity"):
    """Fit the transform that maps ``src_points`` onto ``dst_points``.

    Parameters
    ----------
    src_points, dst_points
        ``(N, 2)`` ``(row, col)`` coordinates of the same features, in the same
        order. At least 3 pairs.
    kind
        ``"similarity"`` (rotation, uniform scale, shift: use for a photo taken
        square-on) or ``"affine"`` (also shear and unequal scales).

    Returns
    -------
    transform, info
        A :mod:`skimage.transform` transform working on ``(x, y) = (col, row)``
        coordinates (as :func:`skimage.transform.warp` expects), and a dict with
        ``residuals`` (distance per pair, in destination pixels), ``rms`` and
        ``max`` residual, ``kind`` and ``n_pairs``.
    """
    from skimage import transform as tf

    if kind not in _MIN_PAIRS:
        raise InputError(f"kind must be 'similarity' or 'affine', got {kind!r}.")
    src = _points(src_points, "source points")
    dst = _points(dst_points, "destination points")
    if len(src) != len(dst):
        raise InputError(
            f"{len(src)} points on one image but {len(dst)} on the other: place the same "
            "features on both, in the same order."
        )
    need = _MIN_PAIRS[kind]
    if len(src) < need:
        raise InputError(
            f"{len(src)} point pair(s) given; a {kind} fit needs at least {need} (more, spread "
            "over the whole picture, give a better fit)."
        )
    model = tf.SimilarityTransform if kind == "similarity" else tf.AffineTransform
    src_xy, dst_xy = src[:, ::-1], dst[:, ::-1]
    if hasattr(model, "from_estimate"):  # scikit-image >= 0.26
        tform = model.from_estimate(src_xy, dst_xy)
        ok = bool(tform)
    else:  # pragma: no cover - older scikit-image
        tform = model()
        ok = tform.estimate(src_xy, dst_xy)
    if not ok or not np.isfinite(tform.params).all():
        raise InputError(
            "The points do not determine a transform (are they all on one line, or "
            "repeated?). Pick at least 3 distinct features spread over the picture."
        )
    residuals = np.hypot(*(tform(src_xy) - dst_xy).T)
    info = {
        "kind": kind,
        "n_pairs": int(len(src)),
        "residuals": residuals.tolist(),
        "rms": float(np.sqrt(np.mean(residuals**2))),
        "max": float(residuals.max()),
    }
    return tform, info


def lr_to_hr(points, scale: int) -> np.ndarray:
    """LR pixel coordinates -> HR photo-grid coordinates: ``s * lr + (s - 1) / 2``."""
    return np.asarray(points, dtype=np.float64) * scale + (scale - 1) / 2.0


def hr_to_lr(points, scale: int) -> np.ndarray:
    """Inverse of :func:`lr_to_hr`."""
    return (np.asarray(points, dtype=np.float64) - (scale - 1) / 2.0) / scale


def _align_inputs(photo, map_shape, scale) -> tuple[int, int, int, np.ndarray]:
    """Scale, map size and photo (alpha dropped) for :func:`align_photo`, checked."""
    from ..registration.inputs import check_scale  # here: the package loads torch

    s = check_scale(scale)
    if s is None:
        raise InputError("Give the scale: a whole number >= 1 (photo pixels per scan pixel).")
    h, w = (int(n) for n in map_shape[-2:])
    if h < 1 or w < 1:
        raise InputError(f"The map shape must be positive, got {tuple(map_shape)}.")
    img = np.asarray(photo)
    if img.ndim == 3 and img.shape[-1] == 4:
        img = img[..., :3]
    if img.ndim not in (2, 3):
        raise InputError(f"The photo must be (H, W, 3), got shape {img.shape}.")
    return s, h, w, img


def align_photo(
    photo: np.ndarray,
    photo_points,
    map_points,
    map_shape: tuple[int, int],
    scale: int,
    kind: TransformKind = "similarity",
    *,
    order: int = 1,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Resample the photo onto the scan's grid, ``scale`` times the maps' size.

    Parameters
    ----------
    photo
        ``(H', W', 3)`` (or ``(H', W')``) photo in any size and orientation; an
        alpha channel is dropped.
    photo_points
        ``(N, 2)`` ``(row, col)`` of features in the photo's pixels.
    map_points
        The same features, same order, in LR map pixels ``(row, col)``.
    map_shape
        ``(h, w)`` of the maps.
    scale
        Whole-number factor ``s``; the output is ``(s*h, s*w, 3)``.
    kind
        ``"similarity"`` or ``"affine"``.
    order
        Interpolation order (1 = bilinear).

    Returns
    -------
    aligned, info
        The aligned photo with the input's dtype and a dict with the fit's
        ``residuals``/``rms`` (photo pixels), ``matrix`` (HR grid -> photo,
        homogeneous ``(x, y)``) and ``outside_fraction``, the share of the output
        that had no photo under it (filled with 0; warned about above 1%).
    """
    from skimage.transform import warp

    s, h, w, img = _align_inputs(photo, map_shape, scale)
    hr_points = lr_to_hr(_points(map_points, "map points"), s)
    # warp wants the inverse map: output (HR grid) coordinates -> input (photo) coordinates
    tform, info = fit_transform(hr_points, _points(photo_points, "photo points"), kind)
    out_shape = (s * h, s * w)
    channels = [img] if img.ndim == 2 else [img[..., c] for c in range(img.shape[-1])]
    warped = [
        warp(c, tform, output_shape=out_shape, order=order, preserve_range=True, cval=0)
        for c in channels
    ]
    out = warped[0] if img.ndim == 2 else np.stack(warped, axis=-1)
    if np.issubdtype(img.dtype, np.integer):
        lim = np.iinfo(img.dtype)
        out = np.clip(np.rint(out), lim.min, lim.max)
    out = out.astype(img.dtype, copy=False)
    inside = warp(
        np.ones(img.shape[:2], dtype=np.float32), tform, output_shape=out_shape, order=0, cval=0
    )
    outside = float(1.0 - inside.mean())
    info.update(
        {
            "matrix": np.asarray(tform.params).tolist(),
            "outside_fraction": outside,
            "output_shape": [*out_shape, *img.shape[2:]],
            "scale": s,
        }
    )
    if outside > OUTSIDE_WARN_FRACTION:
        warnings.warn(
            f"{outside:.1%} of the aligned photo lies outside the original photo and is "
            "black. Check the point pairs, or crop the maps to the area the photo covers.",
            UserWarning,
            stacklevel=2,
        )
    return out, info


def check_grid(lr_shape: tuple[int, int], hr_shape: tuple[int, int]) -> int | None:
    """Whole-number scale between maps and photo, or ``None`` with a warning saying what to do.

    Parameters
    ----------
    lr_shape, hr_shape
        ``(h, w)`` of the maps and ``(H, W)`` of the photo (extra trailing or
        leading axes are ignored: only the last two of ``lr_shape`` and the first
        two of ``hr_shape`` count).
    """
    h, w = (int(n) for n in tuple(lr_shape)[-2:])
    big_h, big_w = (int(n) for n in tuple(hr_shape)[:2])
    fy, fx = Fraction(big_h, h), Fraction(big_w, w)
    if fy == fx and fy.denominator == 1 and fy >= 1:
        return int(fy)
    warnings.warn(
        f"The photo ({big_h} x {big_w}) is not a whole-number multiple of the maps "
        f"({h} x {w}): ratios {float(fy):.3f} (rows) and {float(fx):.3f} (columns). "
        "If the photo already covers exactly the scanned area, crop or resize it to "
        f"{round(float(fy)) * h} x {round(float(fy)) * w}; otherwise align it with point "
        "pairs (napari_maxrf_sr.io.align_photo, or the 'Align photo to the scan' widget).",
        UserWarning,
        stacklevel=2,
    )
    return None
