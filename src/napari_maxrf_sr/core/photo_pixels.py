"""The photo: its checks, and its pixels kept in their own type, read as floats by band.

An 8-bit RGB photo of a whole painting (20000 x 20000 px) takes 1.2 GB; as float32
it would take 4.8 GB, and every full-size float copy another 4.8 GB. The core keeps
the photo as it was read and converts only the rows it is working on.

The checks (shape, alpha, pixel type and values, each with what to do) are the photo's
part of :func:`~napari_maxrf_sr.core.validation.prepare_inputs`; readers use them too,
so importing this module loads no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:  # torch is imported where tensors are made: readers need no torch
    import torch

#: Largest photo (pixels) accepted: 2**31 px is 6 GiB as 8-bit RGB. The core keeps the
#: photo in its own pixel type and never builds an H x W array per element except the
#: result (written band by band to disk when it is large), so the scan's size
#: (MAX_MAP_VALUES) is what bounds the memory in practice.
MAX_HR_PIXELS = 1 << 31
#: Value of full intensity for each pixel type the core accepts.
_UNIT = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0,
         np.dtype(np.float32): 1.0}


class PhotoPixels:
    """A validated ``(H, W, 3)`` photo, read as float32 in ``[0, 1]`` where indexed.

    Indexing returns float32 in ``[0, 1]`` (``photo[r0:r1]`` is a band of rows), and
    ``np.asarray(photo)`` the whole photo so; neither changes ``raw``.

    Parameters
    ----------
    raw
        ``(H, W, 3)`` uint8, uint16 or float32 (already in ``[0, 1]``); not copied.
    """

    def __init__(self, raw: np.ndarray) -> None:
        raw = np.asarray(raw)
        if raw.ndim != 3 or raw.shape[-1] != 3 or raw.dtype not in _UNIT:
            raise ValueError(f"expected an (H, W, 3) uint8, uint16 or float32 photo, got "
                             f"{raw.dtype} {raw.shape}")
        self.raw = raw
        self.unit = _UNIT[raw.dtype]

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, 3)``."""
        return self.raw.shape

    def __getitem__(self, key) -> np.ndarray:
        return to_unit_float(self.raw[key], self.unit)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = to_unit_float(self.raw, self.unit)
        return out if dtype is None else out.astype(dtype, copy=False)

    def channels_first_tensor(self) -> tuple[torch.Tensor, float]:
        """``(3, H, W)`` tensor of the raw values, and the value of full intensity.

        8-bit photos stay 8-bit (torch has few uint16 operations, so 16-bit
        photos become float32 in ``[0, 1]``, unit 1).
        """
        import torch

        if self.raw.dtype == np.uint8:
            return torch.from_numpy(np.ascontiguousarray(np.moveaxis(self.raw, -1, 0))), 255.0
        planes = np.empty((3, *self.raw.shape[:2]), dtype=np.float32)
        for c in range(3):  # one channel at a time: no (H, W, 3) float copy
            planes[c] = to_unit_float(self.raw[..., c], self.unit)
        return torch.from_numpy(planes), 1.0


def to_unit_float(values: np.ndarray, unit: float) -> np.ndarray:
    """Raw photo values as float32 in ``[0, 1]`` (the same rounding as ``x / unit``)."""
    out = np.asarray(values).astype(np.float32)
    if unit != 1.0:
        out /= np.float32(unit)
    return out


# ------------------------------------------------------------------------ checks


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
        return _float_photo(arr, name, notes), notes
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


#: How far a float photo may stray outside [0, 1] and be clipped (rounding in a colour
#: conversion): half a level of an 8-bit photo.
FLOAT_SLACK = 1 / 512


def _float_photo(arr: np.ndarray, name: str, notes: list[str]) -> np.ndarray:
    """A float photo as float32, if its values are finite and in ``[0, 1]``.

    Values at most :data:`FLOAT_SLACK` outside are clipped, with a note.
    """
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
        if lo >= -FLOAT_SLACK and hi <= 1 + FLOAT_SLACK:
            notes.append(f"the photo's values span [{lo:.3g}, {hi:.6g}], a little outside "
                         "[0, 1] (rounding): they were clipped to [0, 1]")
            return np.clip(out, 0.0, 1.0)
        hint = (
            "it has negative values: clip them with np.clip(rgb, 0, 1) if they are small, "
            "or export the photo again" if lo < 0 and hi <= 1
            else "rescale it to [0, 1]" if lo < 0
            else "it looks like 0-255 values: divide by 255" if hi <= 255
            else "it looks like 16-bit values: divide by 65535" if hi <= 65535
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


def check_photo_size(shape: tuple[int, ...], max_hr_pixels: int = MAX_HR_PIXELS) -> None:
    """Refuse a photo of more than ``max_hr_pixels`` pixels, from its declared shape."""
    n_px = _hr_pixels(shape)
    if n_px > max_hr_pixels:
        raise InputError(
            f"The photo has {n_px / 1e6:.0f} megapixels, more than are accepted "
            f"({max_hr_pixels / 1e6:.0f} MP). Work on a crop of the painting (crop the "
            "photo and the scan to the same area)."
        )


def _hr_pixels(shape: tuple[int, ...]) -> int:
    """Pixels of a photo from its declared shape (channels last or first, or grey)."""
    dims = [int(x) for x in shape]
    if len(dims) == 3 and dims[-1] in (1, 3, 4):
        return dims[0] * dims[1]
    return int(np.prod(dims[-2:], dtype=object)) if len(dims) >= 2 else 0
