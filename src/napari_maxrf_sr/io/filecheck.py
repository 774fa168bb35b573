"""Cheap checks of a file's structure, made before its data are read.

A truncated copy, or a header that lies about the image size, must give an
:class:`~napari_maxrf_sr.errors.InputError` that says so: not garbage,
not an exception from deep inside a decoder, and not an attempt to allocate what
the header claims. So the readers first compare what a header promises with the
bytes that are really in the file, and the number of values with what fits in
memory (:data:`~napari_maxrf_sr.core.validation.MAX_MAP_VALUES`), and only then
read.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np

from ..core import validation
from ..core.photo_pixels import MAX_HR_PIXELS
from ..errors import InputError

__all__ = [
    "check_npy_data",
    "check_photo_pixels",
    "check_tiff",
    "damaged",
    "image_pixels",
    "npy_header",
    "open_checked_tiff",
    "png_size",
    "truncated",
    "unreadable",
]

#: The fix offered for every damaged file.
_COPY_AGAIN = "Copy the file again from its source, or export it again."


def unreadable(path: str | Path, exc: OSError) -> InputError:
    """The error for a path that exists but cannot be opened (permissions, a folder...)."""
    if isinstance(exc, PermissionError):
        return InputError(
            f"Cannot read {str(path)!r}: permission denied. Check the file's permissions, "
            "or copy it to a folder you can read."
        )
    if isinstance(exc, IsADirectoryError):
        return InputError(f"{str(path)!r} is a folder, not a file: choose a file in it.")
    reason = exc.strerror or str(exc)
    return InputError(
        f"Cannot read {str(path)!r} ({reason}). Check that the path is right and the "
        "drive is connected."
    )


def damaged(path: str | Path, exc: BaseException, kind: str) -> InputError:
    """The error for a file that a decoder could not read."""
    if isinstance(exc, InputError):
        return exc
    if isinstance(exc, OSError) and not _decoder_error(exc):
        return unreadable(path, exc)
    detail = str(exc).strip() or type(exc).__name__
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return InputError(
        f"{str(path)!r} is damaged or truncated, or is not a {kind} file ({detail}). "
        f"{_COPY_AGAIN}"
    )


def _decoder_error(exc: OSError) -> bool:
    """Decoders (Pillow, tifffile) report broken data as OSError without an errno."""
    return exc.errno is None


def truncated(path: str | Path, what: str, need: int, have: int) -> InputError:
    """The error for a file that is shorter than its header says."""
    return InputError(
        f"{str(path)!r} is truncated: {what} needs {need:,} bytes, but the file holds only "
        f"{have:,}. {_COPY_AGAIN}"
    )


# --------------------------------------------------------------------------- TIFF

_NONE = 1  # TIFF compression tag value for uncompressed data
#: Most that a byte of data can expand to, by compression tag: deflate at most
#: 1032:1, LZW with 12-bit codes about 2700:1, PackBits 64:1 (with some slack).
#: A page that claims more pixels than its data can hold has a lying header.
_MAX_RATIO = {5: 3000, 8: 1100, 32946: 1100, 32773: 130}


def _ifd_chain(fh: IO[bytes], size: int, path: str | Path) -> int:
    """Walk a TIFF's chain of image directories; return how many there are.

    Every directory and the pointer to the next must lie inside the file: a copy
    cut short loses its last pages, which tifffile would otherwise skip silently.
    """
    head = fh.read(16)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None or len(head) < 8:
        raise InputError(f"{str(path)!r} is not a TIFF file (no TIFF header). {_COPY_AGAIN}")
    magic = struct.unpack(order + "H", head[2:4])[0]
    if magic == 42:
        count_fmt, entry_size, off_fmt = "H", 12, "I"
        offset = struct.unpack(order + "I", head[4:8])[0]
    elif magic == 43 and len(head) >= 16:  # BigTIFF
        count_fmt, entry_size, off_fmt = "Q", 20, "Q"
        offset = struct.unpack(order + "Q", head[8:16])[0]
    else:
        raise InputError(f"{str(path)!r} is not a TIFF file (no TIFF header). {_COPY_AGAIN}")
    count_size, off_size = struct.calcsize(count_fmt), struct.calcsize(off_fmt)
    seen: set[int] = set()
    while offset:
        if offset in seen:
            raise InputError(
                f"{str(path)!r} is damaged: its image directories form a loop. {_COPY_AGAIN}"
            )
        seen.add(offset)
        if offset + count_size > size:
            raise truncated(path, f"image directory {len(seen)}", offset + count_size, size)
        fh.seek(offset)
        n = struct.unpack(order + count_fmt, fh.read(count_size))[0]
        end = offset + count_size + n * entry_size + off_size
        if end > size:
            raise truncated(path, f"image directory {len(seen)}", end, size)
        fh.seek(end - off_size)
        offset = struct.unpack(order + off_fmt, fh.read(off_size))[0]
    if not seen:
        raise InputError(f"{str(path)!r} holds no images. {_COPY_AGAIN}")
    return len(seen)


def check_tiff(path: str | Path) -> None:
    """Check that every page's data lie inside the file (and, uncompressed, are complete).

    Readers that go on to read the file use :func:`open_checked_tiff` instead, which
    checks it as it opens it (one parse of its headers).

    Raises
    ------
    InputError
        For a file that is not a TIFF, is truncated, or whose header promises more
        data than the file holds.
    """
    open_checked_tiff(path).close()


def open_checked_tiff(path: str | Path):
    """The file as a ``tifffile.TiffFile`` (:func:`open_tiff`), checked as :func:`check_tiff`.

    The chain of image directories is walked first (a copy cut short must not lose its
    last pages in silence); then tifffile reads the headers, once, and every page's data
    are checked against the file's size. The caller closes the file
    (``with open_checked_tiff(path) as tif:``).

    Raises
    ------
    InputError
        As :func:`check_tiff`.
    """
    path = Path(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            _ifd_chain(fh, size, path)
        tif = open_tiff(path)
        try:
            for k, page in enumerate(tif.pages):
                _check_page(page, k, size, path)
        except BaseException:
            tif.close()
            raise
        return tif
    except (InputError, FileNotFoundError):
        raise
    except Exception as exc:  # OSError, or tifffile's own errors for broken tags
        raise damaged(path, exc, "TIFF") from exc


def _check_page(page, k: int, size: int, path: Path) -> None:
    offsets = tuple(int(o) for o in (page.dataoffsets or ()))
    counts = tuple(int(c) for c in (page.databytecounts or ()))
    for o, c in zip(offsets, counts, strict=False):
        if c and o + c > size:
            raise truncated(path, f"the data of page {k + 1}", o + c, size)
    bits = page.bitspersample
    if not (isinstance(bits, int) and bits % 8 == 0):
        return
    need = int(np.prod(page.shape, dtype=object)) * (bits // 8)
    compression = int(page.compression)
    ratio = 1 if compression == _NONE else _MAX_RATIO.get(compression)
    if ratio is not None and sum(counts) * ratio < need:
        packed = "" if ratio == 1 else " (compressed, which could expand at most "
        packed += "" if ratio == 1 else f"{ratio}-fold)"
        raise InputError(
            f"{str(path)!r} is damaged: page {k + 1} is {' x '.join(map(str, page.shape))} "
            f"pixels ({need:,} bytes), but its header points to only {sum(counts):,} "
            f"bytes of data{packed}. {_COPY_AGAIN}"
        )


# --------------------------------------------------------------------------- NumPy


class NpyHeader(NamedTuple):
    """What a ``.npy`` header says."""

    shape: tuple[int, ...]
    dtype: np.dtype
    #: Bytes of the header (the data follow).
    nbytes: int
    #: Whether the data are in column-major (Fortran) order.
    fortran: bool


def npy_header(fh: IO[bytes], source: str) -> NpyHeader:
    """Read a ``.npy`` header from ``fh``, leaving ``fh`` at the start of the data.

    Raises
    ------
    InputError
        When ``fh`` does not start with a readable ``.npy`` header.
    """
    fmt = np.lib.format
    start = fh.tell()
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fh)
        else:  # version 3.0 (UTF-8 field names): only the private reader handles it
            shape, fortran, dtype = fmt._read_array_header(fh, version)
    except Exception as exc:  # ValueError, EOFError, SyntaxError from a broken header
        raise InputError(
            f"{source} is not a readable NumPy .npy array: its header is damaged or cut "
            f"short ({exc}). Save the array again with numpy.save."
        ) from None
    return NpyHeader(tuple(int(n) for n in shape), np.dtype(dtype), fh.tell() - start,
                     bool(fortran))


def check_npy_data(
    shape: tuple[int, ...],
    dtype: np.dtype,
    data_bytes: int,
    source: str,
    *,
    numbers_only: bool = True,
) -> None:
    """Check a ``.npy`` header against the bytes that follow it and the memory limit."""
    if dtype.hasobject:
        raise InputError(
            f"{source} holds Python objects (a pickled array), which are not loaded for "
            "safety. Save the maps as a numeric array: np.save(path, maps.astype(np.float32))."
        )
    if numbers_only and not (dtype.kind in "biuf" and dtype.fields is None):
        raise InputError(
            f"{source} holds values of type {dtype}, not numbers. Save the maps as a numeric "
            "array: np.save(path, maps.astype(np.float32))."
        )
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize if shape else dtype.itemsize
    if need > data_bytes:
        raise InputError(
            f"{source} is truncated: its header describes a {' x '.join(map(str, shape))} "
            f"array of {dtype} ({need:,} bytes), but only {data_bytes:,} bytes follow. "
            f"{_COPY_AGAIN}"
        )
    if dtype.kind in "biuf":
        validation.check_map_size(shape, name=f"arrays in {source}")


# --------------------------------------------------------------------------- images


def png_size(path: str | Path) -> tuple[int, int] | None:
    """``(height, width)`` from a PNG's header, or ``None`` if it is not a PNG."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if len(head) < 24 or not head.startswith(b"\x89PNG\r\n\x1a\n") or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return height, width


def image_pixels(path: str | Path) -> tuple[int, int] | None:
    """``(height, width)`` of a PNG or JPEG from its header alone, or ``None``."""
    hw = png_size(path)
    if hw is not None:
        return hw
    try:
        from PIL import Image

        with Image.open(path) as im:  # reads the header only
            return im.size[1], im.size[0]
    except Exception:  # let the real reader say what is wrong
        return None


def check_photo_pixels(path: str | Path, height: int, width: int) -> None:
    """Refuse a photo larger than the core accepts, before decoding it."""
    n = height * width
    if n > MAX_HR_PIXELS:
        raise InputError(
            f"The photo {str(path)!r} is {width} x {height} px ({n / 1e6:.0f} megapixels), "
            f"more than are accepted ({MAX_HR_PIXELS / 1e6:.0f} MP). "
            "Work on a crop of the painting (crop the photo and the scan to the same area)."
        )


def open_tiff(path: str | Path):
    """A ``tifffile.TiffFile`` that reads this file only.

    An OME-TIFF can name other files that hold the rest of its images; tifffile would
    open them. Data outside the file the user opened are never read.
    """
    import tifffile

    return tifffile.TiffFile(path, _multifile=False)
