"""Reading the high-resolution photograph (PNG, JPEG or TIFF; 8 or 16 bit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.validation import InputError, check_rgb

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def _png_bit_depth(path: Path) -> tuple[int, int] | None:
    """``(bit depth, colour type)`` from a PNG's IHDR, or ``None`` if it is not a PNG."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or not head.startswith(b"\x89PNG\r\n\x1a\n") or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def read_photo(path: str | Path, *, as_float: bool = False) -> tuple[np.ndarray, list[str]]:
    """Read an RGB photo as ``(H, W, 3)``.

    Parameters
    ----------
    path
        PNG, JPEG or TIFF, 8 or 16 bit (or float TIFF in ``[0, 1]``).
    as_float
        Return float32 in ``[0, 1]`` instead of the file's own pixel type.

    Returns
    -------
    rgb, notes
        The photo (uint8/uint16/float32, alpha dropped) and notes about what was
        changed, e.g. an opaque alpha channel that was dropped.

    Raises
    ------
    InputError
        For grey images, transparent alpha, unsupported pixel types (the checks
        of :func:`napari_maxrf_sr.core.validation.check_rgb`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The photo {str(path)!r} does not exist.")
    notes: list[str] = []
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            arr = tifffile.imread(path)
        else:
            import imageio.v3 as iio

            arr = iio.imread(path)
    except Exception as exc:
        raise InputError(
            f"Cannot read the photo {str(path)!r} ({exc}). Use PNG, JPEG or TIFF."
        ) from exc
    png = _png_bit_depth(path) if suffix == ".png" else None
    if png and png[0] == 16 and png[1] in (2, 6) and arr.dtype == np.uint8:
        notes.append(
            "this 16-bit colour PNG was read with 8 bits per channel (a limitation of the "
            "PNG reader); save the photo as a 16-bit TIFF to keep all its levels"
        )
    arr = np.asarray(arr)
    if arr.ndim == 4 and arr.shape[0] == 1:  # single-frame stacks from some TIFF writers
        arr = arr[0]
    rgb01, check_notes = check_rgb(arr, name=f"photo {path.name!r}")
    notes += check_notes
    if as_float:
        return rgb01, notes
    return np.ascontiguousarray(arr[..., :3]), notes
