"""The photo on the scan's grid before a run: registered, checked, or refused.

Every entry point that trains (``super_resolve``, ``maxrf-sr run``, the panel) calls
:func:`photo_on_grid` first: a photo of any size is registered automatically; a photo
that already has ``scale`` times the maps' pixels is checked (and registered again when
it is measurably off the grid); a photo that does not explain the scan is refused
before anything is trained or written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from .check import check_registration
from .register import register_photo

#: Scans smaller than this (pixels along the shorter side) are not checked: too few
#: pixels to measure a tenth of a photo pixel, and too few for the significance test.
CHECK_MIN_SIDE = 32


@dataclass
class PhotoOnGrid:
    """What :func:`photo_on_grid` made of the photo.

    Attributes
    ----------
    photo
        ``(scale*h, scale*w, 3)`` in the input's pixel type (the input itself when it
        was left as it was).
    scale
        Whole-number scale (``None`` when left to the strict checks, ``align=False``).
    record
        JSON-able registration record for the provenance (``None`` when not checked).
    notes
        Plain sentences for the user: what was done to the photo and why.
    """

    photo: Any
    scale: int | None
    record: dict | None = None
    notes: list[str] = field(default_factory=list)


def may_register(map_shape: tuple[int, ...], photo_shape: tuple[int, ...]) -> bool:
    """Whether sizes leave the photo to the registration (else the strict size checks).

    The scan must be large enough to register against, and the photo no more than
    1.5 times the largest scale accepted (a margin of a quarter on each side) per scan
    pixel: a photo beyond that is refused from its header, before it is decoded.
    """
    from ..core.validation import MAX_SCALE

    h, w = (int(n) for n in map_shape[-2:])
    big_h, big_w = (int(n) for n in photo_shape[:2])
    return min(h, w) >= CHECK_MIN_SIDE and max(big_h / h, big_w / w) <= 1.5 * MAX_SCALE


def _grid_scale(map_shape: tuple[int, int], photo_shape: tuple[int, int],
                scale: int | None) -> int | None:
    """The scale at which the photo lies exactly on the scan's grid, if it does."""
    (h, w), (big_h, big_w) = map_shape, photo_shape
    if scale is not None:
        return int(scale) if (big_h, big_w) == (scale * h, scale * w) else None
    if big_h % h == 0 and big_w % w == 0 and big_h // h == big_w // w:
        return big_h // h
    return None


def _checkable(maps, photo) -> bool:
    """Inputs the registration can read; anything else is left to the strict checks.

    The strict checks (:func:`napari_maxrf_sr.core.validation.prepare_inputs`) say what
    is wrong with malformed input in their own words; the registration only looks at
    inputs that pass the basic shape and value tests.
    """
    from ..core.photo_pixels import MAX_HR_PIXELS
    from ..core.validation import MAX_MAP_VALUES

    if not (isinstance(maps, np.ndarray) and isinstance(photo, np.ndarray)):
        return False
    if maps.ndim != 3 or photo.ndim != 3 or photo.shape[-1] not in (3, 4):
        return False
    if maps.size > MAX_MAP_VALUES or photo.shape[0] * photo.shape[1] > MAX_HR_PIXELS:
        return False  # refused by the size checks, before anything is copied
    if not may_register(maps.shape, photo.shape) or maps.dtype.kind not in "fiu":
        return False
    if photo.dtype not in (np.uint8, np.uint16) and photo.dtype.kind != "f":
        return False
    if maps.dtype.kind == "f" and not all(np.isfinite(m).all() for m in maps):  # by band
        return False
    if photo.dtype.kind == "f" and not (np.isfinite(photo).all() and photo.min() >= 0
                                        and photo.max() <= 1):
        return False
    return any(float(np.ptp(m)) > 0 for m in maps)


def photo_on_grid(lr_maps, rgb, scale: int | None = None, *, align: bool = True,
                  transform: str = "similarity") -> PhotoOnGrid:
    """Put the photo on the scan's grid, or check that it is on it.

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` element maps.
    rgb
        ``(H, W, 3)`` photo of any size (uint8, uint16 or float in ``[0, 1]``).
    scale
        Whole-number scale, or ``None`` (the photo's own: exact multiple, or the
        largest its resolution supports).
    align
        ``False``: leave the photo as it is (the strict behaviour: it must be exactly
        ``scale`` times the maps).
    transform
        Kind of the registration (``"similarity"``, ``"affine"``, ``"homography"``).

    Raises
    ------
    InputError
        When the photo does not explain the scan (another painting, a mirrored photo,
        a crop of another area): nothing should be trained or written.
    """
    if not align:
        return PhotoOnGrid(rgb, scale)
    maps, photo = lr_maps, rgb
    if not (hasattr(maps, "shape") and hasattr(photo, "shape")):  # lists: no size known
        maps, photo = np.asarray(lr_maps), np.asarray(rgb)
    if maps.ndim == 2:
        maps = maps[None]
    if not _checkable(maps, photo):
        return PhotoOnGrid(rgb, scale)  # tiny or malformed: the strict checks speak
    s = _grid_scale(maps.shape[1:], photo.shape[:2], scale)
    if s is None:
        return _register(maps, photo, scale, transform)
    check = check_registration(maps, photo, s, transform=transform)
    if check.verdict == "refuse":
        raise InputError(check.message + " Nothing was trained or written.")
    record = {**check.registration.to_dict(), "check": check.verdict,
              "residual_rms_px": check.residual_rms_px,
              "residual_corner_px": check.residual_corner_px}
    if check.verdict == "ok":
        return PhotoOnGrid(rgb, s, record, [f"registration check: {check.message}"])
    return PhotoOnGrid(check.registration.apply(photo), s, record,
                       [f"registration check: {check.message}"])


def _register(maps: np.ndarray, photo: np.ndarray, scale: int | None,
              transform: str) -> PhotoOnGrid:
    reg = register_photo(maps, photo, scale, transform=transform)
    (h, w), (big_h, big_w) = maps.shape[1:], photo.shape[:2]
    size = f"{scale} times" if scale else "a whole multiple of"
    text = (f"the {big_h} x {big_w} photo is not {size} the {h} x {w} maps, so it was "
            "registered to the "
            f"scan automatically ({reg.kind}, scale {reg.scale}, {reg.error_text()}); the "
            "transform is in the provenance. Turn this off with --no-align (align=False in "
            "Python)")
    notes = [text, *(f"registration: {n}" for n in reg.notes)]
    return PhotoOnGrid(reg.apply(photo), reg.scale, {**reg.to_dict(), "check": "registered"},
                       notes)
