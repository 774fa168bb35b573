"""Reading the high-resolution photograph (PNG, JPEG or TIFF; 8 or 16 bit)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..core.photo_pixels import MAX_HR_PIXELS, PhotoPixels, check_rgb_pixels
from ..errors import InputError
from .filecheck import (
    check_photo_pixels,
    damaged,
    image_pixels,
    open_checked_tiff,
    unreadable,
)
from .jpeg_quality import jpeg_compression, jpeg_note
from .paths import check_regular_file

#: What each EXIF/TIFF orientation value asks a viewer to do with the stored pixels,
#: and how: the photo is used as every viewer shows it.
_ORIENTATIONS = {
    2: ("mirrored left to right", lambda a: a[:, ::-1]),
    3: ("turned by 180 degrees", lambda a: a[::-1, ::-1]),
    4: ("mirrored top to bottom", lambda a: a[::-1]),
    5: ("mirrored along its diagonal", lambda a: np.swapaxes(a, 0, 1)),
    6: ("turned 90 degrees clockwise", lambda a: np.rot90(a, -1)),
    7: ("mirrored along its other diagonal", lambda a: np.swapaxes(a[::-1, ::-1], 0, 1)),
    8: ("turned 90 degrees anticlockwise", lambda a: np.rot90(a, 1)),
}


def upright(arr: np.ndarray, orientation: int | None, notes: list[str]) -> np.ndarray:
    """The photo as viewers show it: its orientation tag applied (with a note)."""
    if orientation not in _ORIENTATIONS:
        return arr
    words, turn = _ORIENTATIONS[orientation]
    notes.append(
        f"the photo carries an orientation tag ({orientation}): it was {words}, as image "
        "viewers show it"
    )
    return turn(arr)


def _cmyk(path: Path) -> InputError:
    return InputError(
        f"The photo {str(path)!r} is in CMYK (printing inks), not RGB: its four channels "
        "are ink amounts, not red, green, blue and transparency. Convert it to RGB in an "
        "image editor (GIMP: Image > Mode > RGB; Photoshop: Image > Mode > RGB Color) and "
        "save it again."
    )


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
        of :func:`napari_maxrf_sr.core.photo_pixels.check_rgb`); for a damaged,
        truncated or unreadable file; for element maps given as the photo; and for
        a photo larger than ``MAX_HR_PIXELS``, before it is decoded.
    FileNotFoundError
        When ``path`` does not exist.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"The photo {str(path)!r} is a folder: choose the image file in it.")
    check_regular_file(path, "photo")
    if not path.is_file():
        raise FileNotFoundError(
            f"The photo {str(path)!r} does not exist. Check the path (and that the drive is "
            "connected)."
        )
    notes: list[str] = []
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            arr, orientation = _read_tiff_photo(path, notes)
        else:
            hw = image_pixels(path)
            if hw is not None:
                check_photo_pixels(path, *hw)
            orientation = _pillow_orientation(path)
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
    arr = upright(arr, orientation, notes)
    raw, check_notes = check_rgb_pixels(arr, name=f"photo {path.name!r}")
    notes += check_notes
    if suffix not in (".tif", ".tiff", ".png"):
        notes += filter(None, [jpeg_note(jpeg_compression(path))])
    if as_float:
        return np.asarray(PhotoPixels(raw)), notes
    return np.ascontiguousarray(raw), notes  # a float photo: clipped if it had to be


def _pillow_orientation(path: Path) -> int | None:
    """A PNG's or JPEG's EXIF orientation (``None`` when absent); refuses CMYK."""
    from PIL import Image

    try:
        with warnings.catch_warnings():  # the size is checked against ours, not Pillow's
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)  # the header only
        with im:
            if im.mode == "CMYK":
                raise _cmyk(path)
            if im.format != "PNG":
                return im.getexif().get(0x0112)
        # Pillow decodes a whole PNG to look for its EXIF (seconds and gigabytes for a
        # small file of many pixels): find the chunk ourselves instead.
        data = _png_exif(path)
        if data is None:
            return None
        exif = Image.Exif()
        exif.load(data)
        return exif.get(0x0112)
    except InputError:
        raise
    except Exception:  # the decoder says what is wrong when it reads the pixels
        return None


def _png_exif(path: Path) -> bytes | None:
    """The bytes of a PNG's ``eXIf`` chunk, found by skipping from chunk to chunk."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(8)  # the signature
        while True:
            head = fh.read(8)
            if len(head) < 8:
                return None
            length, kind = int.from_bytes(head[:4], "big"), head[4:]
            if kind == b"IEND" or length > size:
                return None
            if kind == b"eXIf":
                return fh.read(length)
            fh.seek(length + 4, os.SEEK_CUR)  # the data and its CRC


def _read_with_pillow_limit(path: Path, *, checked: bool) -> np.ndarray:
    """Decode a PNG/JPEG; its size was checked against ours, so Pillow's is lifted."""
    import imageio.v3 as iio

    if not checked:
        return iio.imread(path)
    from PIL import Image

    # Pillow refuses images above 179 MP as possible "decompression bombs"; the header's
    # size was already checked against MAX_HR_PIXELS, so allow up to that.
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max(before or 0, MAX_HR_PIXELS)
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


def _palette_colours(indices: np.ndarray, colormap, path: Path,
                     notes: list[str]) -> np.ndarray:
    """``(H, W, 3)`` colours of a palette image: each index looked up in its colour map."""
    if colormap is None or np.ndim(colormap) != 2 or np.shape(colormap)[0] != 3:
        raise InputError(
            f"The photo {str(path)!r} is a palette (indexed-colour) image without a usable "
            "palette. Save it again as an RGB image (GIMP: Image > Mode > RGB; Photoshop: "
            "Image > Mode > RGB Color)."
        )
    cmap = np.asarray(colormap, dtype=np.uint16).T  # (entries, 3), 16 bits per colour
    if int(indices.max(initial=0)) >= cmap.shape[0]:
        raise damaged(path, ValueError("a pixel's palette index is beyond the palette"),
                      "PNG, JPEG or TIFF image")
    for step in (257, 256):  # 8-bit colours, as most writers store them
        if not np.any(cmap % step):
            cmap = (cmap // step).astype(np.uint8)
            break
    notes.append("the photo is a palette (indexed-colour) TIFF: its colours were looked up "
                 "in its palette")
    return cmap[indices]


def _read_tiff_photo(path: Path, notes: list[str]) -> tuple[np.ndarray, int | None]:
    """A TIFF photo as ``(H, W, C)`` and its orientation, after checking structure and size.

    A palette (indexed-colour) TIFF is turned into its colours, with a note.
    """
    from .tiff import tiff_layout

    with open_checked_tiff(path) as tif:  # structure and size checked as it opens
        try:
            desc = tiff_layout(tif, path)
        except InputError:  # not a stack of maps: read it as a photo
            desc = None
        page = tif.pages[0]
        check_photo_pixels(path, int(page.imagelength), int(page.imagewidth))
        if int(page.photometric) == 5:  # SEPARATED: inks
            raise _cmyk(path)
        planar_rgb = int(page.photometric) == 2 and int(page.planarconfig) == 2
        tag = page.tags.get("Orientation")
        orientation = int(tag.value) if tag is not None else None
        if desc and not desc.photo and desc.shape[0] > 1 and (desc.names or desc.info):
            names = desc.names or []
            raise InputError(
                f"{str(path)!r} holds {desc.shape[0]} element maps"
                + (f" ({', '.join(map(str, names[:4]))}...)" if names else "")
                + ", not a colour photo. Give it as the element maps, and the colour "
                "photo of the painting as the photo."
            )
        arr = tif.series[0].asarray()
        if int(page.photometric) == 3 and arr.ndim == 2:  # PALETTE: indices, not greys
            arr = _palette_colours(arr, page.colormap, path, notes)
    if planar_rgb and arr.ndim == 3 and arr.shape[0] in (3, 4):
        arr = np.moveaxis(arr, 0, -1)  # separate colour planes: (3, H, W) -> (H, W, 3)
    return arr, orientation
