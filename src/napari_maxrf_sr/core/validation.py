"""Checks on user input that turn every mistake into a message saying what to do.

Every public entry point (API, CLI, widget) funnels its arrays through
:func:`prepare_inputs`, so the wording of the errors is the same everywhere.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

#: Largest HR image (pixels) the in-memory path accepts; above it the caller must
#: tile or use the out-of-core path. 2**28 px x 24 channels x 4 bytes is 24 GiB.
MAX_HR_PIXELS = 1 << 28


class InputError(ValueError):
    """Input that cannot be used as it is; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class PreparedInputs:
    """Validated arrays in the form the core expects.

    Attributes
    ----------
    lr_maps
        ``(B, h, w)`` float32, finite, non-negative, in the input's units.
    rgb
        ``(H, W, 3)`` float32 in ``[0, 1]``.
    scale
        Integer ratio ``H / h == W / w``.
    elements
        One name per map.
    notes
        Human-readable notes about conversions that were made (alpha dropped, ...).
    """

    lr_maps: np.ndarray
    rgb: np.ndarray
    scale: int
    elements: tuple[str, ...]
    notes: tuple[str, ...] = ()


def default_element_names(n: int) -> tuple[str, ...]:
    """Placeholder names ``map 1 .. map n`` for maps that come without names."""
    return tuple(f"map {i + 1}" for i in range(n))


def check_lr_maps(
    lr_maps, *, negative: Literal["error", "clip"] = "error", name: str = "element maps"
) -> tuple[np.ndarray, list[str]]:
    """Validate element maps and return them as ``(B, h, w)`` float32.

    Parameters
    ----------
    lr_maps
        Array-like ``(B, h, w)``, or ``(h, w)`` for a single map.
    negative
        ``"error"`` refuses negative values; ``"clip"`` sets them to zero (for
        fitted peak areas whose noise dips a little below zero).
    name
        What to call the maps in messages.

    Returns
    -------
    maps, notes
        The float32 maps and a list of notes about conversions made.
    """
    notes: list[str] = []
    arr = np.asarray(lr_maps)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
    ):
        raise InputError(
            f"The {name} must be numbers, got an array of type {arr.dtype}. "
            "Load them with napari_maxrf_sr.io.read_element_maps or numpy."
        )
    if np.iscomplexobj(arr):
        raise InputError(f"The {name} are complex numbers; pass their magnitude (np.abs).")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(
            f"The {name} must be a stack shaped (B, h, w) (maps, rows, columns), "
            f"got shape {arr.shape}. If the element axis is last, use np.moveaxis(maps, -1, 0)."
        )
    b, h, w = arr.shape
    if b == 0:
        raise InputError(f"There are no {name} (B = 0): give at least one element map.")
    if h < 2 or w < 2:
        raise InputError(
            f"The {name} are {h} x {w} pixels: at least 2 x 2 are needed "
            "(check that the axes are (B, h, w), not (h, w, B))."
        )
    if b > h and b > w:
        raise InputError(
            f"The {name} have shape {arr.shape}: more maps ({b}) than rows and columns. "
            "The element axis must come first: use np.moveaxis(maps, -1, 0)."
        )
    maps = arr.astype(np.float32, copy=True)  # never modify the caller's array
    if np.issubdtype(arr.dtype, np.integer) and arr.size:
        big = float(np.abs(arr).max())
        if big > 2**24:  # float32 holds integers exactly only up to 2**24
            notes.append(
                f"counts up to {big:.0f} exceed float32's exact integer range; "
                "values are rounded to about 7 significant digits"
            )
    bad = ~np.isfinite(maps)
    if bad.any():
        per_map = bad.reshape(b, -1).sum(axis=1)
        which = ", ".join(f"map {i + 1} ({n} px)" for i, n in enumerate(per_map) if n)
        raise InputError(
            f"The {name} contain {int(bad.sum())} NaN or infinite values ({which}). "
            "Replace them before super-resolving, e.g. np.nan_to_num(maps, nan=0.0) "
            "for pixels outside the scanned area."
        )
    mins = maps.reshape(b, -1).min(axis=1)
    if (mins < 0).any():
        if negative == "clip":
            notes.append(f"{int((maps < 0).sum())} negative values set to 0")
            np.maximum(maps, 0, out=maps)
        else:
            which = ", ".join(f"map {i + 1} (min {m:.4g})" for i, m in enumerate(mins) if m < 0)
            raise InputError(
                f"The {name} contain negative values: {which}. MA-XRF counts cannot be "
                "negative. If these are fitted areas whose noise dips below zero, clip them "
                "(negative='clip' in the API, --clip-negative on the command line)."
            )
    return maps, notes


def check_rgb(rgb, *, name: str = "photo") -> tuple[np.ndarray, list[str]]:
    """Validate an RGB photo and return it as ``(H, W, 3)`` float32 in ``[0, 1]``.

    uint8 and uint16 are scaled by their range; float must already lie in
    ``[0, 1]``. A fully opaque alpha channel is dropped with a note; a
    transparent one is refused (the colour under it is undefined).
    """
    notes: list[str] = []
    arr = np.asarray(rgb)
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
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise InputError(f"The {name} must be an (H, W, 3) RGB image, got shape {arr.shape}.")
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
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        out = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32)
        if not np.isfinite(out).all():
            raise InputError(f"The {name} contains NaN or infinite values.")
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
    elif arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            f"The {name} has pixel type {arr.dtype}; use 8-bit (uint8), 16-bit (uint16) "
            "or floating point in [0, 1]."
        )
    else:
        raise InputError(f"The {name} has an unsupported pixel type {arr.dtype}.")
    return np.ascontiguousarray(out), notes


def infer_scale(lr_shape: tuple[int, int], hr_shape: tuple[int, int]) -> int:
    """Whole-number scale between the maps and the photo, or an error saying why not."""
    h, w = lr_shape
    big_h, big_w = hr_shape
    fy, fx = Fraction(big_h, h), Fraction(big_w, w)
    if fy == fx and fy.denominator == 1 and fy >= 1:
        return int(fy)
    raise InputError(
        f"The photo ({big_h} x {big_w} px) is not a whole-number multiple of the maps "
        f"({h} x {w} px): the ratios are {float(fy):.4g} (rows) and {float(fx):.4g} "
        "(columns). Bring the photo onto the scan's grid first (the Align step, "
        "napari_maxrf_sr.io.align_photo), so that it is exactly s times the maps' size."
    )


def check_scale(scale, lr_shape: tuple[int, int], hr_shape: tuple[int, int]) -> int:
    """Check that ``hr_shape == scale * lr_shape`` for a whole-number ``scale``."""
    if scale is None:
        return infer_scale(lr_shape, hr_shape)
    try:
        s_float = float(scale)
    except (TypeError, ValueError):
        raise InputError(
            f"The scale must be a whole number such as 2, 4 or 8, got {scale!r}."
        ) from None
    if not np.isfinite(s_float) or s_float != int(s_float) or s_float < 1:
        raise InputError(
            f"The scale must be a whole number such as 2, 4 or 8, got {scale!r}: each map "
            "pixel must cover a whole s x s block of photo pixels. Resample the photo "
            "(napari_maxrf_sr.io.align_photo) so that the ratio is whole."
        )
    s = int(s_float)
    h, w = lr_shape
    if hr_shape != (s * h, s * w):
        try:
            detected = f" The shapes suggest scale {infer_scale(lr_shape, hr_shape)}."
        except InputError:
            detected = ""
        raise InputError(
            f"With scale {s} the photo must be {s * h} x {s * w} px (s x the maps' "
            f"{h} x {w}), but it is {hr_shape[0]} x {hr_shape[1]}.{detected} Crop or "
            "resample the photo onto the scan's grid (napari_maxrf_sr.io.align_photo)."
        )
    return s


def prepare_inputs(
    lr_maps,
    rgb,
    scale=None,
    *,
    elements=None,
    negative: Literal["error", "clip"] = "error",
    max_hr_pixels: int = MAX_HR_PIXELS,
) -> PreparedInputs:
    """Validate maps, photo and scale together (see :class:`PreparedInputs`)."""
    maps, notes = check_lr_maps(lr_maps, negative=negative)
    photo, photo_notes = check_rgb(rgb)
    notes += photo_notes
    s = check_scale(scale, maps.shape[1:], photo.shape[:2])
    big_h, big_w = photo.shape[:2]
    if big_h * big_w > max_hr_pixels:
        raise InputError(
            f"The photo has {big_h * big_w / 1e6:.0f} megapixels, more than this in-memory "
            f"path accepts ({max_hr_pixels / 1e6:.0f} MP). Work on a crop, or apply a "
            "model trained on a crop with napari_maxrf_sr.core.inference.predict(out=...) "
            "into a memory-mapped array."
        )
    if elements is None:
        names = default_element_names(maps.shape[0])
    else:
        names = tuple(str(e) for e in elements)
        if len(names) != maps.shape[0]:
            raise InputError(
                f"{len(names)} element names were given for {maps.shape[0]} maps; "
                "give one name per map."
            )
    for i, m in enumerate(maps):
        if not m.any():
            notes.append(f"{names[i]} is all zero: its result will be all zero")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    return PreparedInputs(maps, photo, s, names, tuple(notes))
