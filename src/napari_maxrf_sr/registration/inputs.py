"""Checks on what the registration is given; every refusal says what to do."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

#: Smallest scan side (pixels) that carries enough structure to register against.
MIN_SCAN_SIDE = 16
#: Transform kinds, from the stiffest to the most flexible.
KINDS = ("similarity", "affine", "homography")


def check_maps(lr_maps) -> np.ndarray:
    """``(B, h, w)`` maps (a single ``(h, w)`` map is given a leading axis), finite.

    The array is not copied where it can be avoided: the registration reads it by
    bands and tiles.
    """
    arr = np.asarray(lr_maps)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(
            f"The element maps must be shaped (B, h, w), got {arr.shape}. If the element "
            "axis is last, use np.moveaxis(maps, -1, 0); drop extra axes of length 1 with "
            "np.squeeze(maps)."
        )
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"The element maps must hold numbers, got pixel type {arr.dtype}.")
    b, h, w = arr.shape
    if b < 1 or min(h, w) < MIN_SCAN_SIDE:
        raise InputError(
            f"The element maps are {b} x {h} x {w}; registering needs at least one map of "
            f"{MIN_SCAN_SIDE} x {MIN_SCAN_SIDE} pixels or more."
        )
    if np.issubdtype(arr.dtype, np.floating):
        for i, m in enumerate(arr):
            if not np.isfinite(m).all():
                raise InputError(
                    f"Element map {i + 1} contains NaN or infinite values. Replace them "
                    "(e.g. np.nan_to_num(maps)) or crop the maps to the scanned area."
                )
    if not any(float(np.ptp(m)) > 0 for m in arr):
        raise InputError(
            "Every element map is constant: there is no structure to register the photo "
            "against. Check that the right file was loaded."
        )
    return arr


def photo_range(dtype: np.dtype) -> float:
    """The value of full white in a photo of this pixel type."""
    if dtype == np.uint8:
        return 255.0
    if dtype == np.uint16:
        return 65535.0
    return 1.0


def check_photo(photo, *, name: str = "photo") -> np.ndarray:
    """``(H, W, 3)`` uint8, uint16 or float in ``[0, 1]``, finite; not copied.

    A fully opaque alpha channel is dropped (as everywhere in the package); a
    transparent one is refused.
    """
    arr = np.asarray(photo)
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] not in (3, 4):
        raise InputError(
            f"The {name} has shape {arr.shape}: channels first. Give it as (H, W, 3): "
            "np.moveaxis(photo, 0, -1)."
        )
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise InputError(
            f"The {name} must be an (H, W, 3) colour image, got shape {arr.shape}. A grey "
            "image can be stacked three times: np.stack([grey] * 3, axis=-1)."
        )
    if arr.dtype not in (np.uint8, np.uint16) and not np.issubdtype(arr.dtype, np.floating):
        raise InputError(
            f"The {name} has pixel type {arr.dtype}; use 8-bit (uint8), 16-bit (uint16) or "
            "floating point in [0, 1]."
        )
    if arr.shape[-1] == 4:
        full = photo_range(arr.dtype)
        if not np.all(arr[..., 3] == full):
            raise InputError(
                f"The {name} has a transparent alpha channel: the colour under transparent "
                "pixels is undefined. Flatten it onto a background in an image editor, or "
                "drop the alpha channel if it does not matter: photo[..., :3]."
            )
        arr = arr[..., :3]
    if np.issubdtype(arr.dtype, np.floating):
        lo, hi = np.inf, -np.inf
        for r0 in range(0, arr.shape[0], 512):  # bands: no full-size temporary
            band = arr[r0 : r0 + 512]
            if not np.isfinite(band).all():
                raise InputError(
                    f"The {name} contains NaN or infinite values. Replace them, e.g. "
                    "np.nan_to_num(photo, nan=0.0, posinf=1.0), or export the photo again."
                )
            lo, hi = min(lo, float(band.min())), max(hi, float(band.max()))
        if lo < 0 or hi > 1:
            raise InputError(
                f"A floating-point {name} must have values in [0, 1]; this one spans "
                f"[{lo:.4g}, {hi:.4g}]. Divide 0-255 values by 255 and 16-bit values by 65535."
            )
    return arr


def check_pair(maps: np.ndarray, photo: np.ndarray) -> None:
    """Refuse a photo with fewer pixels than the scan in either direction."""
    h, w = maps.shape[-2:]
    big_h, big_w = photo.shape[:2]
    if big_h < h or big_w < w:
        raise InputError(
            f"The photo ({big_h} x {big_w} pixels) is smaller than the scan ({h} x {w} "
            "pixels): it cannot add detail. Use the original camera file (not a preview or "
            "a thumbnail), at least a few times the scan's size."
        )


def check_kind(kind: str) -> str:
    """The transform kind, or a message listing the kinds."""
    if kind not in KINDS:
        raise InputError(f"transform must be one of {', '.join(KINDS)}; got {kind!r}.")
    return kind


def check_scale(scale) -> int | None:
    """A whole-number scale >= 1, or ``None`` (detect it)."""
    if scale is None:
        return None
    try:
        s = int(scale)
    except (TypeError, ValueError):
        raise InputError(f"The scale must be a whole number, got {scale!r}.") from None
    if s != scale or s < 1:
        raise InputError(f"The scale must be a whole number >= 1, got {scale!r}.")
    return s
