"""Reading the high-resolution photograph (PNG, JPEG or TIFF; 8 or 16 bit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core import validation
from ..core.photo import PhotoPixels
from ..core.validation import InputError, check_rgb_pixels
from .filecheck import check_photo_pixels, check_tiff, damaged, image_pixels, unreadable

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
        of :func:`napari_maxrf_sr.core.validation.check_rgb`); for a damaged,
        truncated or unreadable file; for element maps given as the photo; and for
        a photo larger than ``MAX_HR_PIXELS``, before it is decoded.
    FileNotFoundError
        When ``path`` does not exist.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"The photo {str(path)!r} is a folder: choose the image file in it.")
    if not path.is_file():
        raise FileNotFoundError(
            f"The photo {str(path)!r} does not exist. Check the path (and that the drive is "
            "connected)."
        )
    notes: list[str] = []
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            arr = _read_tiff_photo(path)
        else:
            hw = image_pixels(path)
            if hw is not None:
                check_photo_pixels(path, *hw)
            arr = _read_with_pillow_limit(path, checked=hw is not None)
    except InputError:
        raise
    except Exception as exc:
        raise _photo_error(path, exc) from exc
    png = _png_bit_depth(path) if suffix == ".png" else None
    if png and png[0] == 16 and png[1] in (2, 6) and arr.dtype == np.uint8:
        notes.append(
            "this 16-bit colour PNG was read with 8 bits per channel (a limitation of the "
            "PNG reader); save the photo as a 16-bit TIFF to keep all its levels"
        )
    arr = np.asarray(arr)
    if arr.ndim == 4 and arr.shape[0] == 1:  # single-frame stacks from some TIFF writers
        arr = arr[0]
    raw, check_notes = check_rgb_pixels(arr, name=f"photo {path.name!r}")
    notes += check_notes
    if as_float:
        return np.asarray(PhotoPixels(raw)), notes
    return np.ascontiguousarray(arr[..., :3]), notes


def _read_with_pillow_limit(path: Path, *, checked: bool) -> np.ndarray:
    """Decode a PNG/JPEG; its size was checked against ours, so Pillow's is lifted."""
    import imageio.v3 as iio

    if not checked:
        return iio.imread(path)
    from PIL import Image

    # Pillow refuses images above 179 MP as possible "decompression bombs"; the header's
    # size was already checked against MAX_HR_PIXELS, so allow up to that.
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max(before or 0, validation.MAX_HR_PIXELS)
    try:
        return iio.imread(path)
    finally:
        Image.MAX_IMAGE_PIXELS = before


def _photo_error(path: Path, exc: BaseException) -> InputError:
    """Say why a photo could not be decoded, and what to do about it."""
    if type(exc).__name__ == "DecompressionBombError":  # Pillow's size limit
        return InputError(
            f"The photo {str(path)!r} is larger than the PNG/JPEG reader accepts ({exc}). "
            "Save it as a TIFF, or work on a crop of the painting."
        )
    if isinstance(exc, OSError) and exc.errno is not None:
        return unreadable(path, exc)
    return damaged(path, exc, "PNG, JPEG or TIFF image")


def _read_tiff_photo(path: Path) -> np.ndarray:
    """A TIFF photo as ``(H, W, C)``, after checking its structure and size."""
    import tifffile

    from .tiff import inspect_tiff

    check_tiff(path)
    desc = inspect_tiff(path)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        check_photo_pixels(path, int(page.imagelength), int(page.imagewidth))
        planar_rgb = int(page.photometric) == 2 and int(page.planarconfig) == 2
        if not desc["rgb"] and desc["shape"][0] > 1 and (desc["names"] or desc["info"]):
            names = desc["names"] or []
            raise InputError(
                f"{str(path)!r} holds {desc['shape'][0]} element maps"
                + (f" ({', '.join(map(str, names[:4]))}...)" if names else "")
                + ", not a colour photo. Give it as the element maps, and the colour "
                "photo of the painting as the photo."
            )
        arr = tif.series[0].asarray()
    if planar_rgb and arr.ndim == 3 and arr.shape[0] in (3, 4):
        arr = np.moveaxis(arr, 0, -1)  # separate colour planes: (3, H, W) -> (H, W, 3)
    return arr
