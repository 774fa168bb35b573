"""Checks on user input that turn every mistake into a message saying what to do.

Every public entry point (API, CLI, widget) funnels its arrays through
:func:`prepare_inputs`, so the wording of the errors is the same everywhere.
"""

from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

from ..errors import InputError, NegativeValuesError
from .photo_pixels import MAX_HR_PIXELS, PhotoPixels, check_photo_size, check_rgb_pixels

#: Most values (B x h x w) a stack of element maps may hold: 2 GiB as float32 (21 maps
#: of 5000 x 5000, e.g. a 20000 x 20000 photo at scale 4). Training holds about three
#: float32 copies of the scan. Readers check a file's header against it before they
#: allocate anything.
MAX_MAP_VALUES = 1 << 29
#: Where users find the alignment (automatic in the API and CLI, a button in napari).
ALIGN_HINT = ("automatic unless align=False / --no-align; in napari: Plugins > MA-XRF "
              "Super-Resolution > Align photo to the scan, button Align automatically")
#: Largest scale accepted (the method is meant for 2 to 8; far beyond, the photo is wrong).
MAX_SCALE = 32
#: Largest magnitude of a map value: the core computes in float32 (largest 3.4e38),
#: and a super-resolved pixel may be several times brighter than any block mean.
MAX_MAP_MAGNITUDE = 1e30


@dataclass(frozen=True)
class PreparedInputs:
    """Validated arrays in the form the core expects.

    Attributes
    ----------
    lr_maps
        ``(B, h, w)`` float32, finite, non-negative, in the input's units.
    rgb
        The ``(H, W, 3)`` photo in its own pixel type; indexing it (``rgb[r0:r1]``)
        or ``np.asarray(rgb)`` gives float32 in ``[0, 1]``.
    scale
        Integer ratio ``H / h == W / w``.
    elements
        One name per map.
    notes
        Human-readable notes about conversions that were made (alpha dropped, ...).
    """

    lr_maps: np.ndarray
    rgb: PhotoPixels
    scale: int
    elements: tuple[str, ...]
    notes: tuple[str, ...] = ()


def default_element_names(n: int) -> tuple[str, ...]:
    """Placeholder names ``map 1 .. map n`` for maps that come without names."""
    return tuple(f"map {i + 1}" for i in range(n))


def check_map_size(shape: tuple[int, ...], *, name: str = "element maps") -> None:
    """Refuse a stack of maps with more than :data:`MAX_MAP_VALUES` values.

    Called with the shape a file's header or an array declares, before anything of
    that size is allocated.
    """
    n = int(np.prod([int(x) for x in shape], dtype=object)) if len(shape) else 1
    if n > MAX_MAP_VALUES:
        dims = " x ".join(str(int(x)) for x in shape)
        raise InputError(
            f"The {name} hold {dims} = {n:,} values ({n * 4 / 2**30:.1f} GiB as 32-bit "
            f"floats), more than are loaded at once ({MAX_MAP_VALUES:,} values). Work on a "
            "crop of the scan, or on fewer elements at a time."
        )


def check_unique_names(names: Sequence[str]) -> None:
    """Refuse a name given to two maps: results, layers and files are told apart by name."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise InputError(
                f"Maps {seen[name] + 1} and {i + 1} are both called {name!r}: each map needs "
                "its own name (results, layers and files are told apart by it). Rename one "
                "(--elements on the command line, elements=... in Python), or leave out the "
                "duplicate map."
            )
        seen[name] = i


def stack_shape_hint(shape: tuple[int, ...]) -> str:
    """What to do with maps whose shape is not ``(B, h, w)``."""
    long_axes = [n for n in shape if n != 1]
    if len(shape) > 3 and 2 <= len(long_axes) <= 3:
        return "Drop the extra axes of length 1: np.squeeze(maps)."
    if len(shape) < 2:
        return "Reshape it to (B, h, w), e.g. maps.reshape(B, h, w)."
    return "If the element axis is last, use np.moveaxis(maps, -1, 0)."


def check_magnitude(arr: np.ndarray, *, name: str = "element maps") -> None:
    """Refuse finite float values of a ``(B, h, w)`` stack too large for the core's float32."""
    if not np.issubdtype(arr.dtype, np.floating) or not arr.size:
        return
    big = 0.0
    for m in arr:
        finite = np.abs(m[np.isfinite(m)])  # one map at a time: no copy of the stack
        big = max(big, float(finite.max()) if finite.size else 0.0)
    if big > MAX_MAP_MAGNITUDE:
        factor = 10.0 ** int(np.ceil(np.log10(big / 1e6)))
        raise InputError(
            f"The {name} have values up to {big:.3g}, too large to compute with in 32-bit "
            f"floating point (at most {MAX_MAP_MAGNITUDE:.0e}). Rescale them, e.g. "
            f"maps / {factor:.0e}, and multiply the result by the same factor."
        )


def check_lr_maps(
    lr_maps,
    *,
    negative: Literal["error", "clip"] = "error",
    name: str = "element maps",
    labels: Sequence[str] | None = None,
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
    labels
        What to call each map in messages (default ``map 1 .. map B``).

    Returns
    -------
    maps, notes
        The float32 maps and a list of notes about conversions made.
    """
    notes: list[str] = []
    arr = _map_stack(lr_maps, name)
    b = arr.shape[0]
    if labels is None or len(labels) != b:
        labels = default_element_names(b)
    check_map_size(arr.shape, name=name)  # before the float32 copy below
    check_magnitude(arr, name=name)
    _check_finite(arr, name, labels)
    maps = arr.astype(np.float32, copy=True)  # never modify the caller's array
    if np.issubdtype(arr.dtype, np.integer) and arr.size:
        # As Python ints: exact, and abs() cannot overflow at the most negative int64.
        big = max(abs(int(arr.min())), abs(int(arr.max())))
        if big > 2**24:  # float32 holds integers exactly only up to 2**24
            notes.append(
                f"counts up to {big} exceed float32's exact integer range; "
                "values are rounded to about 7 significant digits"
            )
    _negative_values(maps, negative, name, labels, notes)
    return maps, notes


def _map_stack(lr_maps, name: str) -> np.ndarray:
    """The maps as a ``(B, h, w)`` array of numbers, or an error saying what is wrong."""
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
            f"got shape {arr.shape}. {stack_shape_hint(arr.shape)}"
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
    return arr


def _check_finite(arr: np.ndarray, name: str, labels: Sequence[str]) -> None:
    if np.issubdtype(arr.dtype, np.inexact):
        # On the caller's values: a float64 1e300 is finite, and must not be called NaN
        # after the cast to float32 has turned it into inf.
        per_map = [int((~np.isfinite(m)).sum()) for m in arr]  # map by map
        if any(per_map):
            which = ", ".join(f"{labels[i]} ({n} px)" for i, n in enumerate(per_map) if n)
            raise InputError(
                f"The {name} contain {sum(per_map)} NaN or infinite values ({which}). "
                "Replace them before super-resolving, e.g. np.nan_to_num(maps, nan=0.0) "
                "for pixels outside the scanned area."
            )


def _negative_values(maps: np.ndarray, negative: str, name: str, labels: Sequence[str],
                     notes: list[str]) -> None:
    """Clip negative values in place (with a note), or refuse them."""
    mins = maps.reshape(maps.shape[0], -1).min(axis=1)
    if (mins < 0).any():
        if negative == "clip":
            notes.append(f"{int((maps < 0).sum())} negative values set to 0")
            np.maximum(maps, 0, out=maps)
        else:
            which = ", ".join(f"{labels[i]} (min {m:.4g})" for i, m in enumerate(mins) if m < 0)
            raise NegativeValuesError(
                f"The {name} contain negative values: {which}. MA-XRF counts cannot be "
                "negative. If these are fitted areas whose noise dips below zero, clip them "
                "(negative='clip' in the API, --clip-negative on the command line)."
            )


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
        f"(columns). Bring the photo onto the scan's grid first (the Align step: {ALIGN_HINT}), "
        "so that it is exactly s times the maps' size."
    )


def check_scale(scale, lr_shape: tuple[int, int], hr_shape: tuple[int, int]) -> int:
    """Check that ``hr_shape == scale * lr_shape`` for a whole-number ``scale``."""
    if scale is None:
        return _bounded_scale(infer_scale(lr_shape, hr_shape), lr_shape)
    try:
        s_float = float(scale)
    except (TypeError, ValueError):
        raise InputError(f"The scale must be a whole number such as 2, 4 or 8, got {scale!r}."
                         ) from None
    if not np.isfinite(s_float) or s_float != int(s_float) or s_float < 1:
        raise InputError(
            f"The scale must be a whole number such as 2, 4 or 8, got {scale!r}: each map "
            "pixel must cover a whole s x s block of photo pixels. Resample the photo "
            f"({ALIGN_HINT}) so that the ratio is whole."
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
            f"resample the photo onto the scan's grid ({ALIGN_HINT})."
        )
    return _bounded_scale(s, lr_shape)


def _bounded_scale(s: int, lr_shape: tuple[int, int]) -> int:
    """``s``, or an error for a scale beyond :data:`MAX_SCALE`."""
    if s > MAX_SCALE:
        raise InputError(
            f"The photo is {s} times the maps' size (scale {s}): each scan pixel would "
            f"become {s} x {s} photo pixels, far more than the scan can guide (the method is "
            f"meant for scales 2 to 8; at most {MAX_SCALE} is accepted). Check that the photo "
            f"and the maps show the same area, and reduce the photo to a few times the "
            f"maps' size (e.g. {4 * lr_shape[0]} x {4 * lr_shape[1]} px for scale 4; "
            f"alignment: {ALIGN_HINT})."
        )
    return s


def _declared_shape(x, name: str) -> tuple[int, ...]:
    """``np.shape(x)`` without copying an array; a ragged nested list is an InputError."""
    try:
        return tuple(int(n) for n in np.shape(x))
    except ValueError:
        raise InputError(
            f"The {name} are nested lists of unequal lengths, not an array: give a NumPy "
            "array (every row as long as the others)."
        ) from None


def _looks_swapped(lr_shape: tuple[int, ...], rgb_shape: tuple[int, ...]) -> bool:
    """Maps shaped like a photo ``(H, W, 3)`` and a photo shaped like maps ``(B, h, w)``."""
    lr_like_photo = len(lr_shape) == 3 and lr_shape[-1] in (3, 4) and min(lr_shape[:2]) > 4
    rgb_like_maps = len(rgb_shape) == 2 or (
        len(rgb_shape) == 3
        and rgb_shape[-1] not in (3, 4)
        and rgb_shape[0] < min(rgb_shape[1:])
    )
    return lr_like_photo and rgb_like_maps


def _axis_last_hint(lr_shape: tuple[int, ...], hr_shape: tuple[int, int]) -> str:
    """A hint when maps given as ``(h, w, B)`` would fit the photo as ``(B, h, w)``."""
    if len(lr_shape) != 3:
        return ""
    try:
        infer_scale(tuple(lr_shape[:2]), hr_shape)
    except InputError:
        return ""
    return (
        f" The maps' shape {tuple(lr_shape)} fits the photo if its last axis is the "
        "element axis: pass np.moveaxis(maps, -1, 0)."
    )


def check_sizes_fit(lr_shape: tuple[int, ...], hr_shape: tuple[int, int], scale) -> int:
    """The scale of maps shaped ``lr_shape`` ``(B, h, w)`` and a photo ``hr_shape``.

    What :func:`prepare_inputs` checks, on declared shapes: entry points call it with
    the sizes in the files' headers, before any pixel is read.
    """
    try:
        return check_scale(scale, tuple(lr_shape[1:]), tuple(hr_shape))
    except InputError as exc:
        hint = _axis_last_hint(lr_shape, tuple(hr_shape))
        if not hint:
            raise
        raise InputError(str(exc) + hint) from None


def prepare_inputs(
    lr_maps,
    rgb,
    scale=None,
    *,
    elements=None,
    negative: Literal["error", "clip"] = "error",
    max_hr_pixels: int = MAX_HR_PIXELS,
) -> PreparedInputs:
    """Validate maps, photo and scale together (see :class:`PreparedInputs`).

    Sizes are checked on the declared shapes first, so an enormous input is
    refused before any copy of it is made.
    """
    lr_shape, rgb_shape = _declared_shape(lr_maps, "element maps"), _declared_shape(rgb, "photo")
    if _looks_swapped(lr_shape, rgb_shape):
        raise InputError(
            f"The element maps have shape {lr_shape}, like a photo, and the photo has shape "
            f"{rgb_shape}, like element maps: the two seem swapped. Pass the maps first, "
            "then the photo: super_resolve(lr_maps, rgb, ...)."
        )
    check_photo_size(rgb_shape, max_hr_pixels)
    labels = None if elements is None else [str(e) for e in elements]
    maps, notes = check_lr_maps(lr_maps, negative=negative, labels=labels)
    raw_photo, photo_notes = check_rgb_pixels(rgb)
    photo = PhotoPixels(raw_photo)  # kept 8/16-bit: converted band by band where used
    notes += photo_notes
    s = check_sizes_fit(lr_shape if len(lr_shape) == 3 else maps.shape, photo.shape[:2], scale)
    if elements is None:
        names = default_element_names(maps.shape[0])
    else:
        names = tuple(unicodedata.normalize("NFC", str(e)) for e in elements)  # look-alikes
        if len(names) != maps.shape[0]:
            raise InputError(
                f"{len(names)} element names were given for {maps.shape[0]} maps; "
                "give one name per map."
            )
        check_unique_names(names)
    for i, m in enumerate(maps):
        lo, hi = float(m.min()), float(m.max())
        if hi == 0:
            notes.append(
                f"{names[i]} is all zero: its result will be all zero (if that is not "
                "expected, check the file or the energy window, or leave the map out)"
            )
        elif lo == hi:
            notes.append(
                f"{names[i]} has the same value ({hi:.4g}) everywhere: nothing in it to "
                "sharpen, so its detail comes from the photo alone (check that the right "
                "map was loaded)"
            )
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    return PreparedInputs(maps, photo, s, names, tuple(notes))
