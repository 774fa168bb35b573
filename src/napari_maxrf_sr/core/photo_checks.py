"""Checks on the photo: shape, alpha, pixel type and values, each with what to do.

Part of :mod:`.validation` (which re-exports these names); no torch.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .photo import PhotoPixels


def check_rgb(rgb, *, name: str = "photo") -> tuple[np.ndarray, list[str]]:
    """Validate an RGB photo and return it as ``(H, W, 3)`` float32 in ``[0, 1]``.

    uint8 and uint16 are scaled by their range; float must already lie in
    ``[0, 1]``. A fully opaque alpha channel is dropped with a note; a
    transparent one is refused (the colour under it is undefined).
    """
    raw, notes = check_rgb_pixels(rgb, name=name)
    return np.ascontiguousarray(np.asarray(PhotoPixels(raw))), notes


def check_rgb_pixels(rgb, *, name: str = "photo") -> tuple[np.ndarray, list[str]]:
    """Validate an RGB photo as :func:`check_rgb` does, without converting it.

    Returns
    -------
    raw, notes
        ``(H, W, 3)`` uint8 or uint16 (a view of the input where possible), or
        float32 in ``[0, 1]``; and notes on what was changed.
    """
    notes: list[str] = []
    arr = _photo_shape_checked(np.asarray(rgb), name)
    if arr.shape[-1] == 4:
        alpha = arr[..., 3]
        full = np.iinfo(arr.dtype).max if np.issubdtype(arr.dtype, np.integer) else 1.0
        if np.all(alpha == full):
            notes.append("the photo's alpha channel (fully opaque) was dropped")
            arr = arr[..., :3]
        else:
            raise InputError(
                f"The {name} has a transparent alpha channel; the colour under transparent "
                "pixels is undefined. Flatten it onto a background in an image editor, or "
                "drop alpha if it does not matter: rgb[..., :3]."
            )
    if arr.dtype in (np.uint8, np.uint16):
        return arr, notes
    if np.issubdtype(arr.dtype, np.floating):
        return _float_photo(arr, name), notes
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            f"The {name} has pixel type {arr.dtype}; use 8-bit (uint8), 16-bit (uint16) "
            "or floating point in [0, 1]."
        )
    raise InputError(
        f"The {name} has an unsupported pixel type {arr.dtype}; convert it to 8-bit "
        "(uint8), 16-bit (uint16) or floating point in [0, 1]."
    )


def _photo_shape_checked(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` if it is shaped like a colour photo ``(H, W, 3 or 4)``, else a clear error."""
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] not in (3, 4):
        raise InputError(
            f"The {name} has shape {arr.shape}: channels first. "
            "Give it as (H, W, 3): np.moveaxis(rgb, 0, -1)."
        )
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 1):
        raise InputError(
            f"The {name} is a single-channel (grey) image of shape {arr.shape}. "
            "The method needs a colour (RGB) photo; if only a grey image exists, stack it "
            "three times: np.stack([grey] * 3, axis=-1)."
        )
    if arr.ndim == 4 and arr.shape[0] == 1 and arr.shape[-1] in (3, 4):
        raise InputError(
            f"The {name} has shape {arr.shape}: a stack of one image. Give the image "
            "itself, shaped (H, W, 3): rgb[0]."
        )
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise InputError(
            f"The {name} must be an (H, W, 3) RGB image, got shape {arr.shape}. Give a "
            "colour photo (PNG, JPEG or TIFF) shaped (rows, columns, 3)."
        )
    if arr.size == 0:
        raise InputError(
            f"The {name} is empty (shape {arr.shape}): load the photo again, or check the "
            "crop that produced it."
        )
    return arr


def _float_photo(arr: np.ndarray, name: str) -> np.ndarray:
    """A float photo as float32, if its values are finite and in ``[0, 1]``."""
    out = arr.astype(np.float32, copy=False)
    n_bad = sum(int((~np.isfinite(band)).sum()) for band in _row_bands(arr))
    if n_bad:
        raise InputError(
            f"The {name} contains {n_bad} NaN or infinite "
            "values. Replace them, e.g. np.nan_to_num(rgb, nan=0.0, posinf=1.0), or "
            "export the photo again."
        )
    lo, hi = float(out.min()), float(out.max())
    if lo < 0 or hi > 1:
        hint = (
            "it looks like 0-255 values: divide by 255"
            if hi <= 255
            else "it looks like 16-bit values: divide by 65535"
            if hi <= 65535
            else "rescale it to [0, 1]"
        )
        raise InputError(
            f"A floating-point {name} must have values in [0, 1]; this one spans "
            f"[{lo:.4g}, {hi:.4g}] ({hint})."
        )
    return out


def _row_bands(arr: np.ndarray, rows: int = 1024):
    """Bands of rows, so that a check on a huge image makes no full-size temporary."""
    for r0 in range(0, arr.shape[0], rows):
        yield arr[r0 : r0 + rows]
