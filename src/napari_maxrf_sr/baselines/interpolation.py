"""Interpolation baselines, and the plumbing every baseline shares.

``bicubic`` is plain bicubic upsampling (Keys, "Cubic convolution interpolation for
digital image processing", IEEE TASSP 1981), through ``torch.nn.functional.interpolate``
with the package's block-centre pixel convention. ``bicubic_projected`` adds the
exact projection onto the maps that agree with the scan (see
:func:`napari_maxrf_sr.core.operators.project_np`), the same last step that the
main method takes, so the two differ only in what the photo contributes.

The shared helpers (:func:`check_inputs`, :func:`normalise_maps`, :func:`finish`,
:func:`down_np`) live here because every other baseline module imports this one.
"""

from __future__ import annotations

import numpy as np
import torch

from napari_maxrf_sr.core.operators import (
    AcquisitionOperator,
    project_np,
    upsample_bicubic_np,
    upsample_bilinear_np,
)
from napari_maxrf_sr.errors import InputError

__all__ = [
    "bicubic",
    "bicubic_projected",
    "check_inputs",
    "down_np",
    "finish",
    "normalise_maps",
    "upsample_np",
]


# -- shared plumbing -------------------------------------------------------------------
def check_inputs(
    lr_maps: np.ndarray, rgb: np.ndarray, scale: int, op: AcquisitionOperator | None
) -> tuple[np.ndarray, np.ndarray, int, AcquisitionOperator]:
    """Validate the common arguments of every baseline and return them in working form.

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` non-negative, finite element maps.
    rgb
        ``(H, W, 3)`` photo in ``[0, 1]`` with ``H = scale * h``, ``W = scale * w``.
    scale
        Whole-number ratio between the grids.
    op
        Acquisition operator, or ``None`` for the ``s x s`` block mean.

    Returns
    -------
    lr_maps, rgb, scale, op
        float32 copies, the scale as ``int`` and the operator.

    Raises
    ------
    InputError
        If a shape, value or the scale does not fit (a ``ValueError``).
    """
    try:
        s = int(scale)
        whole = not isinstance(scale, bool) and s == scale and s >= 1
    except (TypeError, ValueError):
        whole = False
    if not whole:
        raise InputError(
            f"scale must be a positive whole number (photo size / map size), got {scale!r}"
        )
    op = AcquisitionOperator(s) if op is None else op
    if op.scale != s:
        raise InputError(
            f"The operator's scale ({op.scale}) differs from scale ({s}); "
            "pass op=AcquisitionOperator(scale) or leave op out."
        )
    maps = np.asarray(lr_maps, dtype=np.float32)
    photo = np.asarray(rgb, dtype=np.float32)
    if maps.ndim != 3 or maps.shape[0] < 1 or min(maps.shape[1:]) < 1:
        raise InputError(
            f"lr_maps must be shaped (B, h, w), got {maps.shape}; "
            "add a leading axis for a single map (maps[None])."
        )
    _, h, w = maps.shape
    if photo.shape != (s * h, s * w, 3):
        raise InputError(
            f"rgb must be shaped ({s * h}, {s * w}, 3) for maps of {h} x {w} at scale {s}, "
            f"got {photo.shape}; crop or resample the photo (or the maps) so that the "
            "photo is exactly scale times larger."
        )
    if not np.isfinite(maps).all() or (maps < 0).any():
        raise InputError(
            "lr_maps must be finite and non-negative; replace NaNs (np.nan_to_num) and "
            "clip negatives (np.maximum(maps, 0))."
        )
    if not np.isfinite(photo).all() or photo.min() < 0 or photo.max() > 1:
        raise InputError(
            "rgb must be finite with values in [0, 1]; convert it with "
            "napari_maxrf_sr.core.photo_pixels.check_rgb."
        )
    return maps, photo, s, op


def normalise_maps(lr_maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide every map by its maximum so that all elements weigh the same.

    Returns
    -------
    maps, peaks
        The maps in ``[0, 1]`` (float32) and the ``(B,)`` peaks (1 for an all-zero map).
    """
    peaks = lr_maps.reshape(lr_maps.shape[0], -1).max(axis=1).astype(np.float64)
    peaks[~(peaks > 0)] = 1.0
    return (lr_maps / peaks[:, None, None]).astype(np.float32), peaks


def finish(
    hr_norm: np.ndarray,
    peaks: np.ndarray,
    lr_maps: np.ndarray,
    op: AcquisitionOperator,
    *,
    project: bool,
) -> np.ndarray:
    """Undo the normalisation, optionally project onto the scan, return ``>= 0`` float32.

    The projection is done in the input's units against the input itself, so that
    ``U(answer) == lr_maps`` holds to float precision (block operator).
    """
    out = (hr_norm.astype(np.float64) * peaks[:, None, None]).astype(np.float32)
    if project:
        out = project_np(out, lr_maps, op, nonnegative=True)
    # The block projection is already >= 0; this only trims what the iterative
    # (Gaussian-beam) projection may leave, and clipping of unprojected estimates.
    return np.ascontiguousarray(np.maximum(out, 0.0), dtype=np.float32)


def down_np(x: np.ndarray, op: AcquisitionOperator) -> np.ndarray:
    """Apply the acquisition operator ``U`` to ``(..., H, W)`` NumPy arrays (float32)."""
    with torch.no_grad():
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return op.down(t).numpy()


def upsample_np(x: np.ndarray, scale: int, mode: str) -> np.ndarray:
    """Bilinear or bicubic upsampling of ``(..., h, w)`` arrays (bicubic may overshoot)."""
    if mode == "bilinear":
        return upsample_bilinear_np(x, scale)
    if mode == "bicubic":
        return upsample_bicubic_np(x, scale)
    raise InputError(f"upsample must be 'bilinear' or 'bicubic', got {mode!r}")


# -- the baselines -----------------------------------------------------------------------
def bicubic(
    lr_maps: np.ndarray,
    rgb: np.ndarray,
    scale: int,
    *,
    op: AcquisitionOperator | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Bicubic upsampling of every map, negatives (overshoot) set to zero; ignores the photo.

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` float32 element maps, ``>= 0``, any units.
    rgb
        ``(H, W, 3)`` photo in ``[0, 1]`` (only its shape is checked).
    scale
        Integer ratio ``H / h``.
    op
        Acquisition operator (only its scale is checked here).
    seed
        Unused (the method is deterministic); kept for the common signature.

    Returns
    -------
    numpy.ndarray
        ``(B, H, W)`` float32, ``>= 0``, in the units of ``lr_maps``.
    """
    maps, _, s, op = check_inputs(lr_maps, rgb, scale, op)
    norm, peaks = normalise_maps(maps)
    return finish(upsample_np(norm, s, "bicubic"), peaks, maps, op, project=False)


def bicubic_projected(
    lr_maps: np.ndarray,
    rgb: np.ndarray,
    scale: int,
    *,
    op: AcquisitionOperator | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Bicubic upsampling followed by the exact, non-negative projection onto the scan.

    Same parameters as :func:`bicubic`; the answer's block means (``U`` of it)
    equal ``lr_maps`` exactly.
    """
    maps, _, s, op = check_inputs(lr_maps, rgb, scale, op)
    norm, peaks = normalise_maps(maps)
    return finish(upsample_np(norm, s, "bicubic"), peaks, maps, op, project=True)
